"""Run units of work on local processes or on a Dask cluster, behind one futures interface.

A unit is a module-level function of plain arguments (a pure function: the same inputs give the
same bytes, whoever runs it). ``open_executor(jobs=N)`` runs units in N spawned processes;
``open_executor(cluster="tcp://host:8786")`` sends them to a running ``dask scheduler``, and
``cluster="local:N"`` starts a Dask cluster of N single-threaded worker processes on 127.0.0.1.
Either way::

    with open_executor(jobs=2) as executor:
        X = executor.share(features)                  # sent to each worker once
        futures = [executor.submit(unit, X, rows, seed) for rows, seed in work]
        for future in executor.as_completed(futures):
            done = future.result()                    # a UnitResult: value, worker, seconds

Workers receive shared arrays and all other ndarray arguments read-only, on every backend, so a
unit that tries to modify its inputs fails the same way everywhere instead of corrupting the copy
that later units on that worker see. Every unit runs with ``threads.UNIT_THREADS`` BLAS threads,
so its bytes do not depend on the backend. Leaving the ``with`` block by an exception (Ctrl-C
included) cancels every unit not finished yet. ``choose_executor`` adds the in-process backend
that ``--jobs 1`` uses. Dask is optional (``pip install 'mlpcli[cluster]'``) and only
imported when a cluster is asked for.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import tempfile
import time
import weakref
from concurrent import futures as cf
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, MlpcliError
from ..threads import UNIT_THREADS, thread_limit, unit_threads

INSTALL_HINT = "pip install 'mlpcli[cluster]'"


class ClusterError(MlpcliError):
    """The Dask cluster cannot be used (not installed, unreachable); exit code 1."""


class WorkerLost(MlpcliError):
    """A local worker process died (killed, out of memory); exit code 1. Dask reruns such units
    itself; a local pool cannot."""


def unit_result(future) -> "UnitResult":
    """``future.result()``, with a dead local worker reported as ``WorkerLost`` (what to do next)."""
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise WorkerLost(f"a local worker process died while training ({exc}); the finished units are "
                         f"saved: resume the run (--resume), with fewer --jobs if memory ran out") from None


@dataclass(frozen=True)
class UnitResult:
    """What a unit returned, which worker ran it, and its wall time there (excluding transfers);
    ``started``/``finished`` are the worker's clock (``time.time()``) around the call."""

    value: Any
    worker: str
    seconds: float
    started: float = 0.0
    finished: float = 0.0


@dataclass(frozen=True)
class Mapped:
    """A shared array as a path: local workers memory-map it instead of unpickling a copy per unit."""

    path: str


def choose_executor(jobs: int | None = None, cluster: str | None = None, timeout: float = 10.0) -> "Executor":
    """What ``--jobs``/``--cluster`` ask for: no cluster and at most one job runs the units here, in
    this process (no start-up cost, and Ctrl-C stops the unit at once); otherwise ``open_executor``."""
    if cluster is None and (jobs is None or jobs == 1):
        return InlineExecutor()
    return open_executor(jobs, cluster, timeout)


def open_executor(jobs: int | None = None, cluster: str | None = None, timeout: float = 10.0,
                  retries: int = 0, dashboard: bool = True) -> "Executor":
    """``jobs`` local processes, or the Dask cluster at ``cluster`` (``tcp://HOST:PORT`` or ``local:N``).

    Connecting gives up after ``timeout`` seconds with a ``ClusterError`` naming the address and why.
    ``retries`` reruns a unit that raised; a unit whose worker died is rerun anyway (see DaskExecutor).
    ``dashboard``: ``local:N`` serves Dask's dashboard on 127.0.0.1:8787 if bokeh is installed.
    """
    if cluster is None:
        return LocalExecutor(1 if jobs is None else jobs)
    if jobs is not None:
        raise ConfigError("--jobs and --cluster: choose one; --cluster local:N runs N local Dask workers")
    if cluster.startswith("local:"):
        n = cluster.partition(":")[2]
        if not n.isdigit() or int(n) < 1:
            raise ConfigError(f"--cluster: must be tcp://HOST:PORT or local:N with N >= 1; got {cluster!r}")
        return DaskExecutor.start_local(int(n), retries, dashboard)
    if not cluster.startswith("tcp://"):
        raise ConfigError(f"--cluster: must be tcp://HOST:PORT (a running `dask scheduler`) or local:N; "
                          f"got {cluster!r}")
    return DaskExecutor.connect(cluster, timeout, retries)


