"""A private temporary folder for this process's large arrays when there is no cache folder.

Decoded images and feature matrices live on disk and are memory-mapped (so memory does not grow
with the number of images); with ``--no-cache``, or a cache folder that refuses writes, they go
here instead. The folder is made on first use under the system's temporary folder (``TMPDIR``)
and removed when the process exits, also after Ctrl-C.
"""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_folder: Path | None = None
_counter = itertools.count()


def scratch_file(name: str) -> Path:
    """A new path ``<scratch folder>/<n>-<name>`` (the file is not created)."""
    global _folder
    with _lock:
        if _folder is None:
            _folder = Path(tempfile.mkdtemp(prefix="mlpcli-scratch-"))
            atexit.register(shutil.rmtree, _folder, ignore_errors=True)
        return _folder / f"{next(_counter)}-{name}"
