"""A Dask cluster on the loopback interface for the tests: one `dask scheduler` and single-threaded
`dask worker` processes, each a subprocess, every one stopped by its pid at the end, pass or fail.
Import the ``cluster`` fixture into a test module (one cluster per module); it skips when Dask is
not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HOST = "127.0.0.1"  # never any other interface
ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60


class LoopbackCluster:
    """A scheduler and its workers as subprocesses; ``client`` watches them from the test."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.processes, self.address, self.client = directory, [], None, None
        # Workers import mlpcli (this worktree's) and the toy units by name; like Dask's nanny,
        # give each one BLAS thread so results match the local processes bit for bit.
        path = [str(ROOT), str(Path(__file__).parent / "units"), os.environ.get("PYTHONPATH", "")]
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in path if p),
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.directory / f"{name}.log", "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        log.close()
        self.processes.append(process)
        return process

    def start_scheduler(self) -> None:
        scheduler_file = self.directory / "scheduler.json"
        self._spawn(
            "scheduler",
            "scheduler",
            "--host",
            HOST,
            "--port",
            "0",
            "--no-dashboard",
            "--dashboard-address",
            f"{HOST}:0",
            "--scheduler-file",
            str(scheduler_file),
        )
        self.address = json.loads(self._wait_for(scheduler_file))["address"]
        assert self.address.startswith(f"tcp://{HOST}:")
        import distributed

        self.client = distributed.Client(self.address, timeout=START_TIMEOUT, set_as_default=False)

    def add_workers(self, n: int) -> None:
        """Start ``n`` workers (no nanny: the pid is the process that runs units) and wait for them."""
        alive = len(self.client.scheduler_info(n_workers=-1)["workers"])
        for _ in range(n):
            self._spawn(
                f"worker{len(self.processes)}",
                "worker",
                self.address,
                "--nthreads",
                "1",
                "--host",
                HOST,
                "--no-nanny",
                "--no-dashboard",
                "--dashboard-address",
                f"{HOST}:0",
                "--memory-limit",
                "0",
                "--death-timeout",
                "30",
                "--local-directory",
                str(self.directory),
            )
        self.client.wait_for_workers(alive + n, timeout=START_TIMEOUT)

    def worker_pids(self) -> dict:
        return self.client.run(os.getpid)

    def _wait_for(self, path: Path) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if path.exists() and path.stat().st_size > 0:
                return path.read_text()
            if any(p.poll() is not None for p in self.processes):
                break
            time.sleep(0.1)
        logs = "\n".join(log.read_text()[-2000:] for log in self.directory.glob("*.log"))
        raise RuntimeError(f"the Dask scheduler did not start:\n{logs}")

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        # Workers first, while their scheduler is still there to say goodbye to.
        workers, scheduler = self.processes[1:], self.processes[:1]
        for group in (workers, scheduler):
            for process in group:
                if process.poll() is None:
                    process.terminate()
            for process in group:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


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
