"""Graceful stop on Ctrl-C (SIGINT) or SIGTERM: finish the minibatch, checkpoint, exit 130.

The first signal only sets a flag that the training loop checks after every minibatch; a second
Ctrl-C interrupts at once, for when the user really wants out.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class StopFlag:
    """Set by a signal (or by a parent process through ``event``); checked by the training loop."""

    def __init__(self, event=None) -> None:
        self._event = event if event is not None else threading.Event()
        self.signal_name: str | None = None

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self, signal_name: str = "stop") -> None:
        self.signal_name = signal_name
        self._event.set()


@contextmanager
def graceful_stop(event=None):
    """Yield a StopFlag that SIGINT and SIGTERM set while the block runs (main thread only)."""
    flag = StopFlag(event)
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handle(signum, frame):
        if flag.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def sigterm_as_interrupt():
    """SIGTERM raises KeyboardInterrupt in the block (main thread only), so a client waiting on
    workers cancels them and keeps what finished, as on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
