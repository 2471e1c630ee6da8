"""Decoded images stored in shards on disk and read like one array.

A folder of photos is decoded once into shards of about ``SHARD_BYTES`` of images each, every
shard a memory-mapped ``.npy`` file: memory does not grow with the number of images, and a
changed folder decodes only the shards whose files changed. Shard boundaries are
content-defined: a shard ends after a file whose name hashes to 0 modulo the target shard
length, so adding or removing one photo changes the shard it falls in and no other.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

#: Bytes of decoded images one shard holds (about): the unit of decoding, caching and memory.
SHARD_BYTES = 64 << 20
#: A shard never holds more than this many times the target length (a long run of files whose
#: names never hash to a boundary).
MAX_SHARD_FACTOR = 4


def shard_length(image_size) -> int:
    """Target number of images per shard for images of ``image_size = (height, width)``."""
    height, width = image_size
    return max(16, SHARD_BYTES // (height * width * 3))


def shard_bounds(names: Sequence[str], target: int) -> list[tuple[int, int]]:
    """(start, stop) of each shard of the sorted file ``names``: a shard ends after a name whose
    CRC-32 is 0 modulo ``target``, or at ``MAX_SHARD_FACTOR * target`` names."""
    bounds, start = [], 0
    for index, name in enumerate(names):
        length = index + 1 - start
        if zlib.crc32(name.encode()) % target == 0 or length >= MAX_SHARD_FACTOR * target:
            bounds.append((start, index + 1))
            start = index + 1
    if start < len(names):
        bounds.append((start, len(names)))
    return bounds


class ShardedImages:
    """Images (n_images, height, width, 3) uint8 held as consecutive shards (each an array, usually
    memory-mapped), read like one array: an integer gives an image; a slice, an integer index
    array or a boolean mask gives a new array of those images, in that order."""

    ndim = 4
    dtype = np.dtype(np.uint8)

    def __init__(self, shards: list[np.ndarray]) -> None:
        if not shards:
            raise ValueError("ShardedImages needs at least one shard")
        self.shards = shards
        self.offsets = np.cumsum([0, *(len(shard) for shard in shards)])
        self.shape = (int(self.offsets[-1]), *shards[0].shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            row = int(index) + len(self) if index < 0 else int(index)
            shard = int(np.searchsorted(self.offsets, row, side="right")) - 1
            return self.shards[shard][row - self.offsets[shard]]
        if isinstance(index, slice):
            return self._gather(np.arange(*index.indices(len(self))))
        rows = np.asarray(index)
        return self._gather(np.flatnonzero(rows) if rows.dtype == bool else rows)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        images = self[:]
        return images if dtype is None else images.astype(dtype)

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        rows = np.where(rows < 0, rows + len(self), rows)
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        for shard in np.unique(which):
            mask = which == shard
            out[mask] = self.shards[shard][rows[mask] - self.offsets[shard]]
        return out
