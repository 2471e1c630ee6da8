"""A search against a Dask scheduler with no workers says to start `dask worker` and leaves no
run folder (issue 21 item 8: it said "No valid workers found" after 10 s and left a half-made run
folder; this failed before ``_wait_for_a_worker``, verified). The scheduler is a subprocess on
the loopback interface, stopped by its pid at the end, pass or fail."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from loopback import LoopbackCluster
from test_search import search_config

from mlpcli.cli import cli


def test_a_scheduler_without_workers_is_refused_before_the_run_folder(tmp_path):
    pytest.importorskip("distributed")
    (tmp_path / "dask").mkdir()
    scheduler = LoopbackCluster(tmp_path / "dask")
    try:
        scheduler.start_scheduler()  # and no worker
        config = search_config(tmp_path, trials=2)
        result = CliRunner().invoke(
            cli, ["search", "--config", str(config), "--k", "2", "--cluster", scheduler.address, "--timeout", "2"]
        )
    finally:
        scheduler.stop()
    assert result.exit_code == 1, (result.stderr, result.exception)
    assert f"start one with `dask worker {scheduler.address}`" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []
