"""The cache folder as a whole: what it holds, a size cap (least recently used entries out
first) and clearing it. ``cache`` reads and writes single entries.

An entry is every file of one stem: ``features-<key>.npy``, ``fitted-<key>.npz``, and a decoded
shard's ``images/<key>.npy`` with its ``images/<key>.json``. Only these are ever listed or
removed: a cache folder pointed at the wrong place loses nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .progress import log

#: Kind of entry -> the files it is made of, relative to the cache folder.
KINDS = {"features": ("features-*.npy",), "fitted": ("fitted-*.npz",), "images": ("images/*.npy", "images/*.json")}


@dataclass
class Entry:
    kind: str
    files: list[Path]
    size: int  # bytes
    used: float  # when it was last written or read (the newest mtime of its files)


def entries(folder: str | Path) -> list[Entry]:
    """Every entry in ``folder``, least recently used first."""
    found: dict[tuple[str, Path], list[Path]] = {}
    for kind, patterns in KINDS.items():
        for pattern in patterns:
            for path in Path(folder).glob(pattern):
                found.setdefault((kind, path.with_suffix("")), []).append(path)
    result = []
    for (kind, _), files in found.items():
        stats = [path.stat() for path in files if path.is_file()]
        if stats:
            result.append(Entry(kind, files, sum(s.st_size for s in stats), max(s.st_mtime for s in stats)))
    return sorted(result, key=lambda entry: entry.used)


def summary(folder: str | Path) -> dict:
    """{"folder", "bytes", "kinds": {kind: {"entries", "bytes"}}} of what ``folder`` holds."""
    kinds = {kind: {"entries": 0, "bytes": 0} for kind in KINDS}
    for entry in entries(folder):
        kinds[entry.kind]["entries"] += 1
        kinds[entry.kind]["bytes"] += entry.size
    return {"folder": str(Path(folder).resolve()), "bytes": sum(k["bytes"] for k in kinds.values()), "kinds": kinds}


def clear(folder: str | Path) -> dict:
    """Remove every entry of ``folder`` -> {"entries", "bytes"} removed."""
    removed = entries(folder)
    _remove(removed)
    return {"entries": len(removed), "bytes": sum(entry.size for entry in removed)}


def mark_used(path: Path) -> None:
    """Record that this run read ``path`` now, so the cap removes it last (mtime is the clock)."""
    try:
        os.utime(path)
    except OSError:  # a read-only cache is still readable
        pass


def enforce_limit(folder: str | Path, max_bytes: int, keep: frozenset[Path] | set[Path] = frozenset()) -> int:
    """Remove the least recently used entries until ``folder`` holds at most ``max_bytes``; entries
    with a file in ``keep`` (this run's) stay. Returns the bytes removed."""
    listed = entries(folder)
    total = sum(entry.size for entry in listed)
    removed = []
    for entry in listed:
        if total <= max_bytes:
            break
        if not keep.intersection(path.resolve() for path in entry.files):
            removed.append(entry)
            total -= entry.size
    _remove(removed)
    freed = sum(entry.size for entry in removed)
    if removed:
        log.info(
            "cache: removed %d least recently used entries (%.2f GB) to keep %s under %.2f GB",
            len(removed),
            freed / 1e9,
            folder,
            max_bytes / 1e9,
        )
    return freed


def _remove(removed: list[Entry]) -> None:
    for entry in removed:
        for path in entry.files:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cache: could not remove %s (%s)", path, exc.strerror or exc)
