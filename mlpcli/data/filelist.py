"""A list of labelled image files (from a folder or a CSV) -> a decoded Dataset, cached on disk."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import cache
from ..errors import DataError
from ..fileio import atomic_save_npz
from ..progress import log
from .dataset import Dataset
from .shape import Preprocess


@dataclass(frozen=True)
class Files:
    """paths (n_files,), labels (n_files,) int64 indexing class_names, how to name where each
    class's files came from in messages (``class_place[i]``: a class folder, or the CSV), and
    ``val`` (n_files,) bool: the files of a fixed validation split (None: none fixed)."""

    paths: list[Path]
    labels: np.ndarray
    class_names: tuple[str, ...]
    root: Path
    class_place: tuple[str, ...]
    val: np.ndarray | None = None


def fingerprint(files: Files, spec: Preprocess) -> str:
    """Changes when any file is added, removed, renamed, resized or touched, relabelled, the
    classes or their order change, or the size, resize policy or color change."""
    # "draft": decoded with JPEG draft scaling, which changed the bytes of large JPEGs.
    digest = hashlib.sha256(repr((tuple(spec.size), spec.describe(), "draft", files.class_names)).encode())
    digest.update(files.labels.astype(np.int64).tobytes())
    if files.val is not None:
        digest.update(b"val" + files.val.tobytes())
    for path in files.paths:
        digest.update(f"{_name(path, files.root)}\0{_stat(path)}\n".encode())
    return digest.hexdigest()[:24]


def _stat(path: Path) -> str:
    """Size and modification time; of the link itself for a link that leads nowhere, and
    "missing" for a file a CSV names that does not exist (skipped with on_error: skip)."""
    for stat in (path.stat, path.lstat):
        try:
            found = stat()
            return f"{found.st_size}\0{found.st_mtime_ns}"
        except OSError:
            continue
    return "missing"


def _name(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:  # a CSV may name files outside its own folder
        return str(path.resolve())


def load_files(files: Files, spec: Preprocess, on_error: str, cache_dir, max_pixels: int) -> Dataset:
    """Decode every file of ``files`` by ``spec``; decoded sets are cached in ``cache_dir``
    (None: not cached). Unreadable files: see ``folder.decode_all``; a class left without images
    is a DataError, as a class without examples cannot be learned."""
    from .folder import decode_all

    key = fingerprint(files, spec)
    # The limit decides which files are skipped, so it is part of what a cache entry holds.
    cache_file = Path(cache_dir) / f"images-{key}-{on_error}-{max_pixels}.npz" if cache_dir else None
    stored = None
    if cache_file is not None:
        stored = cache.load(cache_file, lambda file: _read_cache(file, files.paths, spec.size), "data")
    if stored is not None:
        log.info("data: %d decoded images loaded from cache %s", stored[1].sum(), cache_file)
        images, kept, failures = stored
    else:
        images, kept, failures = decode_all(files.paths, spec, skip=on_error == "skip", max_pixels=max_pixels)
    _check_classes_kept(files, kept)
    if stored is None and cache_file is not None:
        reasons = np.array([item["reason"] for item in failures], dtype=str)
        cache.store(cache_file, lambda file: atomic_save_npz(file, {"images": images, "kept": kept,
                                                                   "reasons": reasons}), "data")
    sources = [str(p) for p, k in zip(files.paths, kept) if k]
    fixed_val = None if files.val is None else files.val[kept]
    return Dataset(images, files.labels[kept], files.class_names, key, sources, failures, fixed_val)


def with_validation(files: Files, val_files: Files) -> Files:
    """``files`` followed by ``val_files`` (labels indexing the same class names) as the fixed
    validation split."""
    val = np.concatenate([np.zeros(len(files.paths), bool), np.ones(len(val_files.paths), bool)])
    return Files(files.paths + val_files.paths, np.concatenate([files.labels, val_files.labels]),
                 files.class_names, files.root, files.class_place, val)


def _read_cache(path: Path, paths: list[Path], image_size):
    """(images, kept, failures) from a decoded-images cache entry, or None if it does not fit the
    files."""
    with np.load(path, allow_pickle=False) as stored:
        images, kept, reasons = stored["images"], stored["kept"], stored["reasons"]
    fits = (kept.shape == (len(paths),) and kept.dtype == bool and images.dtype == np.uint8
            and images.shape == (int(kept.sum()), *image_size, 3) and len(reasons) == len(kept) - kept.sum())
    if not fits:
        return None
    failed = [str(p) for p, k in zip(paths, kept) if not k]
    return images, kept, [{"path": p, "reason": str(r)} for p, r in zip(failed, reasons)]


def _check_classes_kept(files: Files, kept: np.ndarray) -> None:
    """DataError if skipping unreadable images left no images at all, or a class with none."""
    if not kept.any():
        raise DataError(f"{files.root}: none of the {len(kept)} images could be read (all were skipped as "
                        f"unreadable); the warning above names each with its reason")
    counts = np.bincount(files.labels[kept], minlength=len(files.class_names))
    empty = [files.class_place[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise DataError(f"{', '.join(empty)}: every image of this class was unreadable and skipped; "
                        f"fix or remove those images, or remove the class")
