"""Start-up and inference speed of the CLI, as whole processes: --help, predict, evaluate.

One run measures, with the `mlpcli` console script of this environment:
  1. `mlpcli --help`: wall time of the whole process, median of ``--repeat``;
  2. `mlpcli predict one.png --model RUN`: a quickstart model (trained first, 2 epochs, into a
     temporary directory) labelling one 32x32 PNG, median of ``--repeat``;
  3. `mlpcli evaluate --model RUN --data FOLDER` on 10,000 CIFAR-10 JPEGs (1,000 per class,
     symlinked from ``--data`` into a temporary folder tree) with a model trained for one epoch on
     another 1,000 of them (raw pixels, 3072-512-10); images per second including start-up,
     decoding and features, median of 3 after one warm-up run (so the files are in the OS cache).
For each, the slowest imports (`python -X importtime`, cumulative) say what dominates start-up.

Usage: python benchmarks/cli_speed.py [--data data/cifar10-jpg/train] [--repeat 5]
Prints one JSON document on stdout. Targets (issue 8): --help < 0.3 s, predict < 1 s,
evaluate >= 5,000 images/s. Without the CIFAR-10 folder the evaluate part is skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import load, machine
from PIL import Image

EVAL_PER_CLASS, TRAIN_PER_CLASS = 1000, 100


def mlpcli_command() -> list[str]:
    script = Path(sys.executable).with_name("mlpcli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlpcli"]


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done


def wall_times(command: list[str], repeat: int, warmup: int = 1) -> list[float]:
    times = []
    for index in range(warmup + repeat):
        started = time.perf_counter()
        run(command)
        if index >= warmup:
            times.append(time.perf_counter() - started)
    return times


def slowest_imports(args: list[str], top: int = 8) -> list[dict]:
    """The ``top`` imports with the largest cumulative time (ms) for ``python -m mlpcli ARGS``."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mlpcli", *args], capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            rows.append({"module": name.strip(), "cumulative_ms": int(cumulative) / 1000})
    top_level = [row for row in rows if not row["module"].startswith(" ")]
    return sorted(top_level, key=lambda row: -row["cumulative_ms"])[:top]


def timing(times: list[float], target: float | None = None) -> dict:
    median = statistics.median(times)
    result = {"median_seconds": median, "all_seconds": times}
    if target is not None:
        result["target_seconds"] = target
        result["target_met"] = median < target
    return result


def bench_help(base: list[str], repeat: int) -> dict:
    return {**timing(wall_times(base + ["--help"], repeat), 0.3), "slowest_imports": slowest_imports(["--help"])}


def bench_predict(base: list[str], scratch: Path, repeat: int) -> dict:
    run_dir = scratch / "quickstart"
    run(
        base
        + [
            "-q",
            "train",
            "--config",
            "configs/quickstart.yaml",
            "--set",
            "train.epochs=2",
            "--out",
            str(run_dir),
            "--json",
        ]
    )
    image = scratch / "one.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(image)
    args = ["predict", str(image), "--model", str(run_dir)]
    return {**timing(wall_times(base + args, repeat), 1.0), "slowest_imports": slowest_imports(args)}


def link_subset(source: Path, target: Path, skip: int, per_class: int) -> int:
    """Symlink files [skip, skip + per_class) of each class folder (sorted) under ``target``."""
    count = 0
    for class_dir in sorted(p for p in source.iterdir() if p.is_dir()):
        files = sorted(class_dir.iterdir())[skip : skip + per_class]
        (target / class_dir.name).mkdir(parents=True)
        for file in files:
            (target / class_dir.name / file.name).symlink_to(file.resolve())
        count += len(files)
    return count


def bench_evaluate(base: list[str], data: Path, scratch: Path) -> dict:
    train_dir, eval_dir = scratch / "cifar-train", scratch / "cifar-eval"
    link_subset(data, train_dir, 0, TRAIN_PER_CLASS)
    n_images = link_subset(data, eval_dir, TRAIN_PER_CLASS, EVAL_PER_CLASS)
    run_dir = scratch / "cifar-run"
    run(
        base
        + [
            "-q",
            "train",
            "--config",
            "configs/cifar10-raw.yaml",
            "--set",
            f"data.path={train_dir}",
            "--set",
            "train.epochs=1",
            "--set",
            f"data.cache_dir={scratch / 'cache'}",
            "--out",
            str(run_dir),
            "--json",
        ]
    )
    args = ["evaluate", "--model", str(run_dir), "--data", str(eval_dir), "--json"]
    times = wall_times(base + args, 3)
    accuracy = json.loads(run(base + args).stdout)["accuracy"]
    median = statistics.median(times)
    return {
        "n_images": n_images,
        "median_seconds": median,
        "all_seconds": times,
        "images_per_second": n_images / median,
        "target_images_per_second": 5000,
        "target_met": n_images / median >= 5000,
        "accuracy_one_epoch_model": accuracy,
        "slowest_imports": slowest_imports(args),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/cifar10-jpg/train")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = mlpcli_command()
    report = {"machine": machine(), "load_before": load(), "command": base}
    with tempfile.TemporaryDirectory(prefix="mlpcli-bench-") as scratch:
        scratch = Path(scratch)
        report["help"] = bench_help(base, args.repeat)
        report["predict_one_png"] = bench_predict(base, scratch, args.repeat)
        data = Path(args.data)
        if data.is_dir():
            report["evaluate_10000"] = bench_evaluate(base, data, scratch)
        else:
            report["evaluate_10000"] = {"skipped": f"{data} not found (see data/README.md)"}
    report["load_after"] = load()
    report["targets_met"] = {
        name: report[name].get("target_met") for name in ("help", "predict_one_png", "evaluate_10000")
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
