"""Matrix products that can be cut into fixed blocks run side by side on ``parallel``'s threads.

Units of k-fold and search work must give the same bytes wherever they run (in this process, in
a local worker process, on a Dask worker), so they run with one BLAS thread: how many threads
split a product changes its rounding. Inside ``split(parts)`` each large product is instead cut
into ``parts`` blocks along its output's columns (or rows), chosen from the shapes alone, each
block one single-threaded BLAS call: the same calls on every backend, side by side when this
process's pool has threads (in-process k-fold on 2 cores) and one after another in
single-threaded workers. Measured on 2 cores, a 3072-512-10 epoch on one BLAS thread took 0.55 s
whole and 0.39 s in two blocks side by side (0.34 s with two BLAS threads, outside units).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np

from . import parallel

#: A dimension is cut only if every block keeps at least this many columns (or rows): thinner
#: products run well below the BLAS rate.
MIN_BLOCK = 64


class _Split(threading.local):
    """The blocks of this thread's products: per thread, so a ``split`` in one thread (a unit run
    here) never cuts another thread's products, nor does leaving it end another thread's."""

    parts = 1


_split = _Split()


def parts() -> int:
    """Blocks this thread cuts each large product into (1: none)."""
    return _split.parts


@contextmanager
def split(parts: int):
    """Cut this thread's large products into ``parts`` blocks inside the block (1: never)."""
    previous, _split.parts = _split.parts, max(1, int(parts))
    try:
        yield
    finally:
        _split.parts = previous


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-D ``a`` (m, k) and ``b`` (k, n), into ``out`` (m, n) if given.

    Inside ``split``: cut along n when each block keeps MIN_BLOCK columns, else along m when each
    keeps MIN_BLOCK rows, else one call. Every output value comes from one block's product."""
    m, n, cuts = a.shape[0], b.shape[1], _split.parts
    if cuts > 1 and n >= cuts * MIN_BLOCK:
        axis = 1
    elif cuts > 1 and m >= cuts * MIN_BLOCK:
        axis = 0
    else:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((m, n), np.result_type(a, b))
    blocks = parallel.ranges(n if axis else m, cuts)

    def block(index: int) -> None:
        cut = slice(*blocks[index])
        if axis:
            np.matmul(a, b[:, cut], out=out[:, cut])
        else:
            np.matmul(a[cut], b, out=out[cut])

    parallel.run(block, len(blocks))
    return out
