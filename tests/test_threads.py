"""One owner of threads and cores: BLAS, the element-wise pool and the decode workers follow the
same number, from --threads/MLPCLI_THREADS (the BLAS variables) or the CPU affinity."""

import os

import pytest

from mlpcli import threads
from mlpcli.data import folder
from mlpcli.nn import parallel


@pytest.fixture
def no_limit(monkeypatch):
    for name in threads.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    parallel.set_threads(None)
    yield monkeypatch
    parallel.set_threads(None)


def test_without_a_limit_everything_gets_the_usable_cores(no_limit):
    assert threads.threads() == len(os.sched_getaffinity(0)) == parallel.threads()
    assert threads.decode_workers(1000) == threads.threads()
    assert threads.decode_workers(1) == 1


def test_the_blas_limit_sizes_the_pool_and_the_decode_workers(no_limit):
    no_limit.setenv("OPENBLAS_NUM_THREADS", "3")
    no_limit.setenv("OMP_NUM_THREADS", "2")
    assert threads.blas_limit() == 2 == threads.threads() == parallel.threads()
    assert threads.decode_workers(1000) == 2


def test_decoding_asks_the_thread_owner_not_the_cpu_count(no_limit, tmp_path):
    """``--threads 1`` decodes in this process. Fails with the old ``os.cpu_count()`` sizing
    (checked once by restoring it: a 2-process pool was started)."""
    from PIL import Image

    paths = []
    for i in range(4):
        paths.append(tmp_path / f"{i}.png")
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(paths[-1])
    no_limit.setattr(os, "cpu_count", lambda: 8)
    no_limit.setattr(folder, "PARALLEL_MIN", 1)
    no_limit.setattr(folder, "DECODE_CHUNK", 1)
    no_limit.setattr(folder, "ProcessPoolExecutor", _refuse)
    threads.limit_threads(1)
    images, kept, failures = folder.decode_all(paths, (8, 8))
    assert images.shape == (4, 8, 8, 3) and kept.all() and not failures


def _refuse(*args, **kwargs):
    raise AssertionError("a decode process pool was started although --threads is 1")
