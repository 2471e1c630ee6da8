"""Building the data on a Dask cluster: decoding and extraction with ``--cluster local:N`` against
in-process, side by side.

Generates ``--count`` photo-like JPEGs of 128 px (as ``photos.py`` draws its photos, at quality 90;
two classes, half landscape 128x170 and half portrait 170x128, brought to 128x128 by squash) and
times, alternately ``--repeats`` times, what ``train`` does to build its data without a cache:
  - in-process: ``load_files`` (a decode pool of ``threads.threads()`` processes: the cores, or
    the BLAS limit in the environment) then ``extract_features`` (HOG + color histograms, on
    ``--workers`` threads);
  - on a local Dask cluster of ``--workers`` single-threaded workers: the same two calls with a
    ``ClusterMap`` (shards decoded and extracted on the workers); the cluster's start-up is timed
    apart, once.
Checks that both give the same bytes, and prints one JSON document on stdout: seconds per stage
(median over the repeats), per-image times (wall, and the CPU time of one process with one
thread doing it all, which the load does not inflate; and of draft-decoding ``--phone-photos``
12-megapixel photos to 128 px), and the machine's load (``os.getloadavg()`` before
and after, and other processes' CPU share during the run). Not part of pytest's pass/fail.

Usage: nice python benchmarks/cluster_extract.py [--count 3000] [--workers 2] [--repeats 3] [--phone-photos 8]
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

from machine import NeighbourMeter, load, machine  # first: sets up BLAS as mlpcli does

# isort: split
import numpy as np
from photos import make_photo

from mlpcli import threads
from mlpcli.data.filelist import load_files
from mlpcli.data.folder import folder_files
from mlpcli.data.shape import Preprocess
from mlpcli.features import FeatureConfig
from mlpcli.features.pipeline import extract_features
from mlpcli.nn import parallel

SIZE = 128
FEATURES = (
    FeatureConfig("hog", {"orientations": 9, "cell": 8, "block": 2, "block_norm": "L2-Hys"}),
    FeatureConfig("color_hist", {"space": "hsv", "bins": 10}),
)


def make_folder(root: Path, count: int) -> Path:
    for index in range(count):
        path = root / "ab"[index % 2] / f"{index:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        make_photo(path, (170, 128) if index % 4 < 2 else (128, 170), index)
    return root


def build(files, mapper=None) -> tuple[dict, np.ndarray]:
    """Seconds to decode and to extract, and the feature matrix."""
    started = time.perf_counter()
    dataset = load_files(files, Preprocess((SIZE, SIZE)), "fail", None, 10**8, mapper)
    decoded = time.perf_counter()
    X = extract_features(dataset.images, FEATURES, progress=False, mapper=mapper)
    done = time.perf_counter()
    return {"decode": decoded - started, "extract": done - decoded, "total": done - started}, X


def cpu_per_image(files) -> dict:
    """CPU milliseconds per image of one process and one thread doing all the work: what a
    single-threaded worker spends on an image, whatever the machine's load."""
    from mlpcli.data.folder import decode_files
    from mlpcli.progress import bar

    parallel.set_threads(1)
    started = time.process_time()
    with bar(0, "") as silent:
        images = decode_files(files.paths, Preprocess((SIZE, SIZE)), 10**8, None, silent)[0]
    decoded = time.process_time()
    extract_features(images, FEATURES, progress=False)
    done = time.process_time()
    n = len(files.paths)
    return {"decode": round(1000 * (decoded - started) / n, 3), "extract": round(1000 * (done - decoded) / n, 3)}


def draft_decode_cpu(root: Path, count: int) -> float | None:
    """CPU milliseconds (median) to decode one 12-megapixel phone photo to 128 px with mlpcli's
    draft decoding, in one process: ``count`` photos made as ``photos.py`` makes them."""
    from photos import PHONE

    from mlpcli.data.images import load_image

    if count < 1:
        return None
    times = []
    for index in range(count):
        path = root / f"{index:03d}.jpg"
        make_photo(path, PHONE if index % 2 else PHONE[::-1], index)
        started = time.process_time()
        load_image(path, Preprocess((SIZE, SIZE)))
        times.append(time.process_time() - started)
    return round(1000 * statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--phone-photos", type=int, default=8, help="12-MP photos to time draft decoding on")
    args = parser.parse_args()
    from mlpcli.units.executor import open_executor
    from mlpcli.units.mapping import ClusterMap

    parallel.set_threads(args.workers)
    loadavg_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        files = folder_files(make_folder(Path(scratch) / "photos", args.count))
        megabytes = sum(p.stat().st_size for p in files.paths) / 2**20
        started = time.perf_counter()
        executor = open_executor(cluster=f"local:{args.workers}", dashboard=False)
        startup = time.perf_counter() - started
        meter = NeighbourMeter()
        meter.start()
        try:
            here, there, same = run(files, ClusterMap(executor.client), args.repeats)
        finally:
            executor.close()
        neighbours = meter.stop()
        cpu = cpu_per_image(files)
        (Path(scratch) / "phone").mkdir()
        cpu["draft_decode_12mp"] = draft_decode_cpu(Path(scratch) / "phone", args.phone_photos)
    report(args, megabytes, startup, here, there, same, loadavg_before, neighbours, cpu)


def run(files, mapper, repeats: int):
    """Alternate in-process and cluster builds ``repeats`` times -> (times here, times there, same bytes)."""
    here, there, same = [], [], True
    for repeat in range(repeats):
        seconds, X = build(files)
        here.append(seconds)
        seconds, Y = build(files, mapper)
        there.append(seconds)
        same = same and X.tobytes() == Y.tobytes()
        print(
            f"repeat {repeat + 1}: in-process {here[-1]['total']:.2f} s, cluster {there[-1]['total']:.2f} s",
            file=sys.stderr,
        )
    return here, there, same


def report(args, megabytes, startup, here, there, same, loadavg_before, neighbours, cpu) -> None:
    def medians(runs):
        return {stage: round(statistics.median(r[stage] for r in runs), 3) for stage in runs[0]}

    here_s, there_s = medians(here), medians(there)
    print(
        json.dumps(
            {
                "count": args.count,
                "image_size": SIZE,
                "features": "hog + color_hist",
                "workers": args.workers,
                "in_process_decode_processes": threads.threads(),
                "repeats": args.repeats,
                "mean_file_kb": round(1024 * megabytes / args.count, 1),
                "in_process_s": here_s,
                "cluster_s": there_s,
                "cluster_startup_s": round(startup, 2),
                "ms_per_image": {
                    "in_process": round(1000 * here_s["total"] / args.count, 3),
                    "cluster": round(1000 * there_s["total"] / args.count, 3),
                },
                "cpu_ms_per_image_one_thread": cpu,
                "cluster_over_in_process": round(there_s["total"] / here_s["total"], 2),
                "same_bytes": same,
                "loadavg_before": loadavg_before,
                "loadavg_after": os.getloadavg(),
                "neighbour_cpu_percent": neighbours,
                "load": load(),
                "machine": machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