class Executor:
    """The interface both backends share; futures are ``concurrent.futures``-style."""

    name = "executor"

    def __init__(self) -> None:
        # Weak: a held Dask future keeps its result in cluster memory, and this is only for cancelling.
        self._submitted = weakref.WeakSet()

    def share(self, array: np.ndarray):
        """A handle to pass to ``submit`` as a direct argument in place of ``array`` (not inside a
        list or dict); the unit receives the array itself, read-only."""
        raise NotImplementedError

    def submit(self, fn, *args, key: str | None = None):
        """Run ``fn(*args)`` on a worker; the future's result is a ``UnitResult``. ``key`` names
        the unit (Dask reuses a finished unit of the same key); by default every submit is new."""
        future = self._submit(fn, args, key)
        self._submitted.add(future)
        return future

    def _submit(self, fn, args, key):
        raise NotImplementedError

    def as_completed(self, futures):
        raise NotImplementedError

    def cancel(self, futures) -> None:
        raise NotImplementedError

    def close(self, abort: bool = False) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        aborted = exc_type is not None
        try:
            if aborted and self._cancel_on_abort:
                self.cancel([f for f in self._submitted if not f.done()])
        finally:
            self.close(abort=aborted)

    #: Cancel the outstanding futures before ``close(abort=True)``; local processes fail them instead.
    _cancel_on_abort = True


class InlineExecutor(Executor):
    """Units in this process, one at a time, each run when it is first awaited (``as_completed``
    yields them in submission order). Ctrl-C interrupts the running unit; nothing else is running."""

    name = "this process"

    def share(self, array: np.ndarray) -> np.ndarray:
        view = array.view()
        view.flags.writeable = False
        return view

    def _submit(self, fn, args, key):
        # Views: run_unit freezes array arguments, and these are the caller's own arrays.
        return _InlineFuture(fn, [arg.view() if isinstance(arg, np.ndarray) else arg for arg in args])

    def as_completed(self, futures):
        for future in list(futures):
            future.run()
            yield future

    def cancel(self, futures) -> None:
        for future in futures:
            future.cancel()

    def close(self, abort: bool = False) -> None:
        pass


class _InlineFuture(cf.Future):
    def __init__(self, fn, args) -> None:
        super().__init__()
        self._call = (fn, args)

    def run(self) -> None:
        if self._call is None or not self.set_running_or_notify_cancel():
            return
        (fn, args), self._call = self._call, None
        try:
            self.set_result(run_unit(fn, *args))
        except Exception as exc:  # a unit's error is its result; Ctrl-C is not
            self.set_exception(exc)

    def result(self, timeout=None):
        self.run()
        return super().result(timeout)

    def exception(self, timeout=None):
        self.run()
        return super().exception(timeout)


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
        self._pool = cf.ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_init_local_worker,
                                            initargs=(level,))

    def share(self, array: np.ndarray) -> Mapped:
        self._n_shared += 1
        path = Path(self._scratch.name) / f"shared_{self._n_shared}.npy"
        np.save(path, np.ascontiguousarray(array))
        return Mapped(str(path))

    def _submit(self, fn, args, key):
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
            _terminate_workers(self._pool)
            manager = getattr(self._pool, "_executor_manager_thread", None)
            if manager is not None:
                manager.join(timeout=10)  # it has failed the outstanding futures
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


