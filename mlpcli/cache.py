"""The optional on-disk caches (decoded images, feature matrices): never a reason to fail a run.

A damaged entry (empty, truncated, garbage, the wrong shape or dtype) is a miss: it is warned
about, rebuilt, and the rebuilt entry replaces it atomically. A cache folder that cannot be
written (a read-only working directory in CI, ``data.cache_dir`` naming a file) is warned about
once per process and then left alone; the run goes on without it.

Large arrays (decoded images, feature matrices) are ``.npy`` files that the run memory-maps:
``mapped_array`` writes one (to a scratch file when there is no cache folder) and
``load_mapped`` maps a cached one, so memory does not grow with the number of images.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from .cache_folder import mark_used
from .errors import ArtifactError
from .fileio import atomic_npy_fill
from .progress import log
from .scratch import scratch_file

T = TypeVar("T")

# Cache folders that refused a write in this process: warned about once, not tried again (nor
# their sub-folders, such as the decoded images' ``images/``, nor the folder above those).
_unwritable: set[str] = set()


# Entries this process read or wrote: a cap on the folder's size (``cache_folder``) keeps them.
_used: set[Path] = set()


def used_paths() -> set[Path]:
    """The cache files this process has read or written (resolved paths)."""
    return set(_used)


def _use(path: Path) -> None:
    mark_used(path)
    _used.add(path.resolve())


def _refuses(folder: str) -> bool:
    return any(
        folder == seen or folder.startswith(seen + os.sep) or seen.startswith(folder + os.sep) for seen in _unwritable
    )


def load(path: Path, read: Callable[[Path], T | None], what: str) -> T | None:
    """``read(path)``, or None when there is no entry or it is damaged (warned about).

    ``read`` returns None for an entry of the wrong shape or dtype; any exception it raises
    also means the entry is unusable.
    """
    try:
        if not path.is_file():
            return None
        value = read(path)
        reason = "wrong shape or dtype"
    except Exception as exc:  # np.load fails in many ways (EOFError, ValueError, BadZipFile, OSError ...)
        value, reason = None, f"{type(exc).__name__}: {exc}"
    if value is None:
        log.warning("%s: ignoring unreadable cache file %s (%s); rebuilding it", what, path, reason)
    else:
        _use(path)
    return value


def store(path: Path, write: Callable[[Path], None], what: str) -> None:
    """``write(path)`` (an atomic writer from ``fileio``), or one warning if the folder refuses."""
    folder = os.path.abspath(path.parent)
    if _refuses(folder):
        return
    try:
        write(path)
        _use(path)
    except ArtifactError as exc:
        _refused(folder, exc, what)


def _refused(folder: str, exc: ArtifactError, what: str) -> None:
    _unwritable.add(folder)
    log.warning(
        "%s: going on without the cache: %s (set data.cache_dir to a writable folder, or pass --no-cache)", what, exc
    )


def load_mapped(path: Path, shape: tuple[int, ...], dtype, what: str) -> np.ndarray | None:
    """The cached ``.npy`` at ``path`` memory-mapped read-only, or None when there is none or it
    is damaged or not of ``shape`` and ``dtype`` (warned about, as ``load``)."""

    def read(file: Path) -> np.ndarray | None:
        array = np.load(file, mmap_mode="r", allow_pickle=False)
        return array if array.shape == tuple(shape) and array.dtype == np.dtype(dtype) else None

    return load(path, read, what)


def mapped_array(
    path: Path | None, shape: tuple[int, ...], dtype, fill: Callable[[np.ndarray], object], what: str
) -> np.ndarray:
    """A new ``.npy`` of ``shape`` and ``dtype`` at ``path``, filled in place by ``fill(out)``,
    returned memory-mapped read-only; if ``fill`` returns a number of rows, only those first rows
    are kept (``fileio.atomic_npy_fill``). ``path`` None, or a cache folder that refuses the write
    (warned about once), puts it in a scratch file instead (see ``scratch``)."""
    if path is not None and not _refuses(os.path.abspath(path.parent)):
        try:
            mapped = _write_mapped(path, shape, dtype, fill)
            _use(path)
            return mapped
        except ArtifactError as exc:
            _refused(os.path.abspath(path.parent), exc, what)
    name = path.name if path is not None else f"{what.replace(' ', '-')}.npy"
    return _write_mapped(scratch_file(name), shape, dtype, fill)


def _write_mapped(path: Path, shape, dtype, fill) -> np.ndarray:
    shape = atomic_npy_fill(path, tuple(shape), dtype, fill)
    if 0 in shape:
        return np.empty(shape, dtype)
    return np.load(path, mmap_mode="r", allow_pickle=False)
