"""Where a phone photo's decode time goes: mlpcli's per-file decode against the draft-decode floor.

Per photo, in ONE process (no pool, so other processes on the cores matter less), interleaved
in rounds, medians in ms:
  - ``full``: the plain loop (every pixel decoded, ``convert("RGB")``, bilinear resize);
  - ``draft``: a bare ``Image.open; draft("RGB", size); convert("RGB"); resize``;
  - ``mlpcli``: ``data.images.load_image`` (what ``data.folder.decode_all``'s workers run:
    EXIF orientation, pixel limit, ``shape.fit``);
  - ``entropy``: ``draft`` + ``load()`` only, no resize: libjpeg's entropy (Huffman) decoding,
    which DCT scaling does not shrink, so the floor of any draft decode.
``full / draft`` is the most a draft decode can gain; ``mlpcli / entropy`` is mlpcli's overhead.
With ``--noise A B ...`` it also makes 6 photos per noise amplitude (``photos.make_photo``) and
reports MB per megapixel and ``full / draft`` for each: the gain shrinks as the file grows.

Usage: python benchmarks/decode_floor.py [--folder DIR] [--count 40] [--size 32] [--rounds 3]
       [--noise 0 3 9 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from machine import load, machine  # first: sets up BLAS as mlpcli does

# isort: split

import numpy as np
from photos import PHONE, make_folder, make_photo
from PIL import Image


def variants(size: int) -> dict:
    """name -> function(path) decoding one photo to ``size`` px (the four ways described above)."""
    from mlpcli.data.images import load_image
    from mlpcli.data.shape import Preprocess

    def full(path):
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))

    def draft(path):
        with Image.open(path) as image:
            image.draft("RGB", (size, size))
            return np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))

    def entropy(path):
        with Image.open(path) as image:
            image.draft("RGB", (size, size))
            image.load()

    return {
        "full": full,
        "draft": draft,
        "mlpcli": lambda path: load_image(path, Preprocess((size, size))),
        "entropy": entropy,
    }


def medians(paths, ways: dict, rounds: int) -> dict:
    """Median ms per photo of each way, the ways interleaved photo by photo."""
    times: dict = {name: [] for name in ways}
    for _ in range(rounds):
        for path in paths:
            for name, way in ways.items():
                started = time.perf_counter()
                way(path)
                times[name].append(time.perf_counter() - started)
    return {name: round(statistics.median(values) * 1000, 2) for name, values in times.items()}


def summary(paths, ways: dict, rounds: int) -> dict:
    """Medians, file size and the ratios for ``paths``."""
    ms = medians(paths, ways, rounds)
    megabytes = statistics.mean(p.stat().st_size for p in paths) / 2**20
    with Image.open(paths[0]) as image:
        megapixels = image.size[0] * image.size[1] / 1e6
    return {
        "ms_per_photo": ms,
        "mean_file_mb": round(megabytes, 2),
        "mb_per_megapixel": round(megabytes / megapixels, 3),
        "full_over_draft": round(ms["full"] / ms["draft"], 2),
        "full_over_mlpcli": round(ms["full"] / ms["mlpcli"], 2),
        "mlpcli_over_entropy": round(ms["mlpcli"] / ms["entropy"], 3),
        "loadavg": os.getloadavg(),
    }


def noise_sweep(root: Path, amplitudes, ways: dict, rounds: int) -> dict:
    """For each noise amplitude: 6 photos (half portrait) and their ``summary``."""
    results = {}
    for amplitude in amplitudes:
        paths = []
        for index in range(6):
            path = root / f"noise{amplitude}" / f"{index}.jpg"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                make_photo(path, PHONE if index % 2 else PHONE[::-1], index, amplitude)
            paths.append(path)
        results[amplitude] = summary(paths, ways, rounds)
        print(f"noise +-{amplitude}: {results[amplitude]['full_over_draft']}x", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, help="photos.py's folder (default: a temporary one)")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--noise", type=int, nargs="*", default=[])
    args = parser.parse_args()
    ways = variants(args.size)
    with tempfile.TemporaryDirectory() as scratch:
        root = args.folder or Path(scratch) / "photos"
        result = {"size": args.size, "photos": summary(make_folder(root, args.count), ways, args.rounds)}
        result["noise"] = noise_sweep(root.parent / (root.name + "-noise"), args.noise, ways, args.rounds)
    print(json.dumps({**result, "load": load(), "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
