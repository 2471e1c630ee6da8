"""Atomic writes: a write that fails or is interrupted part-way leaves the previous file intact."""

import errno
from pathlib import Path

import numpy as np
import pytest

from mlpcli import fileio
from mlpcli.errors import ArtifactError


def test_a_text_write_that_fails_half_way_keeps_the_previous_file(tmp_path, monkeypatch):
    """Disk full after half the bytes: ArtifactError naming the file, the old text intact and no
    temporary file left. Fails if ``atomic_path`` yields the target itself (writes in place) or
    replaces the target whether or not the write finished."""
    target = tmp_path / "metrics.json"
    fileio.write_json(target, {"accuracy": 0.5})
    before = target.read_bytes()
    real_write_text = Path.write_text

    def half_then_full(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", half_then_full)
    with pytest.raises(ArtifactError, match=r"metrics\.json.*No space left on device"):
        fileio.write_json(target, {"accuracy": 0.75, "loss": 0.25})
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_an_array_write_interrupted_by_ctrl_c_keeps_the_previous_arrays(tmp_path, monkeypatch):
    """Ctrl-C while ``weights.npz`` is being written: the interrupt goes through, the old arrays
    still load and no temporary file is left. Fails like the test above."""
    target = tmp_path / "weights.npz"
    fileio.atomic_save_npz(target, {"W": np.arange(6.0).reshape(2, 3)})
    before = target.read_bytes()

    def partial_then_interrupt(handle, **arrays):
        handle.write(b"PK\x03\x04 partial zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(fileio.np, "savez", partial_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        fileio.atomic_save_npz(target, {"W": np.zeros((2, 3))})
    monkeypatch.undo()
    assert target.read_bytes() == before
    with np.load(target, allow_pickle=False) as stored:
        assert stored["W"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert [p.name for p in tmp_path.iterdir()] == ["weights.npz"]


@pytest.mark.parametrize("rows", [0, 1, 6, 7])
def test_an_npy_filled_in_place_keeps_the_leading_rows_fill_asks_for(tmp_path, rows):
    """Decoding writes a shard's images in place and keeps the ones that decoded: the file must
    read back (loaded and mapped) as exactly those rows."""
    path = tmp_path / "a.npy"
    data = np.arange(7 * 3 * 2, dtype=np.float32).reshape(7, 3, 2)

    def fill(out):
        out[...] = data
        return rows

    assert fileio.atomic_npy_fill(path, data.shape, np.float32, fill) == (rows, 3, 2)
    np.testing.assert_array_equal(np.load(path), data[:rows])
    if rows:
        np.testing.assert_array_equal(np.load(path, mmap_mode="r"), data[:rows])
    assert not list(tmp_path.glob(".a.npy.*"))
