"""What a k-fold run costs relative to one training run of the same config, on equal work.

Both runs train on the same number of rows: the single run holds out 1/k of the data for
validation (``data.val_fraction = 1/k``), exactly as each fold does. Both start with a cold cache
(each decodes the images once). The feature extractor is wrapped to count how often the whole
data set goes through it: k-fold must extract once for all folds, not once per fold.

Prints one JSON document: wall times, the ratio kfold / (k x train), and the extraction counts.
Target (issue 4): ratio <= 1.1 and exactly one extraction per run.

Usage: python benchmarks/kfold_cost.py [--config configs/cifar10-hog.yaml] [--k 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine

from mlpcli import commands
from mlpcli.config import load_config
from mlpcli.features import pipeline


def counting_extractions(counts: list[int]):
    """Wrap ``pipeline.extract_features`` so each call on the images appends their number."""
    original = pipeline.extract_features

    def extract(images, *args, **kwargs):
        counts.append(len(images))
        return original(images, *args, **kwargs)

    pipeline.extract_features = extract


def timed(run, *args, **kwargs) -> tuple[float, dict, list[int]]:
    counts: list[int] = []
    counting_extractions(counts)
    started = time.perf_counter()
    result = run(*args, **kwargs)
    return time.perf_counter() - started, result, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/cifar10-hog.yaml")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    config = load_config(args.config, [f"data.val_fraction={1 / args.k}"])
    original = pipeline.extract_features
    with tempfile.TemporaryDirectory(prefix="mlpcli-bench-") as scratch:
        train_s, train, train_counts = timed(commands.run_train, config, out=f"{scratch}/train", use_cache=False)
        pipeline.extract_features = original
        kfold_s, kfold, kfold_counts = timed(
            commands.run_kfold, config, k=args.k, out=f"{scratch}/kfold", use_cache=False
        )
    print(
        json.dumps(
            {
                "config": args.config,
                "k": args.k,
                "rows_trained_per_model": "equal (val_fraction = 1/k)",
                "train_seconds": round(train_s, 2),
                "kfold_seconds": round(kfold_s, 2),
                "ratio_kfold_over_k_trains": round(kfold_s / (args.k * train_s), 3),
                "target_ratio": 1.1,
                "extractions": {"train": train_counts, "kfold": kfold_counts},
                "kfold_extracts_once": len(kfold_counts) == 1,
                "train_val_accuracy": train["val_accuracy"],
                "kfold_mean_accuracy": kfold["mean_accuracy"],
                "kfold_std_accuracy": kfold["std_accuracy"],
                "machine": machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
