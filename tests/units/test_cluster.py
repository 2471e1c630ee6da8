"""The unit scheduler on a real Dask cluster on the loopback interface, started by the tests.

One `dask scheduler` and two single-threaded `dask worker` processes serve the whole module; a test
that kills a worker first adds a spare. Every process is stopped by its pid at the end, pass or fail.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import search_units as units  # noqa: E402  (after the importorskip above)
from loopback import HOST, START_TIMEOUT, cluster  # noqa: E402,F401 (cluster: the fixture)
from test_executor import expected, toy_work  # noqa: E402  (after the importorskip above)

from mlpcli.units.executor import ClusterError, open_executor  # noqa: E402  (after the importorskip above)


def listening_hosts(pids) -> set:
    """The addresses the processes ``pids`` accept connections on."""
    import psutil  # a dependency of distributed

    return {
        c.laddr.ip
        for pid in pids
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


def test_every_cluster_process_listens_on_the_loopback_interface_only(cluster):
    hosts = listening_hosts(p.pid for p in cluster.processes if p.poll() is None)
    assert hosts == {HOST}


def run_units(executor, X, work, **extra):
    shared = executor.share(X)
    futures = [executor.submit(units.project, shared, rows, seed, *extra.get("args", ())) for rows, seed in work]
    list(executor.as_completed(futures))
    return shared, [f.result() for f in futures]


def test_cluster_and_local_processes_give_the_same_bytes(cluster):
    X, work = toy_work()
    with open_executor(jobs=2) as local:
        _, local_results = run_units(local, X, work)
    with open_executor(cluster=cluster.address, timeout=10) as remote:
        _, remote_results = run_units(remote, X, work)
    for a, b, reference in zip(local_results, remote_results, expected(X, work)):
        assert a.value.tobytes() == b.value.tobytes() == reference.tobytes()
    assert {r.worker for r in remote_results} <= set(cluster.worker_pids())


def test_a_shared_array_is_on_every_worker_once_and_arrives_read_only(cluster):
    X = np.arange(40_000, dtype=np.float64).reshape(200, 200)
    with open_executor(cluster=cluster.address) as executor:
        shared = executor.share(X)
        assert isinstance(shared, distributed.Future)  # units get a reference, not a pickled copy
        workers = set(cluster.worker_pids())
        assert set(cluster.client.who_has([shared])[shared.key]) == workers
        kind, writeable, total = executor.submit(units.describe, shared).result().value
        assert all(executor.submit(units.aligned, shared).result().value for _ in range(4))
        with pytest.raises(ValueError, match="read-only"):
            executor.submit(units.mutate, shared).result()
    assert (kind, writeable, total) == ("ndarray", False, float(X.sum()))


def test_a_worker_killed_mid_unit_has_its_unit_rerun_with_the_same_result(cluster, tmp_path):
    """Each unit sleeps 1.5 s, so the kill lands while the victim's unit runs even on a loaded machine."""
    cluster.add_workers(1)  # a spare, so the module keeps two workers after the kill
    X, work = toy_work(6)
    pids = cluster.worker_pids()
    with open_executor(cluster=cluster.address) as executor:
        shared = executor.share(X)
        futures = [executor.submit(units.project, shared, rows, seed, 1.5, str(tmp_path)) for rows, seed in work]
        victim = _first_marker(tmp_path)
        seed, pid = (int(part) for part in victim.name.split("-"))
        os.kill(pid, signal.SIGKILL)
        results = [f.result(timeout=60) for f in futures]
    for result, reference in zip(results, expected(X, work)):
        assert result.value.tobytes() == reference.tobytes()
    killed = next(address for address, p in pids.items() if p == pid)
    assert killed not in {r.worker for r in results}
    assert len(list(tmp_path.glob(f"{seed}-*"))) == 2  # the unit started on the victim, then again elsewhere


def test_units_survive_the_loss_of_a_shared_array_with_the_last_worker_holding_it(cluster):
    """Dask's memory manager keeps one copy of a shared array no unit waits for yet; the death of
    that worker made the scheduler forget the array and cancel every unit needing it ("already
    forgotten", seen under load in the test above). Watched failing without ``ClusterUnit``."""
    cluster.add_workers(1)  # a spare, so the module keeps two workers after the kill
    X, work = toy_work(4)
    with open_executor(cluster=cluster.address) as executor:
        shared = executor.share(X)
        holders = _replicas_after_reduction(cluster.client, shared)
        assert len(holders) == 1
        os.kill(cluster.worker_pids()[holders[0]], signal.SIGKILL)
        _wait_until_gone(cluster.client, holders[0])
        futures = [executor.submit(units.project, shared, rows, seed) for rows, seed in work]
        results = [f.result(timeout=60) for f in futures]
    for result, reference in zip(results, expected(X, work)):
        assert result.value.tobytes() == reference.tobytes()


