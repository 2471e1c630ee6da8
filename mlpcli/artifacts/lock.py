"""One process at a time in a run directory.

``train`` and ``kfold`` (new runs and ``--resume``) hold an exclusive ``flock`` on the run's lock
file while they work in it; the file holds the holder's pid, so a second process can say who
has the run. The kernel drops the lock when the holder dies, however it dies, so a killed run
never leaves a stale lock; the file itself is removed when the holder lets go.
"""

from __future__ import annotations

import os
from contextlib import contextmanager, suppress
from pathlib import Path

from ..errors import ArtifactError
from ..fileio import refusal
from . import rundir

try:
    import fcntl
except ImportError:  # Windows: no flock; runs are not locked there
    fcntl = None  # type: ignore[assignment]  # the module, or None on Windows (no fcntl there)


@contextmanager
def locked_run(run_dir: str | Path):
    """Hold ``run_dir``'s lock for the ``with`` block; ArtifactError naming the holder's pid if
    another process has it."""
    path = Path(run_dir) / rundir.LOCK
    if fcntl is None:
        yield
        return
    fd = _acquire(path)
    try:
        yield
    finally:
        with suppress(OSError):
            path.unlink()  # while still holding the lock, so nobody locks the file being removed
        os.close(fd)


def _acquire(path: Path) -> int:
    """Open, lock and stamp the lock file -> its descriptor."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ArtifactError(f"cannot lock {path.parent}: cannot write {path}: {refusal(exc)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ArtifactError(
                f"{path.parent}: another mlpcli process (pid {holder}) is working in this run "
                f"directory; wait for it to finish, or stop it first"
            ) from None
        if _still_there(fd, path):
            break
        os.close(fd)  # the last holder removed the file between our open and our lock: start over
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _still_there(fd: int, path: Path) -> bool:
    """True if ``fd`` is still the file at ``path`` (not one removed since it was opened)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False
