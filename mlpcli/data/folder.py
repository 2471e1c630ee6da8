"""Image folders: ``root/<class name>/<image file>``, one sub-folder per class."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

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

    Entries starting with '.' are ignored; extensions are matched case-insensitively.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found (expected {root}/<class>/<image files>)")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{root}: no class folders found (expected {root}/<class>/<image files>)")
    paths, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.iterdir()
                       if not p.name.startswith(".") and p.is_file() and is_image_path(p))
        if not files:
            raise DataError(f"{class_dir}: class folder has no images "
                            f"(accepted extensions: png, jpg, jpeg, bmp, gif, webp, tif)")
        paths += files
        labels += [label] * len(files)
    return paths, np.asarray(labels, dtype=np.int64), tuple(p.name for p in class_dirs)


def fingerprint(paths: list[Path], root: Path, image_size) -> str:
    """Changes when any file is added, removed, renamed, resized or touched, or the size changes."""
    digest = hashlib.sha256(repr(tuple(image_size)).encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def load_folder(root: str | Path, image_size=(32, 32), on_error: str = "fail",
                cache_dir: str | None = None) -> Dataset:
    """Decode every image under ``root`` to (height, width, 3) uint8; decoded sets are cached.

    ``on_error='skip'`` leaves out images that cannot be decoded and logs how many and which.
    """
    root = Path(root)
    paths, labels, class_names = scan_folder(root)
    key = fingerprint(paths, root, image_size)
    cache = Path(cache_dir) / f"images-{key}-{on_error}.npz" if cache_dir else None
    if cache is not None and cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as stored:
                kept = stored["kept"]
                log.info("data: %d decoded images loaded from cache %s", kept.sum(), cache)
                return Dataset(stored["images"], labels[kept], class_names, key,
                               [str(p) for p, k in zip(paths, kept) if k])
        except (OSError, ValueError, KeyError):
            log.warning("data: ignoring unreadable cache file %s", cache)
    images, kept = decode_all(paths, image_size, skip=on_error == "skip")
    if cache is not None:
        atomic_save_npz(cache, {"images": images, "kept": kept})
    return Dataset(images, labels[kept], class_names, key, [str(p) for p, k in zip(paths, kept) if k])


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
