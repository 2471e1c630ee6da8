"""How many threads BLAS may use. No NumPy here: the limits only count if set before it loads."""

from __future__ import annotations

import os
from contextlib import contextmanager

#: The variables OpenBLAS, OpenMP and MKL read when NumPy is first imported.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

#: After a product, OpenBLAS's threads spin for 2**N cycles (N = 28 unless this is set, about a
#: tenth of a second) waiting for the next one before they sleep. Training runs element-wise
#: passes on the threads of ``nn.parallel`` between the products, and spinning BLAS threads take
#: the cores those passes need: on 2 cores a 3072-512-10 epoch took 0.40 s with them spinning and
#: 0.35 s with N = 4 (sleep at once; waking them costs less than a product's rounding noise).
BLAS_SPIN = {"OPENBLAS_THREAD_TIMEOUT": "4"}


def quiet_blas_threads() -> None:
    """Let OpenBLAS's idle threads sleep at once (``BLAS_SPIN``), unless the user set the
    variable; only counts before NumPy is first imported, and for this process's children."""
    for name, value in BLAS_SPIN.items():
        os.environ.setdefault(name, value)


def limit_threads(threads: int) -> None:
    """Bound the BLAS threads of this process (if NumPy is not loaded yet) and its children."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


@contextmanager
def thread_limit(threads: int):
    """Set the limit for processes started inside the block (e.g. spawned workers), then restore."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    limit_threads(threads)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


#: BLAS threads a unit of k-fold or search work runs with, on every backend: how many threads
#: split a matrix product changes its rounding, and a unit must give the same bytes wherever it ran.
UNIT_THREADS = 1
#: Blocks a unit cuts each large product into (``nn.products``): a fixed number, so a unit makes
#: the same single-threaded BLAS calls on every backend, and this process's cores run the blocks
#: side by side (a worker with one thread runs them one after another).
UNIT_PRODUCT_BLOCKS = 2


@contextmanager
def unit_threads():
    """BLAS limited to ``UNIT_THREADS`` in this process for the block, and products cut into
    ``UNIT_PRODUCT_BLOCKS``: the same single-threaded calls in this process as in a worker
    process (which gets the limit at start-up too), so the same bytes. threadpoolctl is a
    dependency, imported here because NumPy must not be loaded before ``limit_threads``."""
    from threadpoolctl import threadpool_limits

    from .nn import products

    with threadpool_limits(UNIT_THREADS, user_api="blas"), products.split(UNIT_PRODUCT_BLOCKS):
        yield
