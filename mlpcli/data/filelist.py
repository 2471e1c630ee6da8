"""A list of labelled image files (from a folder or a CSV) -> a decoded Dataset, cached on disk."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset
from .names import Names, PathList
from .shape import Preprocess
from .shards import ShardedImages


@dataclass(frozen=True)
class Files:
    """paths (n_files,) packed, labels (n_files,) int64 indexing class_names, how to name where each
    class's files came from in messages (``class_place[i]``: a class folder, or the CSV), and
    ``val`` (n_files,) bool: the files of a fixed validation split (None: none fixed)."""

    paths: PathList
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
        digest.update(f"{_name(path, files.root)}\0{file_stat(path)}\n".encode())
    return digest.hexdigest()[:24]


def file_stat(path: Path) -> str:
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


def load_files(
    files: Files,
    spec: Preprocess,
    on_error: str,
    cache_dir,
    max_pixels: int,
    mapper=None,
    *,
    skip_hint: str | None = None,
) -> Dataset:
    """Decode every file of ``files`` by ``spec`` into shards memory-mapped from ``cache_dir``
    (None: from scratch files; see ``shard_cache``), on a cluster's workers with ``mapper``.
    Unreadable files: see ``folder.decode_all`` (``skip_hint``: how the user leaves them out,
    default the command-line option);
    a class left without images is a DataError, as a class without examples cannot be learned."""
    from .folder import SKIP_HINT, report_failures
    from .shard_cache import decode_shards

    names = Names(_name(path, files.root) for path in files.paths)
    decoded = decode_shards(files.paths, names, spec, max_pixels, cache_dir, mapper)
    kept = np.concatenate([shard_kept for _, shard_kept, _ in decoded])
    failures = [failure for _, _, shard_failures in decoded for failure in shard_failures]
    report_failures(failures, skip=on_error == "skip", skip_hint=skip_hint or SKIP_HINT)
    _check_classes_kept(files, kept)
    shards = [images for images, _, _ in decoded if len(images)]
    images = shards[0] if len(shards) == 1 else ShardedImages(shards)
    sources = files.paths.where(kept).strings()
    fixed_val = None if files.val is None else files.val[kept]
    return Dataset(
        images, files.labels[kept], files.class_names, fingerprint(files, spec), sources, failures, fixed_val
    )


def with_validation(files: Files, val_files: Files) -> Files:
    """``files`` followed by ``val_files`` (labels indexing the same class names) as the fixed
    validation split."""
    val = np.concatenate([np.zeros(len(files.paths), bool), np.ones(len(val_files.paths), bool)])
    return Files(
        PathList.joined([files.paths, val_files.paths]),
        np.concatenate([files.labels, val_files.labels]),
        files.class_names,
        files.root,
        files.class_place,
        val,
    )


def _check_classes_kept(files: Files, kept: np.ndarray) -> None:
    """DataError if skipping unreadable images left no images at all, or a class with none."""
    if not kept.any():
        raise DataError(
            f"{files.root}: none of the {len(kept)} images could be read (all were skipped as "
            f"unreadable); the warning above names each with its reason"
        )
    counts = np.bincount(files.labels[kept], minlength=len(files.class_names))
    empty = [files.class_place[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise DataError(
            f"{', '.join(empty)}: every image of this class was unreadable and skipped; "
            f"fix or remove those images, or remove the class"
        )