def _replicas_after_reduction(client, future) -> list:
    """The workers holding ``future`` once Dask's memory manager has dropped the copies no unit needs."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        client.amm.run_once()
        holders = client.who_has([future])[future.key]
        if len(holders) == 1:
            return list(holders)
        time.sleep(0.1)
    return list(client.who_has([future])[future.key])


def _wait_until_gone(client, address: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while address in client.scheduler_info(n_workers=-1)["workers"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the scheduler still lists the killed worker {address}")
        time.sleep(0.1)


def _first_marker(directory: Path) -> Path:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        markers = sorted(directory.iterdir())
        if markers:
            return markers[0]
        time.sleep(0.02)
    raise RuntimeError("no unit started on the cluster")


def test_ctrl_c_cancels_the_outstanding_units(cluster):
    X, work = toy_work(8)
    with pytest.raises(KeyboardInterrupt):
        with open_executor(cluster=cluster.address) as executor:
            shared = executor.share(X)
            futures = [executor.submit(units.project, shared, rows, seed, 0.3) for rows, seed in work]
            next(iter(executor.as_completed(futures)))
            raise KeyboardInterrupt
    assert sum(f.status == "cancelled" for f in futures) >= 1
    assert all(f.status in ("finished", "cancelled") for f in futures)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def test_an_unreachable_scheduler_is_a_clean_error_naming_address_and_reason():
    address = f"tcp://{HOST}:{free_port()}"
    with pytest.raises(ClusterError) as caught:
        open_executor(cluster=address, timeout=2)
    message = str(caught.value)
    assert address in message and "Connection refused" in message and caught.value.exit_code == 1


def test_a_port_that_is_not_a_scheduler_fails_within_the_timeout():
    with socket.socket() as silent:  # accepts connections, never speaks Dask
        silent.bind((HOST, 0))
        silent.listen()
        address = f"tcp://{HOST}:{silent.getsockname()[1]}"
        with pytest.raises(ClusterError) as caught:
            open_executor(cluster=address, timeout=1)
    assert address in str(caught.value) and "no Dask scheduler answered within 1 s" in str(caught.value)


def test_a_local_dask_cluster_gives_the_same_bytes():
    X, work = toy_work(4)
    with open_executor(cluster="local:2", dashboard=False) as executor:
        _, results = run_units(executor, X, work)
        assert executor.client.cluster.scheduler_address.startswith(f"tcp://{HOST}:")
        assert len(executor.client.scheduler_info()["workers"]) == 2
        import psutil

        assert listening_hosts([os.getpid(), *(c.pid for c in psutil.Process().children(recursive=True))]) == {HOST}
    for result, reference in zip(results, expected(X, work)):
        assert result.value.tobytes() == reference.tobytes()


@pytest.mark.parametrize("bokeh", [True, False])
@pytest.mark.parametrize("dashboard", [True, False])
def test_a_local_clusters_http_server_and_dashboard_are_on_loopback(monkeypatch, bokeh, dashboard):
    """``--cluster local:N``'s scheduler options: whether or not bokeh (which draws the dashboard)
    is installed, every HTTP address is 127.0.0.1, and the dashboard is on only when asked for and
    drawable. Fails if the dashboard address loses its host (``":8787"`` listens on every
    interface), a branch the real-cluster tests cannot reach without bokeh installed."""
    import importlib.util

    from mlpcli.units import cluster

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: (object() if bokeh else None) if name == "bokeh" else real(name, *a),
    )
    options = cluster._http_options(dashboard)
    assert options["dashboard"] is (dashboard and bokeh)
    assert options["dashboard_address"].rsplit(":", 1)[0] == HOST


def test_a_local_cluster_opened_as_the_cli_opens_it_listens_on_loopback_only():
    """The default ``open_executor(cluster="local:2")`` (dashboard asked for, as ``search
    --cluster local:2`` does): the client, scheduler and workers accept connections on 127.0.0.1
    only, including the dashboard when bokeh is installed."""
    import psutil

    with open_executor(cluster="local:2") as executor:
        assert executor.client.cluster.scheduler_address.startswith(f"tcp://{HOST}:")
        assert listening_hosts([os.getpid(), *(c.pid for c in psutil.Process().children(recursive=True))]) == {HOST}
