"""Units in this process (``--jobs 1``, no cluster): one at a time, with checkpoints.

The one in-process path of k-fold and search: a unit submitted with a ``checkpoint`` file
continues from it, and Ctrl-C or SIGTERM stops it after the current minibatch, saves the
checkpoint and raises ``Interrupted`` (``train.stop.graceful_stop``; a second Ctrl-C stops at
once). Resubmitting the unit continues where it stopped, with the same bytes as a run that never
stopped. No start-up cost, and the data is not copied: shared arrays are read-only views.
"""

from __future__ import annotations

from concurrent import futures as cf
from contextlib import ExitStack, nullcontext
from typing import Any

import numpy as np

from ..train.stop import StopFlag, graceful_stop
from .executor import Executor
from .runtime import run_unit


class InlineExecutor(Executor):
    """Each unit runs when it is first awaited (``as_completed`` yields them in submission order);
    inside ``with``, SIGINT and SIGTERM set ``stop``, which a unit with a checkpoint checks."""

    name = "this process"

    def __init__(self) -> None:
        super().__init__()
        self._signals = ExitStack()
        self.stop = StopFlag()

    def __enter__(self):
        self.stop = self._signals.enter_context(graceful_stop())
        return self

    def share(self, array: np.ndarray) -> np.ndarray:
        view = array.view()
        view.flags.writeable = False
        return view

    def _submit(self, fn, args, key, checkpoint):
        # Views: run_unit freezes array arguments, and these are the caller's own arrays.
        args = [arg.view() if isinstance(arg, np.ndarray) else arg for arg in args]
        if checkpoint is None:
            return _InlineFuture(fn, args, {})
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        return _InlineFuture(fn, args, {"checkpoint": checkpoint, "stop": self.stop})

    def interrupts(self):
        return nullcontext()  # graceful_stop already handles SIGTERM: the unit checkpoints

    def as_completed(self, futures):
        for future in list(futures):
            future.run()
            yield future

    def cancel(self, futures) -> None:
        for future in futures:
            future.cancel()

    def close(self, abort: bool = False) -> None:
        self._signals.close()


class _InlineFuture(cf.Future):
    def __init__(self, fn, args, kwargs) -> None:
        super().__init__()
        self._call: tuple[Any, tuple, dict] | None = (fn, args, kwargs)  # None once taken to run

    def run(self) -> None:
        if self._call is None or not self.set_running_or_notify_cancel():
            return
        (fn, args, kwargs), self._call = self._call, None
        try:
            self.set_result(run_unit(fn, *args, **kwargs))
        except Exception as exc:  # a unit's error (Interrupted included) is its result; Ctrl-C is not
            self.set_exception(exc)

    def result(self, timeout=None):
        self.run()
        return super().result(timeout)

    def exception(self, timeout=None):
        self.run()
        return super().exception(timeout)