def _terminate_workers(pool: cf.ProcessPoolExecutor) -> None:
    """Stop running units now (their results are lost; units are pure, so a rerun gives them back)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    for process in processes:  # reap them: a stopped unit must not linger as a zombie process
        process.join(timeout=5)


class DaskExecutor(Executor):
    """Units on a Dask cluster through a ``distributed.Client``.

    A worker that dies mid-unit is not a unit failure for Dask: the scheduler reruns the unit on
    another worker (up to ``distributed.scheduler.allowed-failures`` deaths per unit, default 3).
    ``retries`` is for units that raised.
    """

    def __init__(self, client, cluster=None, retries: int = 0, name: str = "dask") -> None:
        super().__init__()
        self.client, self._cluster, self._retries, self.name = client, cluster, retries, name

    @classmethod
    def connect(cls, address: str, timeout: float, retries: int = 0) -> "DaskExecutor":
        distributed = import_distributed()
        _probe(address, timeout)
        try:
            _handshake(address, timeout)
            client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            reason = f" ({exc})" if str(exc) else ""
            raise ClusterError(f"--cluster {address}: no Dask scheduler answered within {timeout:g} s{reason}; "
                               f"check that `dask scheduler` runs there, or raise the timeout") from None
        return cls(client, None, retries, f"dask {address}")

    @classmethod
    def start_local(cls, n_workers: int, retries: int = 0, dashboard: bool = True) -> "DaskExecutor":
        distributed = import_distributed()
        # Workers are spawned in the constructor; Dask's nanny also pins their BLAS to one thread.
        with thread_limit(UNIT_THREADS):
            cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", scheduler_kwargs=_http_options(dashboard))
        client = distributed.Client(cluster, set_as_default=False)
        return cls(client, cluster, retries, f"dask local:{n_workers} ({cluster.scheduler_address})")

    def share(self, array: np.ndarray):
        # One copy per worker, fetched by workers that join later from a peer that has it.
        return self.client.scatter(array, broadcast=True)

    def _submit(self, fn, args, key):
        names = {"pure": False} if key is None else {"key": key}
        return self.client.submit(run_unit, fn, *args, retries=self._retries, **names)

    def as_completed(self, futures):
        from distributed import as_completed

        return as_completed(futures, loop=self.client.loop)  # not the default client: there may be none

    def cancel(self, futures) -> None:
        if futures:
            self.client.cancel(futures)

    def close(self, abort: bool = False) -> None:
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def import_distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"--cluster needs Dask distributed, which is not installed: {INSTALL_HINT}") from None
    return distributed


def _probe(address: str, timeout: float) -> None:
    """Open a plain TCP connection first: Dask's own connect retries until the timeout and then
    says only "timed out", while the socket error says why (refused, unknown host, unreachable)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        host, port = parse_host_port(parse_address(address)[1])
    except ValueError as exc:
        raise ConfigError(f"--cluster: must be tcp://HOST:PORT; got {address!r} ({exc})") from None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ClusterError(f"--cluster {address}: cannot connect: {reason}; check the address and that "
                           f"`dask scheduler` runs there and accepts connections") from None


def _handshake(address: str, timeout: float) -> None:
    """Dask's own handshake, bounded: ``Client(timeout=...)`` bounds the TCP connect, but then
    waits forever for a peer that accepts connections and never answers (a port that is not a
    Dask scheduler). Raises ``TimeoutError`` or ``OSError``."""
    import asyncio

    from distributed.comm import connect

    async def attempt():
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        await comm.close()

    asyncio.run(attempt())


def _http_options(dashboard: bool) -> dict:
    """The scheduler always serves HTTP (health, metrics); keep it on the loopback interface, with
    the dashboard on 8787 (or the next free port) when asked for and bokeh, which draws it, is there."""
    from importlib.util import find_spec

    if dashboard and find_spec("bokeh") is not None:
        return {"dashboard": True, "dashboard_address": "127.0.0.1:8787"}
    return {"dashboard": False, "dashboard_address": "127.0.0.1:0"}


_MAPPED: dict[str, np.ndarray] = {}


def run_unit(fn, *args) -> UnitResult:
    """On the worker: resolve shared arrays, freeze array arguments, run ``fn`` and time it."""
    resolved = [_resolve(arg) for arg in args]
    started, start = time.time(), time.perf_counter()
    with unit_threads():
        value = fn(*resolved)
    return UnitResult(value, _worker_name(), time.perf_counter() - start, started, time.time())


def _resolve(arg):
    if isinstance(arg, Mapped):
        if arg.path not in _MAPPED:  # map each shared file once per worker process
            _MAPPED[arg.path] = np.load(arg.path, mmap_mode="r")
        return _MAPPED[arg.path]
    if isinstance(arg, np.ndarray):
        arg = _aligned(arg)
        arg.flags.writeable = False
    return arg


_ALIGNED: dict[int, tuple] = {}


def _aligned(array: np.ndarray) -> np.ndarray:
    """``array``, or once per worker an aligned contiguous copy of it: Dask can deliver a scattered
    array at an odd address, and NumPy's unaligned paths made units about 3x slower (measured)."""
    if array.flags.aligned and array.flags.c_contiguous:
        return array
    hit = _ALIGNED.get(id(array))
    if hit is not None and hit[0]() is array:
        return hit[1]
    for key in [key for key, (ref, _) in _ALIGNED.items() if ref() is None]:
        del _ALIGNED[key]  # the worker let go of that array: drop its copy too
    copy = np.array(array, order="C", copy=True)
    _ALIGNED[id(array)] = (weakref.ref(array), copy)
    return copy


def _worker_name() -> str:
    if "distributed" in sys.modules:  # never import it here: local workers would pay for it
        try:
            return sys.modules["distributed"].get_worker().address
        except ValueError:  # not inside a Dask worker
            pass
    return f"{socket.gethostname()}:{os.getpid()}"
