"""Augmentation for the fixed features: augmented copies of every image, extracted once, cached.

Re-extracting HOG, color histograms or a bag of words from freshly augmented images every epoch
costs an extraction of the training set per epoch (see ``benchmarks/augment_cost.py``); ``copies``
augmented copies cost that many extractions once, and the cache shares them with every later run,
fold and search trial on the same data. The matrix of a run is then
``((1 + copies) * n_samples, n_features)``: rows ``0 .. n_samples - 1`` are the plain features
(validation, standardization and scores read only these), and row ``c * n_samples + i`` is copy c
of image i. Training draws, for each row of each minibatch, which of the ``1 + copies`` versions it
sees (``pick_versions``).

A copy's random draws come from the ``copies`` stream, one generator per (copy, block of
``BLOCK`` images): the same bytes whatever the chunking of extraction and the thread count.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import cache, seeding
from ..features.pipeline import cache_key, extract_features, feature_widths
from ..progress import log
from .augment import augment_images

#: Images per independent draw of a copy's augmentation (fixed, so the draws do not depend on
#: how extraction is chunked).
BLOCK = 256


class AugmentedImages:
    """``images (n_images, height, width, 3) uint8`` seen through copy ``copy`` of the ``augment``
    section: a slice gives those images augmented, as uint8 (rounded from [0, 1])."""

    ndim = 4
    dtype = np.dtype(np.uint8)

    def __init__(self, images, augment, seed: int, copy: int) -> None:
        self.images, self.augment, self.seed, self.copy = images, augment, seed, copy
        self.shape = tuple(images.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: slice) -> np.ndarray:
        start, stop, step = index.indices(len(self))
        if step != 1:
            raise ValueError("AugmentedImages takes slices of step 1")
        first = start // BLOCK
        blocks = [self._block(b) for b in range(first, -(-stop // BLOCK))]
        joined = np.concatenate(blocks) if blocks else np.empty((0, *self.shape[1:]), np.uint8)
        return joined[start - first * BLOCK : stop - first * BLOCK]

    def _block(self, block: int) -> np.ndarray:
        pixels = np.asarray(self.images[block * BLOCK : (block + 1) * BLOCK], np.float32) / np.float32(255)
        rng = seeding.rng(self.seed, "copies", self.copy, block)
        augmented = augment_images(pixels, self.augment, rng)
        return np.rint(augmented * np.float32(255)).astype(np.uint8)


def augmented_features(dataset, features, dtype, cache_dir: str | None, states, augment, seed: int) -> np.ndarray:
    """The plain features and ``augment.copies`` augmented copies, stacked:
    ``((1 + copies) * n_images, n_features)`` of ``dtype``, memory-mapped read-only from the
    cache (``cache_dir``; None: a scratch file), built there by chunks when missing."""
    n, height, width = dataset.images.shape[:3]
    shape = ((1 + augment.copies) * n, sum(feature_widths(features, height, width)))
    path = None
    if cache_dir is not None and dataset.fingerprint is not None:
        description = {
            "features": cache_key(dataset.fingerprint, features, dtype, states),
            "seed": seed,
            "augment": asdict(augment),
        }
        key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:24]
        path = Path(cache_dir) / f"augmented-{key}.npy"
        X = cache.load_mapped(path, shape, dtype, "augmented features")
        if X is not None:
            log.info("features: %d augmented copies loaded from cache %s", augment.copies, path)
            return X
    started = time.perf_counter()

    def fill(out: np.ndarray) -> None:
        for copy in range(1 + augment.copies):
            images = dataset.images if copy == 0 else AugmentedImages(dataset.images, augment, seed, copy)
            extract_features(images, features, dtype, states=states, out=out[copy * n : (copy + 1) * n])

    X = cache.mapped_array(path, shape, dtype, fill, "augmented features")
    log.info(
        "features: extracted %d augmented copies of %d images in %.1f s",
        augment.copies,
        n,
        time.perf_counter() - started,
    )
    return X


def pick_versions(rows: np.ndarray, n_samples: int, n_copies: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of the stacked matrix for the sample ``rows (n_rows,)``: each its original or one of
    its ``n_copies`` copies, uniformly."""
    return rows + n_samples * rng.integers(0, n_copies + 1, size=len(rows))
