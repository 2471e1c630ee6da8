"""Decode a list of files shard by shard into memory-mapped arrays, reusing cached shards.

The sorted files are cut into content-defined shards (``shards.shard_bounds``); a shard is keyed
by its files' names, sizes and modification times and the decode settings, and stored in
``<cache_dir>/images/<key>.npy`` (its kept images) with ``<key>.json`` (which files were kept,
and why the others failed). Only the shards whose files changed are decoded, one shard in
memory at a time, on one process pool (or on a cluster's workers, in pieces: ``mapper``);
without a cache folder the shards go to scratch files.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import cache
from ..errors import ArtifactError, DataError
from ..fileio import write_json
from ..memory import return_freed_memory
from ..progress import bar, log
from .filelist import file_stat
from .names import PathList
from .shards import shard_bounds, shard_length

# Bump when decoding changes what it makes of a file, so stale shards are not reused.
SHARD_VERSION = 1
#: On a cluster, shards are decoded in pieces of about this many bytes of images, each piece a
#: task: a shard of 128-px images is ~1,400 files, which one worker would decode alone.
PIECE_BYTES = 8 << 20

#: One decoded shard: (kept images (n_kept, height, width, 3) uint8, kept (n_files,) bool, failures).
Shard = tuple[np.ndarray, np.ndarray, list[dict]]


def decode_shards(
    paths: PathList, names: Sequence[str], spec, max_pixels: int, cache_dir: str | None, mapper=None
) -> list[Shard]:
    """Per shard of ``paths`` (named ``names`` for the boundaries and keys; ``spec`` a
    ``shape.Preprocess``): (kept images (n_kept, height, width, 3) uint8, memory-mapped;
    kept (n_files,) bool; failures [{"path", "reason"}]). Nothing is reported here.

    ``mapper`` (see ``features.spread``): the missing shards are decoded by a cluster's workers
    (``decode_shard``, the files on storage every worker sees) and stored here, as they arrive."""
    folder = Path(cache_dir) / "images" if cache_dir is not None else None
    bounds = shard_bounds(names, shard_length(spec.size))
    keys = [shard_key(paths[a:b], names[a:b], spec, max_pixels) for a, b in bounds]
    results: list[Shard | None] = [
        _load_shard(folder, key, b - a, spec.size) if folder else None for key, (a, b) in zip(keys, bounds)
    ]
    missing = [index for index, result in enumerate(results) if result is None]
    n_decode = sum(bounds[index][1] - bounds[index][0] for index in missing)
    if len(missing) < len(bounds):
        log.info("data: %d of %d images decoded before, mapped from %s", len(paths) - n_decode, len(paths), folder)
    shards = [paths[slice(*bounds[index])] for index in missing]
    decode = _decode_here if mapper is None else functools.partial(_decode_spread, mapper=mapper)
    with contextlib.closing(decode(shards, spec, max_pixels)) as decoded:  # closed: its pool stops at once on an error
        for position, pieces in decoded:
            index = missing[position]
            results[index] = _store_shard(folder, keys[index], len(shards[position]), spec.size, pieces)
            # The shard's pieces and the workers' replies are freed now; without a trim the heap kept
            # them, and the more shards the more it kept (955 MB decoding 100,000 images).
            return_freed_memory()
    stored = [result for result in results if result is not None]
    assert len(stored) == len(results)  # every missing shard was decoded just above
    return stored


def _decode_here(shards: list[PathList], spec, max_pixels: int):
    """(position, its pieces) for each shard, in order, on one process pool for them all; the
    pieces ``(start, images, ok, failures)`` are decoded as they are taken (``decoded_pieces``):
    a shard's images go to its file a chunk at a time, never all in memory at once."""
    from .folder import decode_pool, decoded_pieces

    to_decode = PathList.joined(shards)
    with decode_pool(to_decode) as pool, bar(len(to_decode), "decode", unit="img") as progress:
        stream = decoded_pieces(shards, spec, max_pixels, pool, progress)
        for position, pieces in itertools.groupby(stream, key=lambda piece: piece[0]):
            yield position, (piece[1:] for piece in pieces)


