"""What augmentation costs per epoch for each kind of feature: re-extraction against cached copies.

For the features of the shipped configs (raw pixels, HOG + color histograms, bag of words) on a
small CIFAR-like set (the first --per-class JPEGs of each class of the CIFAR-10 folder), measures:
the augmentation of every image (flip, crop 2, brightness and contrast 0.2, erasing 0.25), the
extraction of every image's features (what re-extracting augmented images would add to each
epoch), one training epoch of the config's network on the plain rows, on rows drawn from one
augmented copy (the gather from the stacked matrix), and, for raw pixels, on rows augmented in the
minibatch. Seconds are scaled to 45,000 training images (CIFAR-10 minus a 10% validation split).

Usage: python benchmarks/augment_cost.py [--per-class 500] [--folder /work/bench/cifar/train]
  [--bow-set sample_patches=50000]
Prints one JSON document on stdout. On a shared machine read the timings with its load fields.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import machine  # first: BLAS settings before NumPy loads
import numpy as np
from PIL import Image

from mlpcli.config import load_config
from mlpcli.data import Dataset
from mlpcli.features.pipeline import extract_features, fit_features
from mlpcli.seeding import rng
from mlpcli.train.copies import AugmentedImages, augmented_features
from mlpcli.train.fit import Prepared, train_model

CONFIGS = {
    "raw": "configs/cifar10-raw.yaml",
    "hog_color": "configs/cifar10-hog.yaml",
    "bow": "configs/cifar10-bow.yaml",
}
AUGMENT = {"flip": True, "crop_padding": 2, "brightness": 0.2, "contrast": 0.2, "erase": 0.25, "copies": 1}
SCALE_TO = 45_000


def load_images(folder: Path, per_class: int) -> Dataset:
    """The first ``per_class`` JPEGs (by name) of each class folder, decoded."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).iterdir())[:per_class]:
            images.append(np.asarray(Image.open(path).convert("RGB")))
            labels.append(label)
    return Dataset(np.stack(images), np.array(labels, np.int64), tuple(classes))


def seconds(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def one_epoch(config, prepared: Prepared, augment: dict | None) -> float:
    """Seconds of one epoch of the config's network on every row (no validation rows)."""
    section = dataclasses.replace(config.train.augment, **(augment or {"flip": False, "crop_padding": 0}))
    config = dataclasses.replace(
        config, train=dataclasses.replace(config.train, epochs=1, augment=section, patience=None)
    )
    rows = np.arange(len(prepared.dataset))
    return seconds(lambda: train_model(config, prepared, rows, rows[:0]))


def measure(name: str, dataset: Dataset, bow_set: dict) -> dict:
    config = load_config(CONFIGS[name])
    features = config.features
    if name == "bow":
        features = tuple(dataclasses.replace(f, params={**f.params, **bow_set}) for f in features)
        config = dataclasses.replace(config, features=features)
    section = dataclasses.replace(config.train.augment, **AUGMENT)
    states = fit_features(dataset.images, features, rng(0, "features"))
    n, scale = len(dataset), SCALE_TO / len(dataset)
    augment_s = seconds(lambda: AugmentedImages(dataset.images, section, 0, 1)[0:n])
    X = None

    def extract():
        nonlocal X
        X = extract_features(dataset.images, features, config.model.dtype, progress=False, states=states)

    extract_s = seconds(extract)
    stacked = augmented_features(dataset, features, config.model.dtype, None, states, section, 0)
    plain_epoch = one_epoch(config, Prepared(dataset, X, features, states), None)
    result = {
        "n_features": int(X.shape[1]),
        "augment_images_s": augment_s * scale,
        "extract_s": extract_s * scale,
        "reextract_per_epoch_s": (augment_s + extract_s) * scale,
        "epoch_plain_s": plain_epoch * scale,
        "copy_disk_gb": SCALE_TO * X.shape[1] * X.dtype.itemsize / 1e9,
    }
    if name == "raw":
        result["epoch_pixels_augmented_s"] = one_epoch(config, Prepared(dataset, X, features, states), AUGMENT) * scale
    else:
        result["epoch_from_copies_s"] = one_epoch(config, Prepared(dataset, stacked, features, states), AUGMENT) * scale
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--folder", default="/work/bench/cifar/train")
    parser.add_argument("--bow-set", action="append", default=[], help="bow parameter=value (repeatable)")
    parser.add_argument("--only", choices=sorted(CONFIGS), action="append")
    args = parser.parse_args()
    bow_set = {k: int(v) for k, v in (item.split("=", 1) for item in args.bow_set)}
    dataset = load_images(Path(args.folder), args.per_class)
    report = {
        "load_before": machine.load(),
        "images": len(dataset),
        "scaled_to_images": SCALE_TO,
        "augment": AUGMENT,
        "bow_set": bow_set,
        "features": {name: measure(name, dataset, bow_set) for name in (args.only or CONFIGS)},
        "load_after": machine.load(),
        "machine": machine.machine(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
