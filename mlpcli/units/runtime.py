"""The worker runtime: what runs around a unit on whichever worker runs it.

``run_unit`` resolves shared arrays (a memory-mapped file from local processes, a Dask-scattered
array), freezes every array argument, limits BLAS (``unit_threads``) and times the call, so a
unit gives the same bytes and fails the same way on every backend.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nn import products
from ..threads import UNIT_PRODUCT_BLOCKS, UNIT_THREADS


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


@contextmanager
def unit_threads():
    """BLAS limited to ``UNIT_THREADS`` in this process for the block, and products cut into
    ``UNIT_PRODUCT_BLOCKS``: the same single-threaded calls in this process as in a worker
    process (which gets the limit at start-up too), so the same bytes. threadpoolctl is a
    dependency, imported here because NumPy must not be loaded before ``threads.limit_threads``."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(UNIT_THREADS, user_api="blas"), products.split(UNIT_PRODUCT_BLOCKS):
        yield


#: Shared files already memory-mapped in this worker process, by path.
_MAPPED: dict[str, np.ndarray] = {}


def run_unit(fn, *args, **options) -> UnitResult:
    """On the worker: resolve shared arrays, freeze array arguments, run ``fn`` and time it.
    ``options`` are keyword arguments passed as they are (the in-process checkpoint and stop flag)."""
    resolved = [_resolve(arg) for arg in args]
    started, start = time.time(), time.perf_counter()
    with unit_threads():
        value = fn(*resolved, **options)
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
