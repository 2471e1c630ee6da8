"""Decoding phone photos: mlpcli's draft-mode decode against a plain Pillow loop, side by side.

Generates its own photo folder (``--count`` JPEGs at quality 90, half 4032x3024 landscape and
half 3024x4032 portrait, two classes; smooth gradients, blurred shapes and sensor-like noise so
the files have a phone photo's size, 2-5 MB) and, for each target size (32 and 128 px), reports
images per second decoded:
  - by mlpcli (``data.folder.decode_all``: JPEG draft scaling, then the antialiased resize), with
    ``--workers`` decode processes (``--threads``);
  - by a plain Pillow loop (full decode, then the same bilinear resize) in a pool of the same
    number of worker processes;
  - by torchvision's ``ImageFolder`` with a ``DataLoader`` of 2 workers (Resize to the size),
    where torchvision is installed.
Prints one JSON document on stdout with the machine's load (``os.getloadavg()`` before and after,
and the busy share of the CPUs during the run). Not part of pytest's pass/fail.

Usage: python benchmarks/photos.py [--count 40] [--workers 2] [--sizes 32 128] [--folder DIR]
Target (issue 23): at 32 px, mlpcli at least 6x the plain loop's images per second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from machine import NeighbourMeter, load, machine  # first: sets up BLAS as mlpcli does

# isort: split

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

PHONE = (4032, 3024)


def make_photo(path: Path, size: tuple[int, int], seed: int, noise: int = 9) -> None:
    """A photo-like JPEG of ``size`` (width, height): drawn small, enlarged smoothly, plus uniform
    noise of +-``noise`` levels (the file's size, so its entropy-decoding time, grows with it)."""
    rng = np.random.default_rng(seed)
    small = (size[0] // 8, size[1] // 8)
    rows, cols = np.mgrid[0 : small[1], 0 : small[0]].astype(np.float32)
    base = np.stack(
        [120 + 90 * np.sin(cols / small[0] * rng.uniform(2, 6) + c) * np.cos(rows / small[1] * 3) for c in range(3)], -1
    )
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(10):
        row, col, r = rng.integers(0, small[1]), rng.integers(0, small[0]), rng.integers(small[0] // 20, small[0] // 5)
        draw.ellipse((col - r, row - r, col + r, row + r), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    large = np.asarray(image.filter(ImageFilter.GaussianBlur(1)).resize(size, Image.Resampling.BICUBIC))
    grain = rng.integers(-noise, noise + 1, size=large.shape, dtype=np.int16)
    Image.fromarray(np.clip(large + grain, 0, 255).astype(np.uint8)).save(path, quality=90)


def make_folder(root: Path, count: int) -> list[Path]:
    """``count`` photos in root/<a|b>/, alternating landscape and portrait; kept if already there."""
    paths = []
    for index in range(count):
        path = root / "ab"[index % 2] / f"{index:05d}.jpg"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            make_photo(path, PHONE if index % 4 < 2 else PHONE[::-1], index)
        paths.append(path)
    return sorted(paths)


def plain_decode(path: Path, size: int) -> np.ndarray:
    """The reference loop's work: every pixel decoded, then the same bilinear resize."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))


def time_mlpcli(paths, size: int, workers: int) -> float:
    from mlpcli.data.folder import decode_all
    from mlpcli.data.shape import Preprocess
    from mlpcli.threads import thread_limit

    # The decode pool follows the BLAS limit --threads sets (threads.decode_workers), not
    # nn.parallel's element-wise threads: without this, mlpcli ran one worker per core whatever
    # --workers said.
    with thread_limit(workers):
        started = time.perf_counter()
        decode_all(paths, Preprocess((size, size)))
        return time.perf_counter() - started


def time_plain(paths, size: int, workers: int) -> float:
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(plain_decode, paths, [size] * len(paths), chunksize=max(1, len(paths) // (4 * workers))))
    return time.perf_counter() - started


def time_torchvision(root: Path, size: int):
    """Seconds for ImageFolder + DataLoader(2 workers), or None without torchvision."""
    try:
        from torch.utils.data import DataLoader
        from torchvision import datasets, transforms
    except ImportError:
        return None
    dataset = datasets.ImageFolder(
        str(root), transforms.Compose([transforms.Resize((size, size)), transforms.PILToTensor()])
    )
    started = time.perf_counter()
    for _ in DataLoader(dataset, batch_size=8, num_workers=2):
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--folder", type=Path, help="where the photos are made (default: a temporary folder)")
    args = parser.parse_args()
    loadavg_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.folder or Path(scratch) / "photos"
        started = time.perf_counter()
        paths = make_folder(root, args.count)
        print(f"photos: {len(paths)} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        meter = NeighbourMeter()
        meter.start()
        results = {size: measure(paths, root, size, args.workers) for size in args.sizes}
        neighbours = meter.stop()
        megabytes = sum(p.stat().st_size for p in paths) / 2**20
    print(
        json.dumps(
            {
                "count": len(paths),
                "mean_file_mb": round(megabytes / len(paths), 2),
                "workers": args.workers,
                "images_per_second": results,
                "loadavg_before": loadavg_before,
                "loadavg_after": os.getloadavg(),
                "neighbour_cpu_percent": neighbours,
                "load": load(),
                "machine": machine(),
            },
            indent=2,
        )
    )


def measure(paths, root: Path, size: int, workers: int) -> dict:
    n = len(paths)
    mlpcli_s, plain_s = time_mlpcli(paths, size, workers), time_plain(paths, size, workers)
    torch_s = time_torchvision(root, size)
    print(f"{size} px: mlpcli {n / mlpcli_s:.1f}/s, plain Pillow {n / plain_s:.1f}/s", file=sys.stderr)
    return {
        "mlpcli": round(n / mlpcli_s, 2),
        "plain_pillow": round(n / plain_s, 2),
        "torchvision": None if torch_s is None else round(n / torch_s, 2),
        "mlpcli_over_plain": round(plain_s / mlpcli_s, 2),
    }


if __name__ == "__main__":
    main()
