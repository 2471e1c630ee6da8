"""Peak anonymous memory of `mlpcli train` (HOG + color histograms, 1 epoch) as the number of
128-px images grows: 10,000 / 30,000 / 100,000 by default.

It draws its own folder of 10 classes of smooth, shape-filled JPEGs (160x120 at quality 90,
resized by mlpcli to 128x128; the larger sets reuse the smaller ones' files through symlinks),
then runs `mlpcli -q train --json` on each folder with a fresh cache folder, polling
``RssAnon`` (memory that is not a mapped file: what really grows with data held in memory) of
the mlpcli process and of its whole process tree (decode workers) in /proc every 50 ms.

Target (issue 23): the 100,000-image peak under 1.5 GB, within 10% of the 10,000-image peak.

Usage: python benchmarks/photos_memory.py [--counts 10000 30000 100000] [--work DIR]
Prints one JSON document on stdout; the folder is kept in --work (default: a temporary one).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from machine import load, machine, proc_stats

# isort: split

import numpy as np  # after machine: BLAS settings as the command has them
from PIL import Image, ImageDraw

CLASSES = 10
TARGET_MB = 1500


def draw_photo(rng: np.random.Generator, label: int) -> Image.Image:
    """A smooth 160x120 gradient with a few filled shapes whose color depends on the class."""
    rows, cols = np.mgrid[0:120, 0:160]
    base = rng.uniform(40, 200, 3)
    slope = rng.uniform(-0.5, 0.5, (2, 3))
    pixels = base + rows[..., None] * slope[0] + cols[..., None] * slope[1]
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    hue = np.array([(label * 25) % 256, (label * 70) % 256, (255 - label * 25) % 256])
    for _ in range(3):
        x0, y0 = rng.integers(0, 120), rng.integers(0, 80)
        box = (x0, y0, x0 + rng.integers(10, 40), y0 + rng.integers(10, 40))
        color = tuple(int(v) for v in np.clip(hue + rng.normal(0, 20, 3), 0, 255))
        (draw.ellipse if label % 2 else draw.rectangle)(box, fill=color)
    return image


def make_folders(work: Path, counts: list[int]) -> dict[int, Path]:
    """work/all holds max(counts) photos; work/n<count> links the first count of them."""
    per_class = -(-max(counts) // CLASSES)
    rng = np.random.default_rng(0)
    for label in range(CLASSES):
        folder = work / "all" / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            path = folder / f"{index:06d}.jpg"
            if not path.exists():
                draw_photo(rng, label).save(path, quality=90)
    folders = {}
    for count in counts:
        folder = work / f"n{count}"
        for label in range(CLASSES):
            (folder / f"class{label}").mkdir(parents=True, exist_ok=True)
            for index in range(count // CLASSES):
                link = folder / f"class{label}" / f"{index:06d}.jpg"
                if not link.exists():
                    link.symlink_to(work / "all" / f"class{label}" / f"{index:06d}.jpg")
        folders[count] = folder
    return folders


def rss_anon_mb(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, fields in proc_stats():
        children.setdefault(int(fields[1]), []).append(pid)
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack += children.get(pid, [])
    return found


def measured_train(folder: Path, work: Path) -> dict:
    config = work / f"{folder.name}.yaml"
    cache = work / f"cache-{folder.name}"
    shutil.rmtree(cache, ignore_errors=True)  # cold: a kept --work folder would reuse the last run's shards
    config.write_text(
        json.dumps(
            {
                "seed": 0,
                "data": {
                    "format": "folder",
                    "path": str(folder),
                    "image_size": 128,
                    "val_fraction": 0.1,
                    "cache_dir": str(cache),
                },
                "features": [{"name": "hog"}, {"name": "color_hist"}],
                "model": {"hidden": [256]},
                "train": {"epochs": 1, "batch_size": 128, "lr": 0.01},
            }
        )
    )
    command = [
        sys.executable,
        "-m",
        "mlpcli",
        "-q",
        "train",
        "--config",
        str(config),
        "--json",
        "--out",
        str(work / f"run-{folder.name}-{time.time_ns()}"),
    ]
    peaks = {"process": 0.0, "tree": 0.0}
    with open(work / "stderr.txt", "w") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peaks["process"] = max(peaks["process"], rss_anon_mb(process.pid))
                peaks["tree"] = max(peaks["tree"], sum(rss_anon_mb(pid) for pid in tree(process.pid)))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, _ = process.communicate()
        done.set()
        sampler.join()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}); see {work / 'stderr.txt'}")
    result = json.loads(out)
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss_anon_mb": peaks["process"],
        "tree_peak_rss_anon_mb": peaks["tree"],
        "val_accuracy": result.get("val_accuracy"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--work", type=Path, help="folder for the photos, caches and runs (kept)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mlpcli-photos-"))
    report = {
        "machine": machine(),
        "load_before": load(),
        "image_size": 128,
        "features": "hog + color_hist",
        "target_mb": TARGET_MB,
        "work": str(work),
    }
    started = time.perf_counter()
    folders = make_folders(work, args.counts)
    report["seconds_to_draw_photos"] = time.perf_counter() - started
    report["runs"] = {str(count): measured_train(folder, work) for count, folder in folders.items()}
    report["load_after"] = load()
    peaks = [run["peak_rss_anon_mb"] for run in report["runs"].values()]
    report["largest_over_smallest"] = peaks[-1] / peaks[0]
    report["targets_met"] = {
        "largest peak < 1.5 GB": peaks[-1] < TARGET_MB,
        "largest within 10% of smallest": peaks[-1] <= 1.1 * peaks[0],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
