"""Images -> feature matrix: run the configured extractors, concatenate, cache on disk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .. import cache
from ..errors import ConfigError
from ..fileio import atomic_save_npy
from ..progress import bar, log
from . import FEATURES

CHUNK = 2048
# Bump when an extractor's output changes, so stale caches are not reused.
CACHE_VERSION = 1


def feature_widths(features, height: int, width: int) -> list[int]:
    """Output length of each configured extractor for images of ``height`` x ``width``."""
    widths = []
    for index, feature in enumerate(features):
        try:
            widths.append(FEATURES[feature.name].n_features(height, width, **feature.params))
        except ValueError as exc:
            raise ConfigError(f"features[{index}] ({feature.name}): {exc}") from None
    return widths


def extract_features(images: np.ndarray, features, dtype="float32", progress: bool = True) -> np.ndarray:
    """(n_images, height, width, 3) uint8 -> (n_images, n_features) of ``dtype``.

    Extractors run in order on chunks of images and write into one preallocated matrix, so peak
    memory is the result plus one chunk's temporaries.
    """
    n, height, width = images.shape[:3]
    widths = feature_widths(features, height, width)
    bounds = np.cumsum([0, *widths])
    X = np.empty((n, bounds[-1]), dtype=dtype)
    with bar(n, "features", unit="img") if progress and n > CHUNK else bar(0, "") as progress_bar:
        for start in range(0, n, CHUNK):
            chunk = images[start:start + CHUNK]
            for feature, lo, hi in zip(features, bounds[:-1], bounds[1:]):
                X[start:start + len(chunk), lo:hi] = FEATURES[feature.name].extract(
                    chunk, dtype=dtype, **feature.params)
            progress_bar.update(len(chunk))
    return X


def cache_key(fingerprint: str, features, dtype) -> str:
    description = {"data": fingerprint, "dtype": np.dtype(dtype).name, "version": CACHE_VERSION,
                   "features": [{"name": f.name, **f.params} for f in features]}
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:24]


def cached_features(dataset, features, dtype="float32", cache_dir: str | None = ".mlpcli-cache") -> np.ndarray:
    """``extract_features`` for a Dataset, reusing the matrix saved by an earlier run on the same
    data (by fingerprint) with the same parameters. ``cache_dir=None`` bypasses the cache; a
    damaged entry is rebuilt and an unwritable cache folder only warned about (see ``cache``)."""
    if cache_dir is None or dataset.fingerprint is None:
        return extract_features(dataset.images, features, dtype)
    path = Path(cache_dir) / f"features-{cache_key(dataset.fingerprint, features, dtype)}.npy"
    n, height, width = dataset.images.shape[:3]
    expected = (n, sum(feature_widths(features, height, width)))

    def read(file: Path) -> np.ndarray | None:
        X = np.load(file, allow_pickle=False)
        return X if X.shape == expected and X.dtype == np.dtype(dtype) else None

    X = cache.load(path, read, "features")
    if X is not None:
        log.info("features: loaded from cache %s", path)
        return X
    X = extract_features(dataset.images, features, dtype)
    cache.store(path, lambda file: atomic_save_npy(file, X), "features")
    return X
