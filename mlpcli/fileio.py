"""Atomic file writes: write to a temporary name in the same folder, then ``os.replace``.

A reader (or a crash) therefore sees either the old file or the complete new one, never a
truncated file. A file system that refuses (read-only, no permission, a file where a folder
should be, disk full) raises ArtifactError naming the path and the reason, never a bare OSError.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

from .errors import ArtifactError


def finite_or_none(value):
    """``value`` as a float, or None for NaN and infinities (which JSON cannot hold), or None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def json_clean(value):
    """JSON-able copy of ``value`` (nested dicts, lists, tuples) with NaN and infinities as None."""
    if isinstance(value, dict):
        return {key: json_clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_clean(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def refusal(exc: OSError) -> str:
    """The reason an OSError gives, e.g. ``Permission denied``, plus which file is in the way when
    a folder was needed where a file is."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and exc.filename:
        blocker = next(
            (p for p in (Path(exc.filename), *Path(exc.filename).parents) if p.exists() and not p.is_dir()), None
        )
        if blocker is not None:
            reason += f" ({blocker} is a file, not a folder)"
    return reason


def make_dir(path: str | Path) -> Path:
    """``mkdir -p path``; ArtifactError naming the folder and the reason if it cannot be made."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != path else ""
        raise ArtifactError(f"cannot create folder {path}: {refusal(exc)}{where}") from None
    return path


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path next to ``path``; on success it replaces ``path``, else it is removed."""
    path = Path(path)
    make_dir(path.parent)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ArtifactError(f"cannot write {path}: {refusal(exc)}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            with suppress(OSError):  # a folder that refused the write may refuse this too
                os.unlink(tmp)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def atomic_npy_fill(path: str | Path, shape: tuple[int, ...], dtype, fill) -> tuple[int, ...]:
    """Write a new ``.npy`` of ``shape`` and ``dtype`` at ``path`` (atomically, as ``atomic_path``)
    by ``fill(out)`` on a writable memory map of it: an array larger than memory is filled part by
    part, only the parts being written in memory. ``fill`` may return a number of leading rows:
    the file then keeps only those (e.g. the images that decoded), without a second copy.
    Returns the shape written."""
    with atomic_path(path) as tmp:
        if 0 in shape:  # a zero-length file cannot be mapped
            np.save(tmp, np.empty(shape, dtype), allow_pickle=False)
            fill(np.empty(shape, dtype))
            return tuple(shape)
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
        rows = fill(out)
        out.flush()
        del out  # unmapped before the file is cut: a mapped page past the end would fault
        if rows is not None and rows != shape[0]:
            shape = (int(rows), *shape[1:])
            _cut_rows(tmp, shape, np.dtype(dtype))
    return tuple(shape)


def _cut_rows(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Make the C-order ``.npy`` at ``path`` hold only its first ``shape[0]`` rows: its header
    rewritten with ``shape`` at the same length (padded with spaces, as the format pads it), the
    file cut after those rows."""
    with open(path, "r+b") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        old_shape, _, _ = read_header(handle)
        data_start = handle.tell()
        if shape[0] > old_shape[0] or tuple(shape[1:]) != tuple(old_shape[1:]):
            raise ValueError(f"cannot cut {old_shape} rows to {shape}")
        prefix = len(np.lib.format.MAGIC_PREFIX) + 2 + (2 if version == (1, 0) else 4)
        header = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape})
        handle.seek(prefix)
        handle.write(header.ljust(data_start - prefix - 1).encode("latin1") + b"\n")
        handle.truncate(data_start + math.prod(shape) * dtype.itemsize)


def atomic_save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, allow_pickle=True, **arrays)  # numpy's default, named so no key of arrays can be read as it
