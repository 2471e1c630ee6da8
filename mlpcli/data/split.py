"""Stratified train/validation split: every class is split in the same proportion."""

from __future__ import annotations

import numpy as np

from .. import seeding


def stratified_split(labels: np.ndarray, val_fraction: float, rng: np.random.Generator):
    """labels (n_samples,) int -> (train_rows, val_rows), sorted int64 index arrays.

    Each class contributes round(val_fraction * class size) rows to validation, at least one
    when the fraction is positive and the class has two or more samples, and never all of them:
    a class with a single sample stays in training whatever the fraction.
    """
    train, val = [], []
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        n_val = 0
        if val_fraction > 0 and rows.size >= 2:
            n_val = min(max(int(round(val_fraction * rows.size)), 1), rows.size - 1)
        val.append(rows[:n_val])
        train.append(rows[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def holdout_rows(labels: np.ndarray, fraction: float, seed: int):
    """(kept_rows, held_out_rows): ``fraction`` of every class held out, from the seed's ``split``
    stream; nothing is held out when ``fraction`` is 0."""
    if fraction == 0:
        return np.arange(len(labels)), np.empty(0, dtype=np.int64)
    return stratified_split(labels, fraction, seeding.rng(seed, "split"))
