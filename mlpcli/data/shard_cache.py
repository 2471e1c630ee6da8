"""Decode a list of files shard by shard into memory-mapped arrays, reusing cached shards.

The sorted files are cut into content-defined shards (``shards.shard_bounds``); a shard is keyed
by its files' names, sizes and modification times and the decode settings, and stored in
``<cache_dir>/images/<key>.npy`` (its kept images) with ``<key>.json`` (which files were kept,
and why the others failed). Only the shards whose files changed are decoded, one shard in
memory at a time, on one process pool; without a cache folder the shards go to scratch files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .. import cache
from ..fileio import write_json
from ..progress import bar, log
from .filelist import file_stat
from .shards import shard_bounds, shard_length

# Bump when decoding changes what it makes of a file, so stale shards are not reused.
SHARD_VERSION = 1

#: One decoded shard: (kept images (n_kept, height, width, 3) uint8, kept (n_files,) bool, failures).
Shard = tuple[np.ndarray, np.ndarray, list[dict]]


def decode_shards(paths: list[Path], names: list[str], spec, max_pixels: int,
                  cache_dir: str | None) -> list[Shard]:
    """Per shard of ``paths`` (named ``names`` for the boundaries and keys; ``spec`` a
    ``shape.Preprocess``): (kept images (n_kept, height, width, 3) uint8, memory-mapped;
    kept (n_files,) bool; failures [{"path", "reason"}]). Nothing is reported here."""
    from .folder import decode_files, decode_pool

    folder = Path(cache_dir) / "images" if cache_dir is not None else None
    bounds = shard_bounds(names, shard_length(spec.size))
    keys = [shard_key(paths[a:b], names[a:b], spec, max_pixels) for a, b in bounds]
    results: list[Shard | None] = [_load_shard(folder, key, b - a, spec.size) if folder else None
                                   for key, (a, b) in zip(keys, bounds)]
    missing = [index for index, result in enumerate(results) if result is None]
    to_decode = [path for index in missing for path in paths[slice(*bounds[index])]]
    if len(missing) < len(bounds):
        log.info("data: %d of %d images decoded before, mapped from %s", len(paths) - len(to_decode),
                 len(paths), folder)
    with decode_pool(to_decode) as pool, bar(len(to_decode), "decode", unit="img") as progress:
        for index in missing:
            images, kept, failures = decode_files(paths[slice(*bounds[index])], spec, max_pixels, pool, progress)
            results[index] = (_store_shard(folder, keys[index], images, kept, failures), kept, failures)
    shards = [result for result in results if result is not None]
    assert len(shards) == len(results)  # every missing shard was decoded just above
    return shards


def shard_key(paths: list[Path], names: list[str], spec, max_pixels: int) -> str:
    """Changes when a file of the shard is added, removed, renamed, resized or touched, or when
    what decoding makes of it changes (size, resize policy, color, pixel limit)."""
    described = (tuple(spec.size), spec.describe(), max_pixels, SHARD_VERSION)
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=list).encode())
    for path, name in zip(paths, names):
        digest.update(f"{name}\0{file_stat(path)}\n".encode())
    return digest.hexdigest()[:24]


def _load_shard(folder: Path, key: str, n_files: int, image_size) -> Shard | None:
    """(images, kept, failures) of a cached shard, or None if it is missing or does not fit."""
    def read(file: Path):
        meta = json.loads(file.read_text())
        kept = np.asarray(meta["kept"], dtype=bool)
        return (kept, list(meta["failures"])) if kept.shape == (n_files,) else None

    meta = cache.load(folder / f"{key}.json", read, "data")
    if meta is None:
        return None
    kept, failures = meta
    images = cache.load_mapped(folder / f"{key}.npy", (int(kept.sum()), *image_size, 3), np.uint8, "data")
    return None if images is None else (images, kept, failures)


def _store_shard(folder: Path | None, key: str, images: np.ndarray, kept: np.ndarray, failures) -> np.ndarray:
    """Write a decoded shard (to the cache folder, else a scratch file) -> its images, mapped."""
    def fill(out: np.ndarray) -> None:
        out[...] = images
    mapped = cache.mapped_array(folder / f"{key}.npy" if folder else None, images.shape, np.uint8, fill, "data")
    if folder is not None:  # the images first: a shard counts once its description is there
        meta = {"kept": kept.tolist(), "failures": failures}
        cache.store(folder / f"{key}.json", lambda file: write_json(file, meta), "data")
    return mapped
