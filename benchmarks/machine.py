"""What the benchmarks report about the machine they ran on: CPU, libraries, threads, and load.

Shared by the scripts in this folder (imported as ``machine`` when a script runs as
``python benchmarks/<script>.py``). Reads /proc on Linux; elsewhere the load fields are None.

Importing it gives NumPy's BLAS the settings ``mlpcli`` (the command) gives it, so the library
loops measured here run as they do in a training run: scripts import it before NumPy.
"""

from __future__ import annotations

import os
import platform
import time

from mlpcli.threads import BLAS_SPIN, quiet_blas_threads
from mlpcli.threads import THREAD_VARIABLES as BLAS_THREAD_VARIABLES

quiet_blas_threads()  # before NumPy loads OpenBLAS, as the command does

import numpy as np  # noqa: E402

THREAD_VARIABLES = (*BLAS_THREAD_VARIABLES, "MLPCLI_THREADS", *BLAS_SPIN)


def cpu_model() -> str:
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def blas_info() -> list[dict]:
    """BLAS libraries loaded in this process, with their thread counts (threadpoolctl if present)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        {key: pool.get(key) for key in ("internal_api", "version", "num_threads", "threading_layer")}
        for pool in threadpool_info()
    ]


def busy_processes(seconds: float = 1.0, min_percent: float = 10.0) -> list[dict]:
    """Other processes using at least ``min_percent`` of one core over ``seconds`` (from /proc)."""
    if not os.path.isdir("/proc"):
        return []
    first = _cpu_ticks()
    time.sleep(seconds)
    second = _cpu_ticks()
    hertz = os.sysconf("SC_CLK_TCK")
    busy = []
    for pid, (ticks, command) in second.items():
        if pid == os.getpid() or pid not in first:
            continue
        percent = 100.0 * (ticks - first[pid][0]) / hertz / seconds
        if percent >= min_percent:
            busy.append({"pid": pid, "cpu_percent": round(percent), "command": command[:120]})
    return sorted(busy, key=lambda p: -p["cpu_percent"])


def proc_stats():
    """(pid, fields of /proc/<pid>/stat after the command name) for every live process."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                yield int(name), f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue


def _cpu_ticks() -> dict[int, tuple[int, str]]:
    ticks = {}
    for pid, fields in proc_stats():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        ticks[pid] = (int(fields[11]) + int(fields[12]), command)  # utime + stime
    return ticks


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def load(seconds: float = 1.0) -> dict:
    """Load right now: the machine's busy CPU share, this process's, and other busy processes.

    Processes in other containers sharing the CPUs are invisible in /proc but show in the machine's
    busy share: ``machine_cpu_busy_percent`` well above ``this_process_cpu_percent`` means a
    neighbour was running.
    """
    if not os.path.exists("/proc/stat"):
        return {"loadavg_1_5_15": None}
    busy0, total0 = _cpu_times()
    own0 = sum(os.times()[:2])
    processes = busy_processes(seconds)
    busy1, total1 = _cpu_times()
    own = (sum(os.times()[:2]) - own0) / seconds
    return {
        "loadavg_1_5_15": list(os.getloadavg()),
        "machine_cpu_busy_percent": round(100.0 * (busy1 - busy0) / max(total1 - total0, 1)),
        "this_process_cpu_percent": round(100.0 * own / (os.cpu_count() or 1)),
        "other_busy_processes": processes,
    }


def machine(torch=None) -> dict:
    info = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "thread_env": {name: os.environ.get(name) for name in THREAD_VARIABLES},
    }
    if os.path.exists("/proc/meminfo"):
        info["memory_gb"] = round(int(open("/proc/meminfo").readline().split()[1]) / 2**20, 1)
    try:
        from mlpcli.nn import parallel

        info["mlpcli_pool_threads"] = parallel.threads()
    except ImportError:
        pass
    if torch is not None:
        info.update(
            torch=torch.__version__,
            torch_threads=torch.get_num_threads(),
            torch_interop_threads=torch.get_num_interop_threads(),
        )
    return info


class NeighbourMeter:
    """Share of the machine's CPU time used by other processes between ``start()`` and ``stop()``
    (percent of all cores): a timing taken while it is high is suspect."""

    def start(self) -> None:
        self._machine = _cpu_times() if os.path.exists("/proc/stat") else None
        self._own = sum(os.times()[:2])

    def stop(self) -> float | None:
        if self._machine is None:
            return None
        busy, total = _cpu_times()
        hertz = os.sysconf("SC_CLK_TCK")
        own = (sum(os.times()[:2]) - self._own) * hertz
        others = busy - self._machine[0] - own
        return round(max(0.0, 100.0 * others / max(total - self._machine[1], 1)), 1)
