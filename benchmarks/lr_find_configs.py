"""The learning-rate range test on each shipped config: the suggested lr against the config's own.

For every config in configs/ (or those named with --only), ``mlpcli lr-find``'s library call
(``commands.run_lr_find``, default range 1e-6..1 in 200 steps) with ``data.path`` set to --data
(and ``data.format: folder`` for the configs that read another format); quickstart keeps its
synthetic data. Issue 25 asks for a suggestion within a factor of 3 of the config's lr (or a
reason why the config's is better).

Usage: python benchmarks/lr_find_configs.py [--data data/cifar10-jpg/train] [--only cifar10-hog ...]
       [--cache-dir .mlpcli-cache]
Prints one JSON document on stdout (progress on stderr). Several minutes: the end-to-end config's
200 convolutional steps and the bag of words' first extraction dominate.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from machine import machine  # first: sets up BLAS as mlpcli does

from mlpcli.commands import run_lr_find
from mlpcli.config import load_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def measure(path: Path, data: str, cache_dir: str) -> dict:
    overrides = [f"data.cache_dir={cache_dir}"]
    if path.stem != "quickstart":
        overrides += [f"data.path={data}", "data.format=folder"]
    started = time.perf_counter()
    result = run_lr_find(load_config(path, overrides))
    ratio = result["suggested_lr"] / result["config_lr"] if result["suggested_lr"] else None
    return {
        "config_lr": result["config_lr"],
        "suggested_lr": result["suggested_lr"],
        "min_lr": result["min_lr"],
        "steepest_lr": result["steepest_lr"],
        "ratio": ratio,
        "within_3x": ratio is not None and 1 / 3 <= ratio <= 3,
        "steps": result["steps"],
        "diverged": result["diverged"],
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/cifar10-jpg/train")
    parser.add_argument("--only", nargs="*", help="config names (file stems) to run")
    parser.add_argument("--cache-dir", default=".mlpcli-cache")
    args = parser.parse_args()
    paths = sorted(p for p in CONFIGS.glob("*.yaml") if not args.only or p.stem in args.only)
    results = {path.stem: measure(path, args.data, args.cache_dir) for path in paths}
    print(
        json.dumps(
            {
                "machine": machine(),
                "rule": "smallest lr within one standard error of the centred minimum",
                "configs": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
