"""The unit scheduler on local processes; the Dask backend is tested on a real cluster in test_cluster.py."""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest
import search_units as units
from processes import wait_until

from mlpcli.errors import ConfigError
from mlpcli.units.executor import INSTALL_HINT, ClusterError, open_executor
from mlpcli.units.runtime import Mapped, UnitResult


def toy_work(n_units=6):
    """X (64, 16) float64 and per unit (rows, seed)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((64, 16))
    return X, [(np.sort(rng.choice(64, size=20, replace=False)), 100 + i) for i in range(n_units)]


def expected(X, work):
    return [units.project(X, rows, seed) for rows, seed in work]


def test_local_processes_return_what_the_unit_computes():
    X, work = toy_work()
    with open_executor(jobs=2) as executor:
        shared = executor.share(X)
        futures = [executor.submit(units.project, shared, rows, seed) for rows, seed in work]
        done = list(executor.as_completed(futures))
        results = [f.result() for f in futures]
    assert set(done) == set(futures)
    assert all(isinstance(r, UnitResult) and r.seconds >= 0 for r in results)
    for result, reference in zip(results, expected(X, work)):
        assert result.value.tobytes() == reference.tobytes()
    assert all(r.worker.rsplit(":", 1)[1] != str(os.getpid()) for r in results)  # ran elsewhere


def test_a_shared_array_travels_as_a_path_and_arrives_memory_mapped_read_only():
    X = np.arange(250_000, dtype=np.float64).reshape(500, 500)  # 2 MB
    with open_executor(jobs=1) as executor:
        shared = executor.share(X)
        assert isinstance(shared, Mapped) and len(pickle.dumps(shared)) < 500
        kind, writeable, total = executor.submit(units.describe, shared).result().value
        with pytest.raises(ValueError, match="read-only"):
            executor.submit(units.mutate, shared).result()
        # a plain array argument is read-only on the worker too, as on every backend
        with pytest.raises(ValueError, match="read-only"):
            executor.submit(units.mutate, X[:2].copy()).result()
    assert (kind, writeable, total) == ("memmap", False, float(X.sum()))


def test_a_unit_error_reaches_the_caller():
    with open_executor(jobs=1) as executor:
        with pytest.raises(RuntimeError, match="boom"):
            executor.submit(units.fail, "boom").result()


def test_leaving_by_ctrl_c_cancels_waiting_units_and_stops_running_ones(tmp_path):
    X, work = toy_work(6)
    with pytest.raises(KeyboardInterrupt):
        with open_executor(jobs=2) as executor:
            futures = [executor.submit(units.project, X, rows, seed, 60.0, str(tmp_path)) for rows, seed in work]
            wait_until(lambda: any(tmp_path.iterdir()), 120, "a running unit")  # fails, never hangs
            raise KeyboardInterrupt
    assert all(f.done() for f in futures)
    finished = [f for f in futures if not f.cancelled() and f.exception() is None]
    assert finished == []  # each unit sleeps a minute: the running ones were stopped, not awaited
    assert len(list(tmp_path.iterdir())) <= 2  # the waiting ones never started
    for marker in tmp_path.iterdir():
        with pytest.raises(ProcessLookupError):  # the running ones' processes are gone
            os.kill(int(marker.name.split("-")[1]), 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"jobs": 2, "cluster": "local:2"}, "--jobs and --cluster: choose one"),
        ({"cluster": "local:0"}, "--cluster: must be tcp://HOST:PORT or local:N with N >= 1; got 'local:0'"),
        ({"cluster": "local:two"}, "got 'local:two'"),
        ({"cluster": "127.0.0.1:8786"}, "--cluster: must be tcp://HOST:PORT"),
        ({"cluster": "tcp://127.0.0.1"}, "--cluster: must be tcp://HOST:PORT; got 'tcp://127.0.0.1'"),
        ({"jobs": 0}, "--jobs: must be an integer >= 1; got 0"),
    ],
)
def test_bad_arguments_are_usage_errors(kwargs, message):
    if kwargs.get("cluster") == "tcp://127.0.0.1":
        pytest.importorskip("distributed")  # the address is parsed by Dask's own parser
    with pytest.raises(ConfigError) as caught:
        open_executor(**kwargs)
    assert message in str(caught.value) and caught.value.exit_code == 2


@pytest.mark.parametrize("cluster", ["tcp://127.0.0.1:8786", "local:2"])
def test_a_cluster_without_dask_says_how_to_install_it(monkeypatch, cluster):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ClusterError) as caught:
        open_executor(cluster=cluster)
    assert INSTALL_HINT in str(caught.value) and caught.value.exit_code == 1


def test_one_job_runs_units_in_this_process_with_the_same_bytes():
    from mlpcli.units.executor import choose_executor
    from mlpcli.units.inline import InlineExecutor
    from mlpcli.units.placement import Placement

    X, work = toy_work()
    executor = choose_executor(Placement(jobs=1))
    assert isinstance(executor, InlineExecutor) and not isinstance(choose_executor(Placement(jobs=2)), InlineExecutor)
    with executor:
        shared = executor.share(X)
        futures = [executor.submit(units.project, shared, rows, seed) for rows, seed in work]
        results = [f.result() for f in executor.as_completed(futures)]
        with pytest.raises(ValueError, match="read-only"):
            executor.submit(units.mutate, shared).result()
        with pytest.raises(RuntimeError, match="boom"):
            executor.submit(units.fail, "boom").result()
    assert X.flags.writeable and all(rows.flags.writeable for rows, _ in work)  # the caller's arrays
    for result, reference in zip(results, expected(X, work)):
        assert result.value.tobytes() == reference.tobytes()
    assert {r.worker.rsplit(":", 1)[1] for r in results} == {str(os.getpid())}


def test_a_local_worker_that_dies_is_a_clear_error_not_a_traceback():
    from mlpcli.units.executor import WorkerLost, unit_result

    with pytest.raises(WorkerLost, match="a local worker process died.*resume the run") as caught:
        with open_executor(jobs=2) as executor:
            unit_result(executor.submit(units.die))
    assert caught.value.exit_code == 1
