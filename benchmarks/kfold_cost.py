"""What a k-fold run costs relative to one training run of the same config.

Runs, as whole processes and with a cold cache for both (so each decodes and extracts once):
  1. mlpcli train --config C --no-cache
  2. mlpcli kfold --config C --k K --no-cache
and prints one JSON document with both wall times and their ratio. Target (issue 4): the 5-fold
run costs at most 5.5x the single run, because features are extracted once for all folds.

Usage: python benchmarks/kfold_cost.py [--config configs/cifar10-hog.yaml] [--k 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time


def timed(command: list[str]) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/cifar10-hog.yaml")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlpcli-bench-") as scratch:
        base = [sys.executable, "-m", "mlpcli", "-q"]
        train_s, train = timed(base + ["train", "--config", args.config, "--no-cache", "--json",
                                       "--out", f"{scratch}/train"])
        kfold_s, kfold = timed(base + ["kfold", "--config", args.config, "--k", str(args.k), "--no-cache",
                                       "--json", "--out", f"{scratch}/kfold"])
    print(json.dumps({
        "config": args.config, "k": args.k,
        "train_seconds": round(train_s, 2), "kfold_seconds": round(kfold_s, 2),
        "ratio_kfold_over_train": round(kfold_s / train_s, 3), "target_ratio": 5.5,
        "train_val_accuracy": train["val_accuracy"], "kfold_mean_accuracy": kfold["mean_accuracy"],
        "kfold_std_accuracy": kfold["std_accuracy"],
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
    }, indent=2))


if __name__ == "__main__":
    main()
