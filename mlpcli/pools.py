"""Helper processes that a Ctrl-C stops at once, cleanly and completely.

Ctrl-C in a terminal, and ``timeout -s INT`` or a CI runner, send SIGINT to the whole process
group: every worker gets it too. Workers here ignore it and the parent alone decides what to
cancel and what to keep; ``abort_pool`` then stops a process pool's workers without waiting for
their work, and without the pool waiting forever on a worker stopped in the middle of a reply.
"""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager


@contextmanager
def sigint_ignored():
    """Ignore SIGINT while the block runs (main thread only). Processes started meanwhile inherit
    the disposition (exec resets a handler but keeps an ignored signal), so they never see the
    group's Ctrl-C, even before their own set-up runs. A Ctrl-C during the block is lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def sigint_blocked():
    """Block SIGINT in this thread while the block runs; a Ctrl-C meanwhile is not lost (another
    thread, or this one as the block ends, takes it). Processes forked meanwhile start with it
    blocked, so until ``ignore_sigint`` runs in them they cannot die of the group's Ctrl-C
    (a spawned process starts with nothing blocked: use ``sigint_ignored`` for those)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_sigint() -> None:
    """A pool initializer: this worker leaves Ctrl-C to its parent (and, forked inside
    ``sigint_blocked``, no longer needs it blocked)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def abort_pool(pool: ProcessPoolExecutor, wait_seconds: float = 10.0) -> None:
    """Stop ``pool``'s workers now (their work is lost), fail its outstanding futures, shut it down.
    A second Ctrl-C meanwhile is ignored: cut short, this would leave workers running."""
    with sigint_ignored():
        _terminate_workers(pool)
        _end_result_pipe(pool)
        manager = getattr(pool, "_executor_manager_thread", None)
        if manager is not None:
            manager.join(timeout=wait_seconds)  # it has failed the outstanding futures
        pool.shutdown(wait=manager is None or not manager.is_alive(), cancel_futures=True)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    for process in processes:  # reap them: a stopped worker must not linger as a zombie process
        process.join(timeout=5)


def _end_result_pipe(pool: ProcessPoolExecutor) -> None:
    """Close this process's end of the pool's result pipe once the workers are gone. A worker
    stopped while sending a result (a unit's weights take many writes) leaves half a message, and
    the pool's manager thread would wait for the rest forever (and this process with it, at exit):
    with no writer left it reads end-of-file, fails the outstanding futures and ends."""
    queue = getattr(pool, "_result_queue", None)
    writer = getattr(queue, "_writer", None)
    if writer is not None:
        writer.close()
