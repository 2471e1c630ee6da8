"""``--jobs N``: units in N spawned local processes, each with ``UNIT_THREADS`` BLAS threads."""

from __future__ import annotations

import logging
import signal
import tempfile
from concurrent import futures as cf
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..pools import abort_pool
from ..threads import UNIT_THREADS, thread_limit
from .executor import Executor
from .runtime import Mapped, run_unit


class LocalExecutor(Executor):
    """Units in ``jobs`` spawned processes, each with ``UNIT_THREADS`` BLAS threads; workers log
    at this process's ``mlpcli`` log level."""

    def __init__(self, jobs: int) -> None:
        super().__init__()
        if jobs < 1:
            raise ConfigError(f"--jobs: must be an integer >= 1; got {jobs}")
        self.name = f"{jobs} local process{'es' if jobs > 1 else ''}"
        self._threads = UNIT_THREADS
        self._scratch = tempfile.TemporaryDirectory(prefix="mlpcli-units-")
        self._n_shared = 0
        level = logging.getLogger("mlpcli").getEffectiveLevel()
        self._pool = cf.ProcessPoolExecutor(
            jobs, mp_context=get_context("spawn"), initializer=_init_local_worker, initargs=(level,)
        )

    def share(self, array: np.ndarray) -> Mapped:
        self._n_shared += 1
        path = Path(self._scratch.name) / f"shared_{self._n_shared}.npy"
        np.save(path, np.ascontiguousarray(array))
        return Mapped(str(path))

    def _submit(self, fn, args, key, checkpoint):
        # The pool spawns workers during submit, and they read the thread limits at start-up.
        with thread_limit(self._threads):
            return self._pool.submit(run_unit, fn, *args)

    def as_completed(self, futures):
        return cf.as_completed(futures)

    def cancel(self, futures) -> None:
        for future in futures:
            future.cancel()  # only units still waiting; close(abort=True) stops running ones

    # Python < 3.12's pool fails every outstanding future when its workers are terminated, and
    # crashes its manager thread (a traceback on stderr) on one that was cancelled: on abort,
    # let it fail them all (BrokenProcessPool) rather than cancel first.
    _cancel_on_abort = False

    def close(self, abort: bool = False) -> None:
        if abort:
            abort_pool(self._pool)
        else:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._scratch.cleanup()


def _init_local_worker(level: int) -> None:
    # Ctrl-C reaches the whole process group: the parent decides what to cancel, workers carry on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logger = logging.getLogger("mlpcli")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
