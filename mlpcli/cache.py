"""The optional on-disk caches (decoded images, feature matrices): never a reason to fail a run.

A damaged entry (empty, truncated, garbage, the wrong shape or dtype) is a miss: it is warned
about, rebuilt, and the rebuilt entry replaces it atomically. A cache folder that cannot be
written (a read-only working directory in CI, ``data.cache_dir`` naming a file) is warned about
once per process and then left alone; the run goes on without it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .errors import ArtifactError
from .progress import log

T = TypeVar("T")

# Cache folders that refused a write in this process: warned about once, not tried again.
_unwritable: set[str] = set()


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
    return value


def store(path: Path, write: Callable[[Path], None], what: str) -> None:
    """``write(path)`` (an atomic writer from ``fileio``), or one warning if the folder refuses."""
    folder = os.path.abspath(path.parent)
    if folder in _unwritable:
        return
    try:
        write(path)
    except ArtifactError as exc:
        _unwritable.add(folder)
        log.warning("%s: going on without the cache: %s (set data.cache_dir to a writable folder, "
                    "or pass --no-cache)", what, exc)
