"""Image folders: ``root/<class name>/<image file>``, one sub-folder per class."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import cache
from ..errors import DataError
from ..fileio import write_json
from ..progress import bar, log
from . import DEFAULT_MAX_IMAGE_PIXELS, Dataset
from .images import is_image_path, load_image
from .shards import ShardedImages, shard_bounds, shard_length

# Below this many images a process pool costs more than it saves.
PARALLEL_MIN = 2000
DECODE_CHUNK = 500
# Bump when decoding changes what it makes of a file, so stale shards are not reused.
SHARD_VERSION = 1


def scan_folder(root: str | Path) -> tuple[list[Path], np.ndarray, tuple[str, ...]]:
    """Image paths (sorted by class, then name), their labels and the sorted class names.

    Entries starting with '.' are ignored; extensions are matched case-insensitively. Symlinks are
    followed one level: a symlinked class folder is a class, a symlinked image is an image. Inside a
    class folder only files count; sub-folders, and so symlinks to folders (a loop back to a parent
    included), are never entered, so a scan cannot recurse. An image-named symlink that leads
    nowhere (dangling, or a loop) is kept, so that decoding reports it like any unreadable image.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found (expected {root}/<class>/<image files>)")
    class_dirs = sorted(p for p in _entries(root) if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{root}: no class folders found (expected {root}/<class>/<image files>)")
    paths, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(p for p in _entries(class_dir) if not p.name.startswith(".") and is_image_path(p)
                       and (p.is_file() or _leads_nowhere(p)))
        if not files:
            raise DataError(f"{class_dir}: class folder has no images "
                            f"(accepted extensions: png, jpg, jpeg, bmp, gif, webp, tif)")
        paths += files
        labels += [label] * len(files)
    return paths, np.asarray(labels, dtype=np.int64), tuple(p.name for p in class_dirs)


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError as exc:
        raise DataError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None


def _leads_nowhere(path: Path) -> bool:
    """A dangling or looping symlink (``exists`` follows links and is False for both)."""
    return path.is_symlink() and not path.exists()


def fingerprint(paths: list[Path], root: Path, image_size) -> str:
    """Changes when any file is added, removed, renamed, resized or touched, or the size changes."""
    digest = hashlib.sha256(repr(tuple(image_size)).encode())
    for path in paths:
        try:
            stat = path.stat()
        except OSError:  # a link that leads nowhere: describe the link itself
            stat = path.lstat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def load_folder(root: str | Path, image_size=(32, 32), on_error: str = "fail",
                cache_dir: str | None = None, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Dataset:
    """Decode every image under ``root`` to (height, width, 3) uint8, in shards memory-mapped
    from ``cache_dir`` (or from scratch files when it is None; see ``shards``).

    Unreadable images (corrupt, truncated, empty, not an image, over ``max_pixels`` pixels,
    permission denied, a link that leads nowhere) raise one DataError naming each file.
    ``on_error='skip'`` leaves them out, logs each and lists them in ``Dataset.skipped``; but a
    class left with no images, or a data set left with none, is still a DataError: a class without
    examples cannot be learned.
    """
    root = Path(root)
    paths, labels, class_names = scan_folder(root)
    names = [path.relative_to(root).as_posix() for path in paths]
    decoded = decode_shards(paths, names, image_size, max_pixels, cache_dir)
    kept = np.concatenate([shard_kept for _, shard_kept, _ in decoded])
    failures = [failure for _, _, shard_failures in decoded for failure in shard_failures]
    report_failures(failures, skip=on_error == "skip")
    _check_classes_kept(root, labels, kept, class_names)
    shards = [images for images, _, _ in decoded if len(images)]
    images = shards[0] if len(shards) == 1 else ShardedImages(shards)
    return Dataset(images, labels[kept], class_names, fingerprint(paths, root, image_size),
                   [str(p) for p, k in zip(paths, kept) if k], failures)


def decode_shards(paths: list[Path], names: list[str], image_size, max_pixels: int,
                  cache_dir: str | None) -> list[tuple[np.ndarray, np.ndarray, list[dict]]]:
    """Per shard of ``paths`` (``shards.shard_bounds`` of their ``names``): (kept images, memory-
    mapped; kept (n_files,) bool; failures). Shards already in ``cache_dir/images`` are mapped;
    the others are decoded, one shard in memory at a time, and stored there."""
    folder = Path(cache_dir) / "images" if cache_dir is not None else None
    bounds = shard_bounds(names, shard_length(image_size))
    keys = [shard_key(paths[start:stop], names[start:stop], image_size, max_pixels) for start, stop in bounds]
    results = [_load_shard(folder, key, stop - start, image_size) if folder else None
               for key, (start, stop) in zip(keys, bounds)]
    missing = [index for index, result in enumerate(results) if result is None]
    n_missing = sum(bounds[i][1] - bounds[i][0] for i in missing)
    if len(missing) < len(bounds):
        log.info("data: %d of %d images decoded before, mapped from cache %s", len(paths) - n_missing,
                 len(paths), folder)
    with decode_pool(n_missing) as pool, bar(n_missing, "decode", unit="img") as progress:
        for index in missing:
            start, stop = bounds[index]
            images, kept, failures = decode_files(paths[start:stop], image_size, max_pixels, pool, progress)
            results[index] = (_store_shard(folder, keys[index], images, kept, failures), kept, failures)
    return results


def shard_key(paths: list[Path], names: list[str], image_size, max_pixels: int) -> str:
    """Changes when a file of the shard is added, removed, renamed, resized or touched, or when
    what decoding makes of it changes (size, pixel limit)."""
    digest = hashlib.sha256(repr((tuple(image_size), max_pixels, SHARD_VERSION)).encode())
    for path, name in zip(paths, names):
        try:
            stat = path.stat()
        except OSError:  # a link that leads nowhere: describe the link itself
            stat = path.lstat()
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def _load_shard(folder: Path, key: str, n_files: int, image_size):
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


def decode_all(paths: list[Path], image_size, skip: bool = False,
               max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Decode ``paths`` (in parallel for large sets) -> (images (n_kept, height, width, 3) uint8,
    kept (n_paths,) bool, failures [{"path", "reason"}] of the unreadable files, in path order).

    Every file is tried. Unreadable ones are left out and each is logged when ``skip``; otherwise
    one DataError names them all. ``max_pixels`` is the decompression-bomb limit of load_image,
    passed to every worker so it holds there too.
    """
    with decode_pool(len(paths)) as pool, bar(len(paths), "decode", unit="img") as progress:
        images, kept, failures = decode_files(paths, image_size, max_pixels, pool, progress)
    report_failures(failures, skip)
    return images, kept, failures


@contextmanager
def decode_pool(n_images: int):
    """A process pool for decoding ``n_images``, or None when a pool would cost more than it saves."""
    workers = os.cpu_count() or 1
    if n_images < PARALLEL_MIN or workers < 2:
        yield None
        return
    with ProcessPoolExecutor(workers) as pool:
        yield pool


def decode_files(paths: list[Path], image_size, max_pixels: int, pool, progress):
    """Decode ``paths`` on ``pool`` (None: here) -> (images (n_kept, height, width, 3) uint8,
    kept (n_paths,) bool, failures in path order), nothing reported."""
    images = np.empty((len(paths), *image_size, 3), dtype=np.uint8)
    kept = np.ones(len(paths), dtype=bool)
    # Several chunks per worker, so a shard's last chunk does not leave the other workers idle.
    size = max(1, min(DECODE_CHUNK, -(-len(paths) // (4 * (os.cpu_count() or 1)))))
    chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
    args = (chunks, [image_size] * len(chunks), [max_pixels] * len(chunks))
    failures: list[dict] = []
    _fill(images, kept, failures, (pool.map if pool else map)(_decode_chunk, *args), progress)
    return (images, kept, failures) if kept.all() else (images[kept], kept, failures)


def _check_classes_kept(root: Path, labels: np.ndarray, kept: np.ndarray, class_names) -> None:
    """DataError if skipping unreadable images left no images at all, or a class with none."""
    if not kept.any():
        raise DataError(f"{root}: none of the {len(kept)} images could be read (all were skipped as "
                        f"unreadable); the warning above names each with its reason")
    counts = np.bincount(labels[kept], minlength=len(class_names))
    empty = [str(root / class_names[i]) for i in np.flatnonzero(counts == 0)]
    if empty:
        raise DataError(f"{', '.join(empty)}: every image of this class was unreadable and skipped; "
                        f"fix or remove those images, or remove the class folder")


def report_failures(failures: list[dict], skip: bool) -> None:
    """Log every skipped file (``skip``), or raise one DataError naming every unreadable file."""
    if not failures:
        return
    lines = "".join(f"\n  {item['path']}: {item['reason']}" for item in failures)
    if skip:
        log.warning("data: skipped %d unreadable image(s):%s", len(failures), lines)
        return
    if len(failures) == 1:
        raise DataError(f"{failures[0]['path']}: {failures[0]['reason']}")
    raise DataError(f"{len(failures)} images could not be read:{lines}\nfix or remove them, or leave them "
                    f"out with --on-error skip (data.on_error: skip in a config)")


def _fill(images, kept, failures, results, progress) -> None:
    start = 0
    for block, ok, errors in results:
        images[start:start + len(ok)][ok] = block
        kept[start:start + len(ok)] = ok
        failures += errors
        start += len(ok)
        progress.update(len(ok))


def _decode_chunk(paths: list[Path], image_size, max_pixels: int):
    """Decode one chunk in a worker -> (decoded images, ok mask, failures [{"path", "reason"}])."""
    decoded, ok, errors = [], [], []
    for path in paths:
        try:
            decoded.append(load_image(path, image_size, max_pixels))
            ok.append(True)
        except DataError as exc:
            ok.append(False)
            errors.append({"path": str(path), "reason": str(exc).removeprefix(f"{path}: ")})
    block = np.stack(decoded) if decoded else np.empty((0, *image_size, 3), np.uint8)
    return block, np.asarray(ok, dtype=bool), errors
