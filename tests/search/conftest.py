"""The loopback Dask cluster fixture, one per test module that asks for it."""

from __future__ import annotations

import pytest

from loopback import LoopbackCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pytest.importorskip("distributed")
    loopback = LoopbackCluster(tmp_path_factory.mktemp("dask"))
    try:
        loopback.start_scheduler()
        loopback.add_workers(2)
        yield loopback
    finally:
        loopback.stop()
