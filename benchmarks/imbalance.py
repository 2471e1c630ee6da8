"""Balanced accuracy on an imbalanced CIFAR-10: plain training against ``train.class_weight:
balanced`` and ``train.sampler: balanced``, from the first epoch and deferred (issue 25).

1. An imbalanced copy of the image folder is made of symlinks (no image is copied): every class
   keeps all its images, except the ``--cut`` classes, which keep the first ``--fraction`` of
   their files in name order.
2. The config (default configs/cifar10-hog.yaml, ``--set`` overrides) is trained once per variant
   on the same features and the same stratified split; each variant is the config plus its
   overrides; ``--rebalance-after N`` (default 15; 0: leave them out) adds both deferred by N
   epochs (``train.rebalance_after``). Reported per variant: validation accuracy, balanced
   accuracy (mean recall per class, every class counting the same whatever its size), the mean
   recall of the cut and of the kept classes, training seconds and the load average before and
   after.

Usage: nice python benchmarks/imbalance.py [--data /work/bench/cifar/train] [--work DIR]
       [--config configs/cifar10-hog.yaml] [--set train.epochs=10 ...] [--fraction 0.1]
       [--rebalance-after 15] [--variants plain,sampler_deferred]
Prints one JSON document on stdout (progress on stderr). Target (issue 25): class_weight or
sampler raises balanced accuracy over the plain run by at least 5 points.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from machine import load, machine  # first: sets up BLAS as mlpcli does

# isort: split
import numpy as np

from mlpcli.config import load_config
from mlpcli.metrics import balanced_accuracy
from mlpcli.train.fit import holdout_split, prepare, train_model

REBALANCED = {"class_weight": "train.class_weight=balanced", "sampler": "train.sampler=balanced"}
CUT = ("airplane", "bird", "deer", "frog", "ship")  # every second class in name order


def imbalanced_folder(source: Path, target: Path, cut: tuple, fraction: float) -> dict:
    """target/<class>/<file> symlinks to source's images; -> {class: images kept}."""
    kept = {}
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        files = sorted(f for f in folder.iterdir() if f.is_file())
        if folder.name in cut:
            files = files[: max(1, round(fraction * len(files)))]
        (target / folder.name).mkdir(parents=True, exist_ok=True)
        for file in files:
            link = target / folder.name / file.name
            if not link.exists():
                link.symlink_to(file.resolve())
        kept[folder.name] = len(files)
    return kept


def score(confusion: np.ndarray, class_names, cut: tuple) -> dict:
    """Accuracies of a validation confusion matrix (rows: true classes)."""
    recall = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    is_cut = np.array([name in cut for name in class_names])
    return {
        "accuracy": float(np.trace(confusion) / confusion.sum()),
        "balanced_accuracy": balanced_accuracy(confusion),
        "recall_cut_classes": float(recall[is_cut].mean()),
        "recall_kept_classes": float(recall[~is_cut].mean()),
        "recall": dict(zip(class_names, np.round(recall, 4).tolist())),
    }


def run_variant(config_path: str, overrides: list[str], cut: tuple) -> dict:
    config = load_config(config_path, overrides)
    prepared = prepare(config)  # the features come from the cache after the first variant
    rows = holdout_split(config, prepared.dataset.labels, prepared.dataset.fixed_val)
    load_before = os.getloadavg()
    started = time.perf_counter()
    trained = train_model(config, prepared, *rows)
    seconds = time.perf_counter() - started
    confusion = np.array(trained.metrics["val"]["confusion"])
    return {
        **score(confusion, prepared.dataset.class_names, cut),
        "seconds": round(seconds, 1),
        "epochs": trained.metrics["epochs"],
        "n_train": len(rows[0]),
        "n_val": len(rows[1]),
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="/work/bench/cifar/train")
    parser.add_argument("--work", default="/work/bench/cifar-imbalanced", help="symlink folder and cache")
    parser.add_argument("--config", default="configs/cifar10-hog.yaml")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--rebalance-after", type=int, default=15, help="epochs before the deferred variants rebalance")
    parser.add_argument("--variants", help="comma-separated names (default: all)")
    args = parser.parse_args()
    variants = {"plain": [], **{f"{name}_balanced": [key] for name, key in REBALANCED.items()}}
    if args.rebalance_after:
        after = f"train.rebalance_after={args.rebalance_after}"
        variants |= {f"{name}_deferred": [key, after] for name, key in REBALANCED.items()}
    names = args.variants.split(",") if args.variants else list(variants)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    work = Path(args.work)
    folder = work / f"train-{args.fraction:g}"
    kept = imbalanced_folder(Path(args.data), folder, CUT, args.fraction)
    print(f"imbalanced folder {folder}: {kept}", file=sys.stderr)
    base = [f"data.path={folder}", f"data.cache_dir={work / 'cache'}", *args.overrides]
    report = {
        "command": " ".join(sys.argv),
        "config": args.config,
        "overrides": args.overrides,
        "cut_classes": list(CUT),
        "fraction": args.fraction,
        "images_per_class": kept,
        "machine": machine(),
        "load_at_start": load(),
        "variants": {},
    }
    for name in names:
        print(f"variant {name}", file=sys.stderr)
        report["variants"][name] = run_variant(args.config, base + variants[name], CUT)
    plain = report["variants"].get("plain", {}).get("balanced_accuracy")
    if plain is not None:
        report["gain_over_plain_points"] = {
            name: round(100 * (v["balanced_accuracy"] - plain), 2)
            for name, v in report["variants"].items()
            if name != "plain"
        }
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
