"""``--cluster``: units on a running Dask scheduler (``tcp://HOST:PORT``) or a local Dask cluster
(``local:N``); Dask is imported only here, when a cluster is asked for."""

from __future__ import annotations

import logging
import socket

import numpy as np

from ..errors import ConfigError
from ..pools import sigint_ignored
from ..progress import log
from ..threads import UNIT_THREADS, thread_limit
from .executor import INSTALL_HINT, ClusterError, Executor
from .runtime import run_unit

#: Times a unit is sent again after a shared array it needs was lost with the workers holding it.
LOST_INPUT_RESENDS = 3


class DaskExecutor(Executor):
    """Units on a Dask cluster through a ``distributed.Client``.

    A worker that dies mid-unit is not a unit failure for Dask: the scheduler reruns the unit on
    another worker (up to ``distributed.scheduler.allowed-failures`` deaths per unit, default 3).
    A shared array that dies with the last worker holding it is not rerun: see ``ClusterUnit``.
    ``retries`` is for units that raised.
    """

    def __init__(self, client, cluster=None, retries: int = 0, name: str = "dask") -> None:
        super().__init__()
        self.client, self._cluster, self._retries, self.name = client, cluster, retries, name
        # Each shared array by its first future's key, and the future that now holds it.
        self._arrays: dict = {}
        self._holders: dict = {}
        self._cancelling = False

    @classmethod
    def connect(cls, address: str, timeout: float, retries: int = 0) -> DaskExecutor:
        distributed = import_distributed()
        _probe(address, timeout)
        try:
            _handshake(address, timeout)
            client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            reason = f" ({exc})" if str(exc) else ""
            raise ClusterError(
                f"--cluster {address}: no Dask scheduler answered within {timeout:g} s{reason}; "
                f"check that `dask scheduler` runs there, or raise the timeout"
            ) from None
        _wait_for_a_worker(client, address, timeout)
        return cls(client, None, retries, f"dask {address}")

    @classmethod
    def start_local(cls, n_workers: int, retries: int = 0, dashboard: bool = True) -> DaskExecutor:
        distributed = import_distributed()
        # Workers are spawned in the constructor; Dask's nanny also pins their BLAS to one thread.
        # They ignore Ctrl-C, which reaches the whole process group: the client cancels and closes.
        # Their logs stay quiet: what goes wrong reaches the client (a unit's error, a lost worker),
        # and stopping them mid-unit would print cancellation notes and tracebacks.
        with thread_limit(UNIT_THREADS), sigint_ignored():
            cluster = distributed.LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                scheduler_kwargs=_http_options(dashboard),
                silence_logs=logging.CRITICAL,
            )
        client = distributed.Client(cluster, set_as_default=False)
        return cls(client, cluster, retries, f"dask local:{n_workers} ({cluster.scheduler_address})")

    def share(self, array: np.ndarray):
        # One copy per worker, fetched by workers that join later from a peer that has it.
        future = self.client.scatter(array, broadcast=True)
        self._arrays[future.key], self._holders[future.key] = array, future
        return future

    def _submit(self, fn, args, key, checkpoint):
        return ClusterUnit(self, fn, args, {"pure": False} if key is None else {"key": key})

    def _send(self, fn, args: tuple, names: dict):
        """The Dask future of ``run_unit(fn, *args)``, each shared array in ``args`` as it is held now."""
        future_type = import_distributed().Future
        args = tuple(self._holders.get(arg.key, arg) if isinstance(arg, future_type) else arg for arg in args)
        return self.client.submit(run_unit, fn, *args, retries=self._retries, **names)

    def share_lost(self) -> bool:
        """Scatter again every shared array that no worker holds any more; False if none was lost."""
        if self._cancelling:  # the units were cancelled here, not lost
            return False
        # The scheduler is asked: the units' cancellation can reach this client before the array's.
        held = self.client.who_has([future.key for future in self._holders.values()])  # keys: a future may be cancelled
        lost = [key for key, future in self._holders.items() if future.status != "finished" or not held.get(future.key)]
        for key in lost:
            self._holders[key] = self.client.scatter(self._arrays[key], broadcast=True)
        if lost:
            log.warning("cluster: %d shared array(s) died with the workers holding them; sent again", len(lost))
        return bool(lost)

    def as_completed(self, units):
        from distributed import as_completed

        by_future = {unit.future: unit for unit in units}
        for future in as_completed(list(by_future), loop=self.client.loop):  # not the default client
            yield by_future[future]

    def cancel(self, units) -> None:
        self._cancelling = True
        if units:
            self.client.cancel([unit.future for unit in units])

    def close(self, abort: bool = False) -> None:
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


class ClusterUnit:
    """A unit on the cluster, read like a future (``result``, ``done``, ``status``), that survives
    the loss of its shared arrays.

    Dask reruns a unit whose worker died, but a scattered array cannot be recomputed: when the
    last worker holding it dies, the scheduler forgets it and cancels every unit that needs it
    ("already forgotten"). Dask's memory manager keeps a single copy of an array no unit is
    waiting for yet, so one worker's death could end a whole search (seen under load). Then
    ``result`` scatters the array again from this process and sends the unit again.
    """

    def __init__(self, executor: DaskExecutor, fn, args: tuple, names: dict) -> None:
        self._executor, self._call = executor, (fn, args, names)
        self.future = executor._send(fn, args, names)

    def done(self) -> bool:
        return self.future.done()

    @property
    def status(self) -> str:
        return self.future.status

    def result(self, timeout: float | None = None):
        from concurrent.futures import CancelledError

        for _ in range(LOST_INPUT_RESENDS):
            try:
                return self.future.result(timeout=timeout)
            except CancelledError:
                if not self._executor.share_lost():
                    raise
                self.future = self._executor._send(*self._call)
        return self.future.result(timeout=timeout)


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
        raise ClusterError(
            f"--cluster {address}: cannot connect: {reason}; check the address and that "
            f"`dask scheduler` runs there and accepts connections"
        ) from None


def _wait_for_a_worker(client, address: str, timeout: float) -> None:
    """A scheduler without workers would take the units and run none ("No valid workers found",
    after the run folder was made): say so now, closing the client."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise ClusterError(
            f"--cluster {address}: the scheduler has no workers (none joined within "
            f"{timeout:g} s); start one with `dask worker {address}`, or raise the "
            "timeout"
        ) from None


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
