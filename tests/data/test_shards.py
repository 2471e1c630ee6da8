"""Decoded images in content-defined shards: read like one array, and a changed folder decodes
only the shard its change falls in."""

import subprocess
import sys

import numpy as np
from PIL import Image

from mlpcli.data import folder as folder_module
from mlpcli.data import shards
from mlpcli.data.folder import load_folder
from mlpcli.data.shards import ShardedImages, shard_bounds


def test_sharded_images_read_like_the_concatenated_array():
    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 256, (n, 2, 3, 3), dtype=np.uint8) for n in (3, 1, 5)]
    whole, sharded = np.concatenate(parts), ShardedImages(parts)
    assert sharded.shape == whole.shape and len(sharded) == 9 and sharded.dtype == np.uint8
    for index in (0, 3, 4, 8, -1, -9):
        np.testing.assert_array_equal(sharded[index], whole[index])
    for index in (slice(None), slice(2, 7), slice(None, None, -2), slice(4, 4)):
        np.testing.assert_array_equal(sharded[index], whole[index])
    rows = np.array([8, 0, 3, 3, -2])
    np.testing.assert_array_equal(sharded[rows], whole[rows])
    mask = rng.random(9) < 0.5
    np.testing.assert_array_equal(sharded[mask], whole[mask])
    np.testing.assert_array_equal(np.asarray(sharded), whole)


def test_shard_bounds_cover_the_names_and_a_new_name_changes_one_shard():
    names = [f"class/{i:05d}.jpg" for i in range(3000)]
    target = 50
    bounds = shard_bounds(names, target)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(names)
    assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))
    assert all(stop - start <= shards.MAX_SHARD_FACTOR * target for start, stop in bounds)
    assert 20 < len(bounds) < 180  # about len(names) / target
    before = {tuple(names[a:b]) for a, b in bounds}
    for new in ("class/01234x.jpg", "class/00000a.jpg", "class/zzz.jpg"):
        grown = sorted([*names, new])
        after = {tuple(grown[a:b]) for a, b in shard_bounds(grown, target)}
        # Every shard but the one the new name falls in (split in two if it ends one) is kept.
        assert len(after - before) <= 2 and len(before - after) <= 1


def _photos(root, n_per_class=40):
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(root / name / f"{i:03d}.png")
    return root


def test_a_new_photo_decodes_only_its_shard(tmp_path, monkeypatch):
    """Fails if the decode cache is keyed by the whole folder (one new photo decoding all)."""
    root = _photos(tmp_path / "photos")
    monkeypatch.setattr(shards, "SHARD_BYTES", 16 * 8 * 8 * 3)  # shards of about 16 images
    decoded = []
    decode_chunk = folder_module._decode_chunk
    monkeypatch.setattr(
        folder_module, "_decode_chunk", lambda paths, *args: decoded.extend(paths) or decode_chunk(paths, *args)
    )
    first = load_folder(root, (8, 8), cache_dir=str(tmp_path / "cache"))
    assert len(decoded) == 80 and isinstance(first.images, ShardedImages) and len(first.images.shards) > 2
    Image.new("RGB", (5, 5), (9, 9, 9)).save(root / "b" / "020x.png")
    decoded.clear()
    again = load_folder(root, (8, 8), cache_dir=str(tmp_path / "cache"))
    assert root / "b" / "020x.png" in decoded and len(decoded) <= 4 * 16
    assert len(again) == 81
    np.testing.assert_array_equal(again.images[:60], first.images[:60])


def test_without_a_cache_the_images_live_in_scratch_files_removed_at_exit(tmp_path):
    root = _photos(tmp_path / "photos", 3)
    script = (
        "import sys, numpy as np; from mlpcli.data.folder import load_folder; "
        f"images = load_folder({str(root)!r}, (8, 8)).images; "
        "print(images.filename); assert isinstance(images, np.memmap)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={"TMPDIR": str(tmp_path), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    scratch_file = result.stdout.strip()
    assert scratch_file.startswith(str(tmp_path)) and "mlpcli-scratch-" in scratch_file
    assert not list(tmp_path.glob("mlpcli-scratch-*"))


def test_an_unwritable_cache_folder_falls_back_to_scratch(tmp_path):
    root = _photos(tmp_path / "photos", 3)
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    dataset = load_folder(root, (8, 8), cache_dir=str(blocker))
    assert len(dataset) == 6 and "mlpcli-scratch-" in str(dataset.images.filename)
