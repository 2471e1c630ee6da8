"""Peak memory of a whole `mlpcli train` process on the 50,000 CIFAR-10 images with raw features.

Runs `mlpcli train --config configs/cifar10-raw.yaml --set train.epochs=1` twice, as a separate
process each time:
  1. cold: ``--no-cache`` (decode every JPEG, extract the features, nothing read from the cache);
  2. warm: the cache filled by a preparatory run in a temporary cache directory (decoded images and
     the feature matrix loaded from .npy/.npz files).
For each it reports the peak resident set size of the `mlpcli` process itself (``ru_maxrss`` from
``wait4``; Linux gives the largest of the process and its waited-for children, i.e. the decoding
workers) and the peak of the summed RSS of the whole process tree, sampled every 20 ms from /proc
(the decoding workers run beside the main process).

The float32 feature matrix alone is 50,000 x 3072 x 4 B = 614 MB; the decoded uint8 images are
154 MB. Target (issue 15): peak RSS below 1.0 GB (issue 8 asked for 1.3 GB).

Usage: python benchmarks/train_memory.py [--config configs/cifar10-raw.yaml] [--epochs 1]
Prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from machine import load, machine, proc_stats

TARGET_MB = 1000
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def tree_rss_mb(root: int) -> float:
    """Summed RSS (MB) of ``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for pid, fields in proc_stats():
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21])  # resident pages
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total * PAGE / 1e6


def measured_run(command: list[str], scratch: Path) -> dict:
    """Run ``command``: wall time, peak RSS from ``wait4`` and the sampled peak of the tree's RSS."""
    with open(scratch / "stdout", "w+") as out, open(scratch / "stderr", "w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        peak_tree, done = [0.0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak_tree[0] = max(peak_tree[0], tree_rss_mb(process.pid))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{err.read()[-2000:]}")
    peak = usage.ru_maxrss / 1024  # Linux reports KiB
    return {
        "seconds": seconds,
        "peak_rss_mb": peak,
        "tree_peak_rss_mb_sampled": peak_tree[0],
        "target_met": peak < TARGET_MB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/cifar10-raw.yaml")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("mlpcli")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "mlpcli"]
    report = {
        "machine": machine(),
        "load_before": load(),
        "config": args.config,
        "epochs": args.epochs,
        "target_mb": TARGET_MB,
    }
    with tempfile.TemporaryDirectory(prefix="mlpcli-bench-") as scratch:
        train = base + [
            "-q",
            "train",
            "--config",
            args.config,
            "--set",
            f"train.epochs={args.epochs}",
            "--set",
            f"data.cache_dir={Path(scratch) / 'cache'}",
            "--json",
        ]
        scratch = Path(scratch)
        report["cold_no_cache"] = measured_run(train + ["--no-cache", "--out", f"{scratch}/cold"], scratch)
        measured_run(train + ["--out", f"{scratch}/fill"], scratch)  # fills the cache
        report["warm_cache"] = measured_run(train + ["--out", f"{scratch}/warm"], scratch)
    report["load_after"] = load()
    report["targets_met"] = {
        "cold peak RSS < 1.0 GB": report["cold_no_cache"]["target_met"],
        "warm peak RSS < 1.0 GB": report["warm_cache"]["target_met"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
