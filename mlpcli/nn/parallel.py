"""One small persistent thread pool for the element-wise passes between the matrix products.

BLAS runs the products on every core; the passes between them (optimizer updates, im2col copies,
padding, pooling, the batch gather) are plain NumPy, which runs on one. NumPy releases the GIL
inside a ufunc or copy over a large array, so threads running disjoint ranges of one pass
really do run side by side.

``run(fn, n_chunks)`` calls ``fn(i)`` for every chunk index; the calling thread works too and
takes chunks from the same counter as the pool's threads. Whoever is free takes the next chunk,
so on a loaded machine a thread the OS has not scheduled yet delays nobody: the caller does the
chunks itself and waits only for chunks already started. Only element-wise work is split, each
chunk writing its own part of the output, so the bytes never depend on the thread count or on
which thread ran which chunk. A reduction split this way must combine per-chunk results in chunk
order, with chunk boundaries that do not depend on the thread count (``ranges`` gives such).

Size: ``mlpcli.threads.threads()`` (the BLAS limit ``--threads`` / ``MLPCLI_THREADS`` set, and
k-fold and search workers get ``UNIT_THREADS``, else the usable cores); ``set_threads`` overrides it. BLAS and the
pool never run at once (the pool runs between products), so together they never use more than
that many cores. Threads start on first use, are daemons, and are stopped at exit and dropped in
a forked child (which did not inherit them).
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
from collections.abc import Callable

import numpy as np

from .. import threads as thread_counts

#: Elements (array values) below which a pass runs inline: waking a thread and handing it a
#: chunk costs tens of microseconds, about what one core needs for this many float32 values.
MIN_ELEMENTS = 1 << 18
#: Elements per chunk at least, so each chunk pays for taking it from the counter.
MIN_CHUNK = 1 << 15

_lock = threading.Lock()
_pool: _Pool | None = None
_threads: int | None = None  # set_threads' value; None: from the environment


def threads() -> int:
    """How many threads (the caller included) run a pass."""
    return _threads if _threads is not None else thread_counts.threads()


def set_threads(count: int | None) -> None:
    """Use ``count`` threads from now on (None: back to the environment's limit); 1 runs every
    pass inline. Stops the current pool; the next pass starts one of the new size."""
    global _threads
    if count is not None and int(count) < 1:
        raise ValueError(f"threads must be >= 1, got {count}")
    with _lock:
        _threads = None if count is None else int(count)
    shutdown()


def run(fn: Callable[[int], None], n_chunks: int) -> None:
    """``fn(0)``, ..., ``fn(n_chunks - 1)``, on the pool's threads and this one, in any order
    and side by side; returns when all are done and re-raises the first exception raised."""
    if n_chunks <= 1 or threads() <= 1:
        for index in range(n_chunks):
            fn(index)
        return
    _get_pool().run(fn, n_chunks)


def n_chunks(elements: int, parts: int | None = None) -> int:
    """How many chunks a pass over ``elements`` values is worth: 1 (inline) below
    MIN_ELEMENTS, else up to ``parts`` (default: 4 per thread) of at least MIN_CHUNK."""
    if elements < MIN_ELEMENTS or threads() <= 1:
        return 1
    parts = 4 * threads() if parts is None else parts
    return max(1, min(parts, elements // MIN_CHUNK))


def ranges(n: int, chunks: int) -> list[tuple[int, int]]:
    """``chunks`` consecutive (start, stop) ranges covering ``range(n)``, sizes differing by at most 1."""
    chunks = max(1, min(chunks, n))
    bounds = [n * index // chunks for index in range(chunks + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def for_rows(fn: Callable[[int, int], None], n_rows: int, elements: int) -> None:
    """``fn(start, stop)`` over consecutive row ranges covering ``range(n_rows)``, side by side
    when the pass (over ``elements`` values in all) is large enough to pay for it."""
    parts = ranges(n_rows, n_chunks(elements))
    run(lambda index: fn(*parts[index]), len(parts))


class Scratch:
    """Buffers reused for the temporaries of chunked passes (an optimizer's ``lr * v``, batch
    norm's centred rows), one set per thread, so the chunks of one pass can run side by side."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[np.dtype, int, int], np.ndarray] = {}

    def like(self, block: np.ndarray, slot: int = 0) -> np.ndarray:
        """An uninitialized array of ``block``'s shape and dtype, valid until the next call for
        the same ``slot`` in the same thread; different slots or threads never share memory."""
        key = (block.dtype, slot, threading.get_ident())
        buffer = self._buffers.get(key)
        if buffer is None or buffer.size < block.size:
            buffer = self._buffers[key] = np.empty(block.size, block.dtype)
        return buffer[: block.size].reshape(block.shape)


def shutdown() -> None:
    """Stop the pool's threads (a later pass starts new ones). Called at exit."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.stop()


def _get_pool() -> _Pool:
    global _pool
    with _lock:
        if _pool is None or _pool.size != threads():
            if _pool is not None:
                _pool.stop()
            _pool = _Pool(threads())
        return _pool


def _forget_in_child() -> None:
    """After fork the child has the pool object but none of its threads: start afresh."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


class _Job:
    """One pass: chunk indices handed out in order under a lock, a count of chunks running."""

    def __init__(self, fn: Callable[[int], None], n_chunks: int) -> None:
        self.fn, self.n_chunks = fn, n_chunks
        self.taken = self.running = self.finished = 0
        self.lock = threading.Lock()
        self.done = threading.Event()  # set when no chunk runs and none will start
        self.error: BaseException | None = None
        self.cancelled = False

    def work(self) -> None:
        """Run chunks until none is left to take (or the pass is cancelled)."""
        while True:
            with self.lock:
                if self.cancelled or self.taken >= self.n_chunks:
                    return
                index, self.taken, self.running = self.taken, self.taken + 1, self.running + 1
            try:
                self.fn(index)
            except BaseException as exc:  # handed to the caller, which re-raises it
                with self.lock:
                    self.error, self.cancelled = self.error or exc, True
            with self.lock:
                self.running -= 1
                self.finished += 1
                if self.running == 0 and (self.cancelled or self.finished == self.n_chunks):
                    self.done.set()

    def cancel(self) -> None:
        """Let no thread start another chunk."""
        with self.lock:
            self.cancelled = True


class _Pool:
    def __init__(self, size: int) -> None:
        self.size = size
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._workers = [
            threading.Thread(target=self._serve, name=f"mlpcli-pass-{index}", daemon=True) for index in range(size - 1)
        ]
        for worker in self._workers:
            worker.start()

    def run(self, fn: Callable[[int], None], n_chunks: int) -> None:
        job = _Job(fn, n_chunks)
        for _ in range(min(len(self._workers), n_chunks - 1)):
            self._tasks.put(job)
        try:
            job.work()
            job.done.wait()
        except BaseException:  # e.g. KeyboardInterrupt in this thread: hand out no more chunks
            job.cancel()
            raise
        if job.error is not None:
            raise job.error

    def _serve(self) -> None:
        while True:
            job = self._tasks.get()
            if job is None:
                return
            job.work()

    def stop(self) -> None:
        for _ in self._workers:
            self._tasks.put(None)
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join(timeout=5)


atexit.register(shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
