"""The optional on-disk caches (decoded images, feature matrices): never a reason to fail a run.

A cache folder that cannot be written (a read-only working directory in CI, ``data.cache_dir``
naming a file) is warned about once per process and then left alone; the run goes on without it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .errors import ArtifactError
from .progress import log

# Cache folders that refused a write in this process: warned about once, not tried again.
_unwritable: set[str] = set()


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
