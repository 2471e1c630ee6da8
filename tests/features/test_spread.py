"""``features.spread``: the shards of extraction on a cluster (the cluster itself is in
tests/units/test_mapping.py) and the worker's memory settings."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mlpcli.features.spread import shard_rows

# Reads how many bytes glibc holds in mmapped blocks while a 4 MB array is alive.
PROBE = textwrap.dedent("""
    import ctypes, sys
    import numpy as np
    from mlpcli.features.spread import keep_freed_memory

    class Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")]

    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = Info
    if sys.argv[1] == "fix":
        keep_freed_memory()
    before = mallinfo2().hblkhd
    array = np.ones(4 << 20, np.uint8)
    print(mallinfo2().hblkhd - before)
""")


def mmapped_bytes_of_a_4mb_array(*args) -> int:
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0 and "mallinfo2" in done.stderr:
        pytest.skip("not glibc >= 2.33 (no mallinfo2)")
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_a_dask_worker_keeps_large_temporaries_off_fresh_mmaps():
    """Under Dask's MALLOC_TRIM_THRESHOLD_, every large temporary is a fresh mmap (the 4x slower
    extraction); after ``keep_freed_memory`` it comes from the heap. Without the fix the second
    number is 4 MB too (seen by removing the call)."""
    assert mmapped_bytes_of_a_4mb_array("plain") >= 4 << 20
    assert mmapped_bytes_of_a_4mb_array("fix") == 0


@pytest.mark.parametrize("n", [1, 7, 100, 1001])
def test_shards_are_whole_chunks_covering_every_image(n):
    bounds = shard_rows(n, chunk=7, per_image_bytes=1 << 20)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(start % 7 == 0 for start, _ in bounds)
    assert np.all(np.diff([start for start, _ in bounds]) == 7)  # a chunk is 7 MB of images: one a shard
