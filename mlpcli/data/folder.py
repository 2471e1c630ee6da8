"""Image folders: ``root/<class name>/<image file>``, one sub-folder per class."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .. import cache
from ..errors import DataError
from ..fileio import atomic_save_npz
from ..pools import abort_pool, ignore_sigint, sigint_blocked
from ..progress import bar, log
from . import DEFAULT_MAX_IMAGE_PIXELS, Dataset
from .images import is_image_path, load_image

# Below this many images a process pool costs more than it saves.
PARALLEL_MIN = 2000
DECODE_CHUNK = 500


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
    """Decode every image under ``root`` to (height, width, 3) uint8; decoded sets are cached.

    Unreadable images (corrupt, truncated, empty, not an image, over ``max_pixels`` pixels,
    permission denied, a link that leads nowhere) raise one DataError naming each file.
    ``on_error='skip'`` leaves them out, logs each and lists them in ``Dataset.skipped``; but a
    class left with no images, or a data set left with none, is still a DataError: a class without
    examples cannot be learned.
    """
    root = Path(root)
    paths, labels, class_names = scan_folder(root)
    key = fingerprint(paths, root, image_size)
    # The limit decides which files are skipped, so it is part of what a cache entry holds.
    cache_file = Path(cache_dir) / f"images-{key}-{on_error}-{max_pixels}.npz" if cache_dir else None
    stored = None
    if cache_file is not None:
        stored = cache.load(cache_file, lambda file: _read_cache(file, paths, image_size), "data")
    if stored is not None:
        log.info("data: %d decoded images loaded from cache %s", stored[1].sum(), cache_file)
        images, kept, failures = stored
    else:
        images, kept, failures = decode_all(paths, image_size, skip=on_error == "skip", max_pixels=max_pixels)
    _check_classes_kept(root, labels, kept, class_names)
    if stored is None and cache_file is not None:
        reasons = np.array([item["reason"] for item in failures], dtype=str)
        cache.store(cache_file, lambda file: atomic_save_npz(file, {"images": images, "kept": kept,
                                                                   "reasons": reasons}), "data")
    return Dataset(images, labels[kept], class_names, key, [str(p) for p, k in zip(paths, kept) if k], failures)


def _read_cache(path: Path, paths: list[Path], image_size):
    """(images, kept, failures) from a decoded-images cache entry, or None if it does not fit the
    folder."""
    with np.load(path, allow_pickle=False) as stored:
        images, kept, reasons = stored["images"], stored["kept"], stored["reasons"]
    fits = (kept.shape == (len(paths),) and kept.dtype == bool and images.dtype == np.uint8
            and images.shape == (int(kept.sum()), *image_size, 3) and len(reasons) == len(kept) - kept.sum())
    if not fits:
        return None
    failed = [str(p) for p, k in zip(paths, kept) if not k]
    return images, kept, [{"path": p, "reason": str(r)} for p, r in zip(failed, reasons)]


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


def decode_all(paths: list[Path], image_size, skip: bool = False,
               max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Decode ``paths`` (in parallel for large sets) -> (images (n_kept, height, width, 3) uint8,
    kept (n_paths,) bool, failures [{"path", "reason"}] of the unreadable files, in path order).

    Every file is tried. Unreadable ones are left out and each is logged when ``skip``; otherwise
    one DataError names them all. ``max_pixels`` is the decompression-bomb limit of load_image,
    passed to every worker so it holds there too.
    """
    images = np.empty((len(paths), *image_size, 3), dtype=np.uint8)
    kept = np.ones(len(paths), dtype=bool)
    chunks = [paths[i:i + DECODE_CHUNK] for i in range(0, len(paths), DECODE_CHUNK)]
    workers = min(os.cpu_count() or 1, len(chunks))
    args = (chunks, [image_size] * len(chunks), [max_pixels] * len(chunks))
    failures: list[dict] = []
    with bar(len(paths), "decode", unit="img") as progress:
        if len(paths) < PARALLEL_MIN or workers < 2:
            _fill(images, kept, failures, map(_decode_chunk, *args), progress)
        else:
            _fill_in_pool(images, kept, failures, args, workers, progress)
    report_failures(failures, skip)
    if kept.all():
        return images, kept, failures
    return images[kept], kept, failures


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


def _fill_in_pool(images, kept, failures, args, workers: int, progress) -> None:
    """``_fill`` from ``workers`` decode processes. Ctrl-C reaches the whole process group: the
    workers ignore it, and this process stops them at once instead of waiting for their chunks."""
    pool = ProcessPoolExecutor(workers, initializer=ignore_sigint)
    try:
        with sigint_blocked():  # the workers are forked here
            futures = [pool.submit(_decode_chunk, *chunk) for chunk in zip(*args)]
        # Not pool.map: on Ctrl-C it cancels the waiting chunks, and Python < 3.12's pool then
        # crashes (a traceback) failing them when abort_pool stops the workers.
        _fill(images, kept, failures, (future.result() for future in futures), progress)
    except BaseException:
        abort_pool(pool)
        raise
    pool.shutdown()


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
