"""The one owner of threads and cores: how many threads BLAS, the element-wise pool
(``nn.parallel``) and the image-decoding processes (``data.folder``) get.

One number decides all three: the BLAS limit that ``--threads``/``MLPCLI_THREADS`` set in the
environment (``limit_threads``), else the cores this process may run on (its CPU affinity). No
NumPy here: the limits only count if set before it loads; ``nn`` may import this module.
"""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=1)
def cores() -> int:
    """The cores this process may run on (asked once: every element-wise pass needs the count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def blas_limit() -> int | None:
    """The BLAS thread limit set in the environment (the smallest of ``THREAD_VARIABLES``), or None."""
    limits = [
        int(value)
        for value in (os.environ.get(name, "").strip() for name in THREAD_VARIABLES)
        if value.isdigit() and int(value) > 0
    ]
    return min(limits) if limits else None


def threads() -> int:
    """Threads (or processes) one mlpcli process keeps busy: the BLAS limit, else the usable cores.
    BLAS and the element-wise pool never run at once, so both get this many."""
    limit = blas_limit()
    return cores() if limit is None else limit


def decode_workers(n_chunks: int) -> int:
    """Processes that decode ``n_chunks`` chunks of images: ``threads()``, at most one per chunk."""
    return max(1, min(threads(), n_chunks))


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
