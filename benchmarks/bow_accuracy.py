"""Held-out accuracy of bag-of-visual-words features on CIFAR-10, with mlpcli's own training loop.

A quick check of the features outside the config pipeline (issue 16, phase 1):
  1. a stratified split of the images: ``--holdout`` (0.2: 10,000 of 50,000) held out;
  2. the vocabulary fitted on the training rows only (``bow.fit``), timed;
  3. every image encoded (``bow.encode``), timed; ``--cache FILE`` keeps the features (and the
     split) in an .npz to try other classifiers without encoding again;
  4. standardization fitted on the training rows, then mlpcli's ``Trainer`` (SGD, momentum 0.9,
     step schedule) on the training rows for a linear softmax classifier (``--linear-epochs``)
     and a one-hidden-layer MLP (``--mlp-hidden``, ``--mlp-epochs``); the held-out rows are
     scored after each epoch but never steer training (no early stopping). Reported: the
     held-out accuracy after the last epoch, and the best epoch's (an optimistic number).

Usage: python benchmarks/bow_accuracy.py [--data data/cifar10-jpg/train | --npz images.npz]
       [--cache bow-features.npz] [--set words=1600 ...] [--linear-epochs 20] [--mlp-epochs 30]
Prints one JSON document on stdout (progress on stderr). Target (issue 16): >= 72% held out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from machine import load, machine  # first: sets up BLAS as mlpcli does

# isort: split

import numpy as np
from bow import Timed, load_images, parse_set, say

from mlpcli.config.schema import ModelConfig, TrainConfig
from mlpcli.data.split import stratified_split
from mlpcli.features import bow
from mlpcli.features.standardize import Standardizer
from mlpcli.nn import build_mlp
from mlpcli.train.loop import Trainer

N_CLASSES = 10


def load_labelled(args) -> tuple[np.ndarray, np.ndarray]:
    if args.npz is not None:
        with np.load(args.npz, allow_pickle=False) as stored:
            return stored["images"], stored["labels"].astype(np.int64)
    from mlpcli.data.folder import load_folder

    images = load_images(args)
    return images, load_folder(args.data, (32, 32), cache_dir=".mlpcli-cache").labels.astype(np.int64)


def features(args, params: dict, report: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X (n_images, n_features) float32, labels, train rows, held-out rows), from the cache or made."""
    if args.cache is not None and args.cache.exists():
        say(f"features from {args.cache}")
        with np.load(args.cache, allow_pickle=False) as stored:
            made = json.loads(str(stored["report"]))
            if made["params"] != params or made["seed"] != args.seed or made["holdout"] != args.holdout:
                sys.exit(
                    f"{args.cache} holds features of other parameters, seed or holdout "
                    f"({made['params']}, seed {made['seed']}, holdout {made['holdout']}); "
                    "remove it or pass another --cache"
                )
            report.update(made)
            return stored["X"], stored["labels"], stored["train"], stored["holdout"]
    images, labels = load_labelled(args)
    train, holdout = stratified_split(labels, args.holdout, np.random.default_rng(args.seed))
    say(f"fitting the vocabulary on {len(train)} training images")
    with Timed() as timed:
        state = bow.fit(images[train], params, np.random.default_rng(args.seed))
    made = {"params": params, "seed": args.seed, "holdout": args.holdout, "fit": timed.report(n_images=len(train))}
    say(f"fit: {timed.seconds:.1f} s; encoding {len(images)} images")
    with Timed() as timed:
        X = bow.encode(images, state, params)
    made["encode"] = timed.report(n_images=len(images))
    say(f"encode: {timed.seconds:.1f} s")
    report.update(made)
    if args.cache is not None:
        np.savez(args.cache, X=X, labels=labels, train=train, holdout=holdout, report=json.dumps(made))
    return X, labels, train, holdout


def train_classifier(
    X, y, train, holdout, hidden: list[int], epochs: int, lr: float, weight_decay: float, seed: int
) -> dict:
    init_rng, shuffle_rng, augment_rng, dropout_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    network = build_mlp(X.shape[1], N_CLASSES, hidden, "relu", rng=init_rng, dtype="float32")
    config = TrainConfig(
        epochs=epochs,
        batch_size=128,
        lr=lr,
        momentum=0.9,
        schedule="step",
        step_size=max(1, epochs * 2 // 3),
        gamma=0.1,
    )
    rngs = {"shuffle": shuffle_rng, "augment": augment_rng, "dropout": dropout_rng}
    model = ModelConfig(loss="softmax", weight_decay=weight_decay)
    trainer = Trainer(network, Standardizer.fit(X, train), config, model, rngs)
    with Timed() as timed:
        history = trainer.fit(X, y, train, holdout)
    accuracies = [epoch["val_accuracy"] for epoch in history.epochs]
    result = timed.report(
        hidden=hidden,
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        train_accuracy_last=round(history.epochs[-1]["train_accuracy"], 4),
        holdout_accuracy_last=round(accuracies[-1], 4),
        holdout_accuracy_best=round(max(accuracies), 4),
        best_epoch=int(np.argmax(accuracies)) + 1,
    )
    say(f"hidden {hidden}: held-out accuracy {accuracies[-1]:.4f} after {epochs} epochs ({timed.seconds:.0f} s)")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/cifar10-jpg/train")
    parser.add_argument("--npz", type=Path, help="arrays images (n, 32, 32, 3) uint8 and labels (n,)")
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--linear-epochs", type=int, default=20)
    parser.add_argument("--linear-lr", type=float, default=0.001)
    parser.add_argument("--linear-weight-decay", type=float, default=1e-3)
    parser.add_argument("--mlp-hidden", type=int, default=512)
    parser.add_argument("--mlp-epochs", type=int, default=30)
    parser.add_argument("--mlp-lr", type=float, default=0.01)
    parser.add_argument("--mlp-weight-decay", type=float, default=5e-4)
    args = parser.parse_args()
    params = parse_set(args.set)
    report = {"params": params, "machine": machine(), "load_at_start": load()}
    X, y, train, holdout = features(args, params, report)
    report["n_train"], report["n_holdout"], report["n_features"] = len(train), len(holdout), X.shape[1]
    report["classifiers"] = {}
    if args.linear_epochs > 0:
        report["classifiers"]["linear_softmax"] = train_classifier(
            X, y, train, holdout, [], args.linear_epochs, args.linear_lr, args.linear_weight_decay, args.seed
        )
    if args.mlp_epochs > 0:
        report["classifiers"][f"mlp_{args.mlp_hidden}"] = train_classifier(
            X, y, train, holdout, [args.mlp_hidden], args.mlp_epochs, args.mlp_lr, args.mlp_weight_decay, args.seed
        )
    report["load_at_end"] = load()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
