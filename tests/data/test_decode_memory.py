"""Decoding holds a few chunks in memory, never a whole shard (issue 23): a shard's images go to
its file as they are decoded, and the chunks asked of the decode pool are bounded.

Before, a shard was assembled in memory and then copied to its file, and every chunk of it was
submitted at once (a future keeps its result): twice the largest shard, and content-defined
shards reach 4x their target length, so the peak grew with the number of images (355 MB at
10,000 128-px images, 462 MB at 30,000). Each test here was watched failing on that code.
"""

import subprocess
import sys
from concurrent.futures import Future

import numpy as np
from PIL import Image

from mlpcli.data import folder as folder_module
from mlpcli.data.folder import load_folder
from mlpcli.data.images import load_image


def _photos(root, n_per_class=150, size=64):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / name / f"{i:03d}.png")
    return root


#: Run in a fresh interpreter: tracemalloc counts every thread's allocations, and what an
#: earlier test left running in this process once made the peak 4.3 MB (CI, not reproduced).
#: A small folder is loaded first, so that first-use imports (Pillow's plugins) are not counted.
_MEASURE = """
import sys, tracemalloc
from mlpcli.data import folder
folder.DECODE_CHUNK = 10
folder.load_folder(sys.argv[3], (64, 64), cache_dir=sys.argv[2])
tracemalloc.start()
dataset = folder.load_folder(sys.argv[1], (64, 64), cache_dir=sys.argv[2])
print(tracemalloc.get_traced_memory()[1], len(dataset), dataset.images.shape)
"""


def test_a_shard_is_written_a_chunk_at_a_time(tmp_path):
    """300 images of 64 px (3.7 MB, one shard) in chunks of 10: Python and NumPy never hold
    more than a small part of the shard (traced by tracemalloc, not the machine's RSS)."""
    root, warm = _photos(tmp_path / "photos"), _photos(tmp_path / "warm", n_per_class=2, size=8)
    cache = tmp_path / "cache"
    shard_bytes = 300 * 64 * 64 * 3
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(root), str(cache), str(warm)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    peak, n, shape = done.stdout.split(" ", 2)
    assert n == "300" and shape.strip() == "(300, 64, 64, 3)"
    assert int(peak) < shard_bytes / 4, f"decoding held {int(peak) / 1e6:.1f} MB of a {shard_bytes / 1e6:.1f} MB shard"
    dataset = load_folder(root, (64, 64), cache_dir=str(cache))  # mapped from the shard just written
    np.testing.assert_array_equal(dataset.images[155], load_image(root / "b" / "005.png", (64, 64)))


def test_unreadable_files_leave_only_the_kept_images_in_the_shard_file(tmp_path, monkeypatch):
    """Written in place, then cut to the kept rows: same images as decoding the good files, in
    order, from the decoding run and from the cache."""
    root = _photos(tmp_path / "photos", n_per_class=12, size=8)
    for bad in ("a/000.png", "a/007.png", "b/011.png"):
        (root / bad).write_bytes(b"not an image")
    monkeypatch.setattr(folder_module, "DECODE_CHUNK", 5)
    good = sorted(path for path in root.rglob("*.png") if path.stat().st_size > 20)
    expected = np.stack([load_image(path, (8, 8)) for path in good])
    for _ in range(2):  # decoded, then mapped from the cache
        dataset = load_folder(root, (8, 8), on_error="skip", cache_dir=str(tmp_path / "cache"))
        np.testing.assert_array_equal(np.asarray(dataset.images), expected)
        assert len(dataset.skipped) == 3 and list(dataset.labels).count(0) == 10
    (stored,) = (tmp_path / "cache" / "images").glob("*.npy")
    assert np.load(stored).shape == (21, 8, 8, 3)


class _Pool:
    """Records how many chunks were submitted; each future is done at once."""

    def __init__(self):
        self.submitted = 0

    def submit(self, function, *args):
        self.submitted += 1
        future = Future()
        future.set_result(function(*args))
        return future


def test_the_pool_is_asked_for_a_few_chunks_ahead_only(tmp_path, monkeypatch):
    root = _photos(tmp_path / "photos", n_per_class=20, size=8)
    paths = sorted(root.rglob("*.png"))
    monkeypatch.setattr(folder_module, "DECODE_CHUNK", 1)
    monkeypatch.setattr(folder_module.threads, "decode_workers", lambda n: 2)
    pool = _Pool()

    class Progress:
        def update(self, n):
            assert pool.submitted <= taken[0] + 1 + folder_module.AHEAD_PER_WORKER * 2

    taken = [0]
    spec = folder_module.as_preprocess((8, 8))
    for _piece in folder_module.decoded_pieces([paths[:25], paths[25:]], spec, 10**8, pool, Progress()):
        taken[0] += 1
    assert taken[0] == pool.submitted == 40