def _decode_spread(shards: list[PathList], spec, max_pixels: int, mapper):
    """(position, its pieces ``(start, images, ok, failures)``) for each shard, once ``mapper``'s
    workers have decoded all of its pieces (``PIECE_BYTES``): a few large shards still spread over
    many workers."""
    length = max(1, PIECE_BYTES // (spec.size[0] * spec.size[1] * 3))
    pieces = [(position, start) for position, shard in enumerate(shards) for start in range(0, len(shard), length)]
    done: list[dict] = [{} for _ in shards]
    calls = ((shards[position][start : start + length], spec, max_pixels) for position, start in pieces)
    with bar(len(pieces), "decode", unit="piece") as progress:
        for index, decoded in mapper(decode_shard, calls):
            _check_seen(decoded[2])
            position, start = pieces[index]
            done[position][start] = decoded
            progress.update(1)
            if len(done[position]) * length >= len(shards[position]):
                parts, done[position] = done[position], {}
                yield position, [(start, *parts[start]) for start in sorted(parts)]


def _check_seen(failures: list[dict]) -> None:
    """DataError for a file a worker could not find but this process can: the storage is not
    shared, which no file can fix, so the shard must not be cached with it as unreadable."""
    unseen = [item["path"] for item in failures if item["reason"] == "file not found" and Path(item["path"]).exists()]
    if unseen:
        raise DataError(
            f"{unseen[0]}: not found on a Dask worker, though it is here ({len(unseen)} such file(s) in "
            f"this piece); --cluster needs the files on storage every worker sees, at the same path: "
            f"mount it there, or run without --cluster"
        )


def decode_shard(paths: Sequence[Path], spec, max_pixels: int):
    """On a worker: ``folder.decode_files`` of one piece of a shard, in that process -> (images
    (n_kept, height, width, 3) uint8, kept (n_files,) bool, failures [{"path", "reason"}])."""
    from .folder import decode_files

    with bar(0, "") as silent:  # the client counts the pieces; a worker says nothing
        return decode_files(paths, spec, max_pixels, None, silent)


def shard_key(paths: Sequence[Path], names: Sequence[str], spec, max_pixels: int) -> str:
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


def _store_shard(folder: Path | None, key: str, n_files: int, image_size, pieces) -> Shard:
    """Write a shard of ``n_files`` files from its decoded ``pieces`` ``(start, images (n_ok,
    height, width, 3) uint8, ok (n_piece,) bool, failures)``, each written as it comes, to the
    cache folder (else a scratch file) -> (its kept images, mapped; kept; failures)."""
    kept = np.ones(n_files, dtype=bool)
    failures: list[dict] = []
    taken: list[bool] = []

    def fill(out: np.ndarray) -> int:
        if taken:  # the pieces are gone: a second try (the cache refused after the first) cannot redo them
            raise ArtifactError(
                f"{folder}: could not store the decoded images there; set data.cache_dir to a "
                f"writable folder, or pass --no-cache"
            )
        taken.append(True)
        for start, images, ok, errors in pieces:
            out[start : start + len(ok)][ok] = images
            kept[start : start + len(ok)] = ok
            failures.extend(errors)
        return _keep_rows(out, kept)

    path = folder / f"{key}.npy" if folder else None
    mapped = cache.mapped_array(path, (n_files, *image_size, 3), np.uint8, fill, "data")
    if folder is not None:  # the images first: a shard counts once its description is there
        meta = {"kept": kept.tolist(), "failures": failures}
        cache.store(folder / f"{key}.json", lambda file: write_json(file, meta), "data")
    return mapped, kept, failures


def _keep_rows(out: np.ndarray, kept: np.ndarray) -> int:
    """Move the ``kept`` rows of ``out`` (n_rows, ...) to its front, in order, a few at a time ->
    how many. A kept row only moves up (to a row before it), so no row is overwritten unread."""
    rows = np.flatnonzero(kept)
    step = max(1, (8 << 20) // max(1, out[0].nbytes))
    for first in range(0, len(rows) if len(rows) < len(out) else 0, step):
        chunk = rows[first : first + step]
        out[first : first + len(chunk)] = out[chunk]
    return len(rows)
