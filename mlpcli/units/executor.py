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
that later units on that worker see (``runtime.run_unit``). Every unit runs with
``threads.UNIT_THREADS`` BLAS threads, so its bytes do not depend on the backend. Leaving the
``with`` block by an exception (Ctrl-C included) cancels every unit not finished yet.
``choose_executor`` adds the in-process backend that ``--jobs 1`` uses. Dask is optional
(``pip install 'mlpcli[cluster]'``) and only imported when a cluster is asked for. ``inline`` is the in-process backend.
"""

from __future__ import annotations

import weakref
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MlpcliError
from ..train.stop import sigterm_as_interrupt
from .placement import DEFAULT_TIMEOUT, Placement
from .runtime import UnitResult

INSTALL_HINT = "pip install 'mlpcli[cluster]'"


class ClusterError(MlpcliError):
    """The Dask cluster cannot be used (not installed, unreachable); exit code 1."""


class WorkerLost(MlpcliError):
    """A local worker process died (killed, out of memory); exit code 1. Dask reruns such units
    itself; a local pool cannot."""


def unit_result(future) -> UnitResult:
    """``future.result()``, with a dead local worker reported as ``WorkerLost`` (what to do next)."""
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise WorkerLost(
            f"a local worker process died while training ({exc}); the finished units are "
            f"saved: resume the run (--resume), with fewer --jobs if memory ran out"
        ) from None


def choose_executor(placement: Placement = Placement()) -> Executor:
    """What ``--jobs``/``--cluster`` ask for: no cluster and at most one job runs the units here, in
    this process (no start-up cost, and Ctrl-C stops the unit at once); otherwise ``open_executor``."""
    from .inline import InlineExecutor

    if placement.here:
        return InlineExecutor()
    return open_executor(placement.jobs, placement.cluster, placement.timeout)


def open_executor(
    jobs: int | None = None,
    cluster: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = 0,
    dashboard: bool = True,
) -> Executor:
    """``jobs`` local processes, or the Dask cluster at ``cluster`` (``tcp://HOST:PORT`` or ``local:N``).

    Connecting gives up after ``timeout`` seconds with a ``ClusterError`` naming the address and why.
    ``retries`` reruns a unit that raised; a unit whose worker died is rerun anyway (see DaskExecutor).
    ``dashboard``: ``local:N`` serves Dask's dashboard on 127.0.0.1:8787 if bokeh is installed.
    """
    from .cluster import DaskExecutor
    from .local import LocalExecutor

    if cluster is None:
        return LocalExecutor(1 if jobs is None else jobs)
    if jobs is not None:
        raise ConfigError("--jobs and --cluster: choose one; --cluster local:N runs N local Dask workers")
    n_local = check_address(cluster)
    if n_local is not None:
        return DaskExecutor.start_local(n_local, retries, dashboard)
    return DaskExecutor.connect(cluster, timeout, retries)


def check_address(cluster: str) -> int | None:
    """N of ``local:N``, or None for ``tcp://HOST:PORT``; a ``ConfigError`` (exit 2) for anything else."""
    if cluster.startswith("local:"):
        n = cluster.partition(":")[2]
        if not n.isdigit() or int(n) < 1:
            raise ConfigError(f"--cluster: must be tcp://HOST:PORT or local:N with N >= 1; got {cluster!r}")
        return int(n)
    if not cluster.startswith("tcp://"):
        raise ConfigError(
            f"--cluster: must be tcp://HOST:PORT (a running `dask scheduler`) or local:N; got {cluster!r}"
        )
    return None


@contextmanager
def command_cluster(placement: Placement):
    """The Dask executor of ``placement.cluster``, opened now (a wrong address fails before any
    work) and closed when the block ends, so a command opens its cluster once; None without one."""
    if placement.cluster is None:
        yield None
        return
    with open_executor(cluster=placement.cluster, timeout=placement.timeout) as executor:
        yield executor


class Executor:
    """The interface both backends share; futures are ``concurrent.futures``-style."""

    name = "executor"

    def __init__(self) -> None:
        # Weak: a held Dask future keeps its result in cluster memory, and this is only for cancelling.
        self._submitted: weakref.WeakSet = weakref.WeakSet()

    def share(self, array: np.ndarray):
        """A handle to pass to ``submit`` as a direct argument in place of ``array`` (not inside a
        list or dict); the unit receives the array itself, read-only."""
        raise NotImplementedError

    def submit(self, fn, *args, key: str | None = None, checkpoint: Path | None = None):
        """Run ``fn(*args)`` on a worker; the future's result is a ``UnitResult``. ``key`` names
        the unit (Dask reuses a finished unit of the same key); by default every submit is new.
        ``checkpoint``: where a unit run in this process keeps its progress (``InlineExecutor``);
        worker processes rerun a stopped unit from the start, so the others ignore it."""
        future = self._submit(fn, args, key, checkpoint)
        self._submitted.add(future)
        return future

    def _submit(self, fn, args, key, checkpoint):
        raise NotImplementedError

    def interrupts(self):
        """The block the client waits in: SIGTERM stops the wait as Ctrl-C does (``KeyboardInterrupt``),
        so the outstanding units are cancelled and the finished ones kept."""
        return sigterm_as_interrupt()

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
