"""``--cluster`` for building the data: shards of decoding and extraction on a Dask cluster's workers.

``train.fit.prepare`` takes a *mapper* (``features.spread`` defines it): ``ClusterMap`` is the
one that runs each shard on a worker. ``shard_mapper(placement)`` gives one for ``--cluster``
(None without a cluster: this process decodes and extracts); it connects to a scheduler at once
(a wrong address fails up front), while a ``local:N`` cluster is started only when a shard is
actually to be built, so a run whose images and features are all cached starts no workers.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from ..progress import log

if TYPE_CHECKING:
    from .cluster import DaskExecutor

#: Array arguments above this size are scattered to the workers ahead of their call instead of
#: riding in the task itself, which the scheduler would hold and Dask warns about.
SCATTER_BYTES = 1 << 20


class ClusterMap:
    """``mapper(fn, calls)``: ``fn(*call)`` for each call on the workers of the Dask ``client``,
    yielding ``(index, result)`` as each finishes. At most ``window`` calls are out at once (by
    default two per worker thread), and ``calls`` (any iterable) is read one call at a time as
    room frees up, so neither this process nor the cluster holds more than ``window`` shards.
    A call that raises raises here, with its own exception, after the others are cancelled."""

    def __init__(self, client, window: int | None = None) -> None:
        self.client = client
        self.window = window or max(2, 2 * sum(client.nthreads().values()))

    def __call__(self, fn, calls):
        from distributed import as_completed

        pending, running = enumerate(calls), {}
        queue = as_completed([], loop=self.client.loop)  # not the default client: there may be none
        try:
            for _ in range(self.window):
                self._submit_next(fn, pending, running, queue)
            for future in queue:
                index, value = running.pop(future), future.result()
                self._submit_next(fn, pending, running, queue)
                yield index, value
        finally:
            if running:  # an error, Ctrl-C or a consumer that stopped early: the rest is not wanted
                self.client.cancel(list(running))

    def _submit_next(self, fn, pending, running: dict, queue) -> None:
        item = next(pending, None)
        if item is None:
            return
        index, args = item
        args = [
            self.client.scatter(arg, hash=False) if isinstance(arg, np.ndarray) and arg.nbytes > SCATTER_BYTES else arg
            for arg in args
        ]
        future = self.client.submit(fn, *args, pure=False)
        running[future] = index
        queue.add(future)


def mapper_of(executor):
    """A ``ClusterMap`` on ``executor``'s Dask client, or None for local processes or this process."""
    from .cluster import DaskExecutor

    return ClusterMap(executor.client) if isinstance(executor, DaskExecutor) else None


@contextmanager
def shard_mapper(placement):
    """The mapper for ``placement`` (``--cluster``), or None without a cluster; a cluster it
    connected to (or started, for ``local:N``) is closed when the block ends. A scheduler's
    address is connected to at once, even if nothing turns out to need building: the user asked
    for that cluster, and a wrong address must not go unnoticed (``ClusterError``, exit 1).
    ``local:N`` (checked now) starts its workers only for a shard to build."""
    from .executor import check_address

    if placement.cluster is None:
        yield None
        return
    lazy = _Connecting(placement)
    try:
        if check_address(placement.cluster) is None:
            lazy.open()
        yield lazy
    finally:
        lazy.close()


class _Connecting:
    """A ``ClusterMap`` that opens its cluster on the first call with shards to build (or on ``open``)."""

    def __init__(self, placement) -> None:
        self.placement = placement
        self.executor: DaskExecutor | None = None

    def __call__(self, fn, calls):
        calls = iter(calls)
        first = next(calls, None)
        if first is None:  # nothing to build (all cached): no cluster to open
            return iter(())
        calls = itertools.chain([first], calls)
        executor = self.open()
        log.info("data: building shards on %s", executor.name)
        return ClusterMap(executor.client)(fn, calls)

    def open(self) -> DaskExecutor:
        """The cluster's executor, connected to (or started) the first time."""
        if self.executor is None:
            from .cluster import DaskExecutor
            from .executor import open_executor

            executor = open_executor(cluster=self.placement.cluster, timeout=self.placement.timeout)
            assert isinstance(executor, DaskExecutor)  # a --cluster address opens a Dask one
            self.executor = executor
        return self.executor

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
