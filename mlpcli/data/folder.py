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
from ..progress import bar, log
from . import Dataset
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
                cache_dir: str | None = None) -> Dataset:
    """Decode every image under ``root`` to (height, width, 3) uint8; decoded sets are cached.

    An unreadable image (corrupt, truncated, empty, not an image, too large, permission denied,
    a link that leads nowhere) raises DataError naming the file. ``on_error='skip'`` leaves such
    images out and logs how many and the first few; but a class left with no images, or a data set
    left with none, is still a DataError: a class without examples cannot be learned.
    """
    root = Path(root)
    paths, labels, class_names = scan_folder(root)
    key = fingerprint(paths, root, image_size)
    cache_file = Path(cache_dir) / f"images-{key}-{on_error}.npz" if cache_dir else None
    stored = None
    if cache_file is not None:
        stored = cache.load(cache_file, lambda file: _read_cache(file, len(paths), image_size), "data")
    if stored is not None:
        images, kept = stored
        log.info("data: %d decoded images loaded from cache %s", kept.sum(), cache_file)
    else:
        images, kept = decode_all(paths, image_size, skip=on_error == "skip")
    _check_classes_kept(root, labels, kept, class_names)
    if stored is None and cache_file is not None:
        cache.store(cache_file, lambda file: atomic_save_npz(file, {"images": images, "kept": kept}), "data")
    return Dataset(images, labels[kept], class_names, key, [str(p) for p, k in zip(paths, kept) if k])


def _read_cache(path: Path, n_paths: int, image_size) -> tuple[np.ndarray, np.ndarray] | None:
    """(images, kept) from a decoded-images cache entry, or None if they do not fit the folder."""
    with np.load(path, allow_pickle=False) as stored:
        images, kept = stored["images"], stored["kept"]
    fits = (kept.shape == (n_paths,) and kept.dtype == bool and images.dtype == np.uint8
            and images.shape == (int(kept.sum()), *image_size, 3))
    return (images, kept) if fits else None


def _check_classes_kept(root: Path, labels: np.ndarray, kept: np.ndarray, class_names) -> None:
    """DataError if skipping unreadable images left no images at all, or a class with none."""
    if not kept.any():
        raise DataError(f"{root}: none of the {len(kept)} images could be read (data.on_error: skip "
                        f"skipped them all); see the warnings above for the first few")
    counts = np.bincount(labels[kept], minlength=len(class_names))
    empty = [str(root / class_names[i]) for i in np.flatnonzero(counts == 0)]
    if empty:
        raise DataError(f"{', '.join(empty)}: every image of this class was unreadable and skipped; "
                        f"fix or remove those images, or remove the class folder")


def decode_all(paths: list[Path], image_size, skip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``paths`` (in parallel for large sets) -> (images (n_kept, height, width, 3) uint8,
    kept (n_paths,) bool). Unreadable files raise DataError, or are left out when ``skip``."""
    images = np.empty((len(paths), *image_size, 3), dtype=np.uint8)
    kept = np.ones(len(paths), dtype=bool)
    chunks = [paths[i:i + DECODE_CHUNK] for i in range(0, len(paths), DECODE_CHUNK)]
    workers = min(os.cpu_count() or 1, len(chunks))
    args = (chunks, [image_size] * len(chunks), [skip] * len(chunks))
    failures: list[str] = []
    with bar(len(paths), "decode", unit="img") as progress:
        if len(paths) < PARALLEL_MIN or workers < 2:
            _fill(images, kept, failures, map(_decode_chunk, *args), progress)
        else:
            with ProcessPoolExecutor(workers) as pool:
                _fill(images, kept, failures, pool.map(_decode_chunk, *args), progress)
    if failures:
        shown = "; ".join(failures[:3]) + ("; ..." if len(failures) > 3 else "")
        log.warning("data: skipped %d unreadable image(s): %s", len(failures), shown)
    if kept.all():
        return images, kept
    return images[kept], kept


def _fill(images, kept, failures, results, progress) -> None:
    start = 0
    for block, ok, errors in results:
        images[start:start + len(ok)][ok] = block
        kept[start:start + len(ok)] = ok
        failures += errors
        start += len(ok)
        progress.update(len(ok))


def _decode_chunk(paths: list[Path], image_size, skip: bool):
    """Decode one chunk in a worker -> (decoded images, ok mask, error messages)."""
    decoded, ok, errors = [], [], []
    for path in paths:
        try:
            decoded.append(load_image(path, image_size))
            ok.append(True)
        except DataError as exc:
            if not skip:
                raise
            ok.append(False)
            errors.append(str(exc))
    block = np.stack(decoded) if decoded else np.empty((0, *image_size, 3), np.uint8)
    return block, np.asarray(ok, dtype=bool), errors
