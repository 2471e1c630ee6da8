"""Feature extraction in shards on other machines: what ``extract_features(mapper=...)`` runs.

A *mapper* is any callable ``mapper(fn, calls) -> iterable of (index, fn(*calls[index]))``,
yielding every call once, in any order (``units.mapping.ClusterMap`` runs them on a Dask
cluster's workers). Each shard is a run of whole extraction chunks (``chunk_images``, counted
from the first image as in this process), and a worker extracts it chunk by chunk: every image's
features come from the same computation on the same chunk as local extraction, so the matrix is
the same bytes. Fitted extractors (bow) are fitted first, by the client; their states travel
with every shard.
"""

from __future__ import annotations

import ctypes
import functools
import os

import numpy as np

from ..progress import bar
from .pipeline import extract_into, feature_widths

#: Bytes of images an extraction shard holds at most (unless one chunk is more): one task each.
SHARD_BYTES = 8 << 20


def shard_rows(n_images: int, chunk: int, per_image_bytes: int) -> list[tuple[int, int]]:
    """(start, stop) of each extraction shard: whole chunks of ``chunk`` images, about
    ``SHARD_BYTES`` of images (``per_image_bytes`` each) per shard, at least one chunk (so usually
    one chunk: many small tasks spread over many workers)."""
    step = chunk * max(1, SHARD_BYTES // (chunk * per_image_bytes))
    return [(start, min(start + step, n_images)) for start in range(0, n_images, step)]


def extract_spread(images, features, states: tuple, dtype, chunk: int, out: np.ndarray, mapper) -> None:
    """Fill ``out`` (n_images, n_features) with the features of ``images`` (n_images, height,
    width, 3) uint8, shard by shard on ``mapper``; a progress bar counts the shards. Each shard's
    images are read here (an array-like's slice) and sent to the worker that extracts it."""
    n, height, width = images.shape[:3]
    bounds = shard_rows(n, chunk, height * width * 3)
    calls = ((np.ascontiguousarray(images[start:stop]), features, states, dtype, chunk) for start, stop in bounds)
    with bar(len(bounds), "features", unit="shard") as progress:
        for index, block in mapper(extract_shard, calls):
            start, stop = bounds[index]
            out[start:stop] = block
            progress.update(1)


def extract_shard(images: np.ndarray, features, states: tuple, dtype, chunk: int) -> np.ndarray:
    """On a worker: (n_images, height, width, 3) uint8 -> (n_images, n_features) of ``dtype``,
    extracted ``chunk`` images at a time from the first, as ``extract_features`` does here."""
    keep_freed_memory()
    images = np.require(images, requirements=["C", "A"])  # a transfer may deliver odd addresses
    n, height, width = images.shape[:3]
    bounds = np.cumsum([0, *feature_widths(features, height, width)])
    X = np.empty((n, bounds[-1]), dtype=dtype)
    for start in range(0, n, chunk):
        extract_into(images[start : start + chunk], features, states, dtype, bounds, X[start : start + chunk])
    return X


#: glibc's ``mallopt`` parameters.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


@functools.cache
def keep_freed_memory() -> None:
    """Undo, in a Dask worker, what ``MALLOC_TRIM_THRESHOLD_`` does to NumPy's temporaries.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which turns off glibc's
    adaptive thresholds: every array over 128 KB is then a fresh ``mmap`` whose pages fault in one
    by one, and extraction ran 4.3x slower on a worker (measured: 0.44 s against 0.10 s for 205
    images of 128 px, HOG + color). This sets the thresholds glibc's adaptive rule reaches for
    such arrays, once per process; elsewhere (no variable, not glibc) it does nothing."""
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_TRIM_THRESHOLD, 64 << 20)
        mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
