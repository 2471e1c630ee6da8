"""End-to-end feature extraction of an image folder with a cold cache: decode + features.

Times each stage of what `mlpcli train` does before training (scan and decode every image, then
extract the configured features) and reports the peak resident memory of this process and of the
decoding workers. Nothing is read from or written to the cache.

Usage: python benchmarks/extraction.py [--config configs/cifar10-hog.yaml]
Prints one JSON document on stdout. Target (issue 3): under 10 s for the 50,000 CIFAR-10 JPEGs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time

import numpy as np

from mlpcli.config import load_config
from mlpcli.data.folder import load_folder
from mlpcli.features.pipeline import extract_features


def peak_rss_mb(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/cifar10-hog.yaml")
    args = parser.parse_args()
    config = load_config(args.config)
    started = time.perf_counter()
    dataset = load_folder(config.data.path, config.data.image_size, cache_dir=None)
    decoded = time.perf_counter()
    X = extract_features(dataset.images, config.features, config.model.dtype, progress=False)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "config": args.config,
                "n_images": len(dataset),
                "n_features": X.shape[1],
                "features": [{"name": f.name, **f.params} for f in config.features],
                "decode_seconds": round(decoded - started, 3),
                "features_seconds": round(done - decoded, 3),
                "total_seconds": round(done - started, 3),
                "features_us_per_image": round((done - decoded) / len(dataset) * 1e6, 2),
                "peak_rss_mb_main": round(peak_rss_mb(resource.RUSAGE_SELF), 1),
                "peak_rss_mb_decode_worker": round(peak_rss_mb(resource.RUSAGE_CHILDREN), 1),
                "images_mb": round(dataset.images.nbytes / 2**20, 1),
                "features_mb": round(X.nbytes / 2**20, 1),
                "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "numpy": np.__version__},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
