"""Speed and agreement of the feature extractors: mlpcli's batch HOG against scikit-image's.

One run, same machine, same images:
  1. mlpcli ``hog.extract`` over the whole batch (uint8 RGB -> float32 features, gray conversion
     included), best of ``--repeat``;
  2. ``skimage.feature.hog`` called per image, the way its users call it, on the same grayscale
     values (mlpcli's float32 gray, as float64), best of ``--repeat``;
  3. the largest absolute difference between the two (must be <= 1e-5), and the same for
     ``extract(dtype="float64")`` against skimage on the float64 gray;
  4. mlpcli ``color_hist.extract`` (hsv, 10 bins), best of ``--repeat``.

Usage: python benchmarks/features.py [--data data/cifar10-jpg/train] [--per-class 1000] [--repeat 3]
Prints one JSON document on stdout (progress on stderr); exits 1 if the values disagree.
scikit-image is a benchmark/test-only dependency. Target: speedup >= 20.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mlpcli.features import color_hist, hog

HOG_PARAMS = {"orientations": 9, "cell": 8, "block": 2, "block_norm": "L2-Hys"}
TOLERANCE = 1e-5


def load_images(root: Path, per_class: int) -> np.ndarray:
    """The first ``per_class`` JPEGs (sorted by name) of each class folder -> (n, h, w, 3) uint8."""
    class_dirs = sorted(path for path in root.iterdir() if path.is_dir())
    if not class_dirs:
        sys.exit(f"no class folders under {root}; pass --data <folder with one folder per class>")
    images = []
    for class_dir in class_dirs:
        for path in sorted(class_dir.glob("*.jpg"))[:per_class]:
            with Image.open(path) as image:
                images.append(np.asarray(image.convert("RGB")))
    return np.stack(images)


def best_time(fn, repeat: int):
    """(best wall-clock seconds over ``repeat`` calls, result of the last call)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def skimage_loop(gray64: np.ndarray) -> np.ndarray:
    from skimage.feature import hog as skimage_hog

    cell, block = HOG_PARAMS["cell"], HOG_PARAMS["block"]
    return np.stack(
        [
            skimage_hog(
                image,
                orientations=HOG_PARAMS["orientations"],
                pixels_per_cell=(cell, cell),
                cells_per_block=(block, block),
                block_norm=HOG_PARAMS["block_norm"],
                feature_vector=True,
            )
            for image in gray64
        ]
    )


def machine_info() -> dict:
    import skimage

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "skimage": skimage.__version__,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/cifar10-jpg/train"))
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    images = load_images(args.data, args.per_class)
    n = len(images)
    print(f"loaded {n} images of {images.shape[1]}x{images.shape[2]} from {args.data}", file=sys.stderr)
    # skimage gets exactly the gray values mlpcli's extract computes, as the float64 it expects.
    gray_f32_values = hog.rgb_to_gray(images, dtype="float32").astype(np.float64)
    gray_f64 = hog.rgb_to_gray(images, dtype="float64")

    ours_s, ours = best_time(lambda: hog.extract(images, dtype="float32", **HOG_PARAMS), args.repeat)
    ours64_s, ours64 = best_time(lambda: hog.extract(images, dtype="float64", **HOG_PARAMS), args.repeat)
    print(f"mlpcli hog: {ours_s / n * 1e6:.2f} us/image", file=sys.stderr)
    theirs_s, theirs = best_time(lambda: skimage_loop(gray_f32_values), args.repeat)
    print(f"skimage hog: {theirs_s / n * 1e6:.2f} us/image", file=sys.stderr)
    theirs64 = skimage_loop(gray_f64)  # the float64 pipeline's own gray values; not timed
    hist_s, _ = best_time(lambda: color_hist.extract(images, space="hsv", bins=10), args.repeat)

    max_diff = float(np.abs(ours.astype(np.float64) - theirs).max())
    max_diff64 = float(np.abs(ours64 - theirs64).max())
    report = {
        "n_images": n,
        "image_shape": list(images.shape[1:]),
        "hog_params": HOG_PARAMS,
        "n_features": ours.shape[1],
        "repeat": args.repeat,
        "mlpcli_hog_float32_us_per_image": round(ours_s / n * 1e6, 3),
        "mlpcli_hog_float64_us_per_image": round(ours64_s / n * 1e6, 3),
        "skimage_hog_loop_us_per_image": round(theirs_s / n * 1e6, 3),
        "speedup_float32": round(theirs_s / ours_s, 2),
        "speedup_float64": round(theirs_s / ours64_s, 2),
        "max_abs_diff_float32": max_diff,
        "max_abs_diff_float64": max_diff64,
        "tolerance": TOLERANCE,
        "identical_within_tolerance": max(max_diff, max_diff64) <= TOLERANCE,
        "mlpcli_color_hist_hsv_us_per_image": round(hist_s / n * 1e6, 3),
        "machine": machine_info(),
    }
    print(json.dumps(report, indent=2))
    return 0 if report["identical_within_tolerance"] else 1


if __name__ == "__main__":
    sys.exit(main())
