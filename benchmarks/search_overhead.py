"""What a Dask cluster costs a search, against local worker processes on the same machine.

The same search (synthetic images, raw pixels, ``--trials`` random trials x ``--k`` folds) runs
twice: with ``--jobs 2`` (two spawned local processes) and with ``--cluster local:2`` (a local
Dask cluster of two single-threaded workers). For each it reports the search's wall time (from
the first unit submitted to the last saved, so cluster start-up is reported apart), and per unit,
from the worker's and the client's clocks (one machine, one clock):

  train      seconds inside the unit (``UnitResult.seconds``)
  dispatch   the gap on a worker between finishing one unit and starting the next (the scheduler
             handing it work, the arguments arriving); a worker's first unit is counted from the
             moment the search started, so it includes shipping the shared data
  return     from the unit finishing on the worker to the client having saved it

Usage: python benchmarks/search_overhead.py [--trials 8] [--k 3] [--n-per-class 200] [--repeat 3]
Prints one JSON document on stdout. Target (issue 14): cluster wall <= 1.15 x local wall.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's mlpcli

from machine import load, machine

from mlpcli.commands import run_search
from mlpcli.config import load_config
from mlpcli.units.placement import Placement


def search_yaml(folder: Path, args) -> Path:
    config = {
        "seed": 0,
        "data": {
            "format": "synthetic",
            "n_per_class": args.n_per_class,
            "image_size": 32,
            "cache_dir": str(folder / "cache"),
        },
        "model": {"hidden": [128]},
        "train": {"epochs": args.epochs, "batch_size": 64, "lr": 0.01},
        "output": {"dir": str(folder / "runs")},
        "search": {
            "strategy": "random",
            "trials": args.trials,
            "space": {
                "train.lr": {"loguniform": [1.0e-3, 1.0e-1]},
                "model.hidden": {"choice": [[64], [128], [128, 64]]},
            },
        },
    }
    path = folder / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def unit_times(summary: dict, search_started: float) -> dict:
    """Per-unit train / dispatch / return seconds (see the module docstring)."""
    train, dispatch, first, returned = [], [], [], []
    for worker in {u["worker"] for u in summary["units"]}:
        units = sorted((u for u in summary["units"] if u["worker"] == worker), key=lambda u: u["started"])
        previous = None
        for unit in units:
            train.append(unit["seconds"])
            returned.append(unit["received"] - unit["finished"])
            if previous is None:
                first.append(unit["started"] - search_started)
            else:
                dispatch.append(unit["started"] - previous)
            previous = unit["finished"]
    mean = lambda values: statistics.fmean(values) if values else None  # noqa: E731
    return {
        "units": len(train),
        "train_mean": mean(train),
        "dispatch_mean": mean(dispatch),
        "return_mean": mean(returned),
        "first_unit_start_mean": mean(first),
        "overhead_per_unit": (mean(dispatch) or 0) + (mean(returned) or 0),
        "overhead_fraction": ((mean(dispatch) or 0) + (mean(returned) or 0)) / mean(train),
    }


def one_search(config_path: Path, out: Path, k: int, **where) -> dict:
    opened = time.time()
    summary = run_search(load_config(config_path), out=out, k=k, placement=Placement(**where))
    total = time.time() - opened
    search_started = summary["started_at"]
    return {
        "executor": summary["executor"],
        "wall_seconds": summary["wall_seconds"],
        "total_seconds": total,
        "startup_and_features_seconds": total - summary["wall_seconds"],
        "share_seconds": summary["share_seconds"],
        **unit_times(summary, search_started),
        "best_mean_accuracy": summary["trials"][0]["mean_accuracy"],
        "table": [(r["trial"], r["mean_accuracy"]) for r in summary["trials"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--n-per-class", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    before = load()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        config = search_yaml(folder, args)
        run_search(load_config(config), trials=1, k=2, out=folder / "warm")  # fills the feature cache
        runs = {"local_jobs_2": [], "dask_local_2": []}
        for repeat in range(args.repeat):  # alternated, so a change in the machine's load hits both
            runs["local_jobs_2"].append(one_search(config, folder / f"local{repeat}", k=args.k, jobs=2))
            runs["dask_local_2"].append(one_search(config, folder / f"dask{repeat}", k=args.k, cluster="local:2"))
    median = lambda name, key: statistics.median(r[key] for r in runs[name])  # noqa: E731
    keys = (
        "wall_seconds",
        "train_mean",
        "dispatch_mean",
        "return_mean",
        "overhead_per_unit",
        "share_seconds",
        "startup_and_features_seconds",
    )
    print(
        json.dumps(
            {
                "machine": machine(),
                "load_before": before,
                "load_after": load(),
                "search": {
                    "trials": args.trials,
                    "k": args.k,
                    "n_per_class": args.n_per_class,
                    "epochs": args.epochs,
                    "repeat": args.repeat,
                },
                "median": {name: {key: median(name, key) for key in keys} for name in runs},
                "cluster_over_local_wall": median("dask_local_2", "wall_seconds")
                / median("local_jobs_2", "wall_seconds"),
                "cluster_over_local_overhead_per_unit": median("dask_local_2", "overhead_per_unit")
                / median("local_jobs_2", "overhead_per_unit"),
                "same_table": all(r["table"] == runs["local_jobs_2"][0]["table"] for rs in runs.values() for r in rs),
                "target": "cluster_over_local_wall <= 1.15",
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
