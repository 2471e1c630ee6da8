"""Bag of visual words: mlpcli's vocabulary fit and encoding against scikit-learn, side by side.

One run, same images, same parameters (the feature's defaults unless overridden: 6x6 patches,
stride 1, 1,600 words, whitening, triangle codes, quadrant pooling, 400,000 training patches):
  1. training patches (mlpcli): ``sample_patches`` random patches of the fit images, contrast
     normalized and ZCA whitened, timed;
  2. vocabulary on those same whitened patches: mlpcli's ``kmeans`` (greedy k-means++ seeds, Lloyd
     iterations until the inertia stalls) against scikit-learn's ``KMeans`` (k-means++, n_init=1,
     the same iteration budget) and ``MiniBatchKMeans`` (its defaults, batch 4096); seconds, and
     the inertia of each vocabulary on the patches by one float64 function (ratio to mlpcli's);
  3. encoding: mlpcli's ``encode`` of all ``--encode-images`` images, and the same pipeline
     written with scikit-learn's tools (``extract_patches_2d`` per image, ``euclidean_distances``,
     NumPy for the normalization, triangle codes and quadrant sums) on the first
     ``--sklearn-images``; microseconds per image, and the largest difference between the two.
mlpcli's fit time is (1) + mlpcli's part of (2): exactly what ``bow.fit`` runs.

The images: ``--npz`` (arrays ``images`` (n, 32, 32, 3) uint8) or the image folder ``--data``
decoded through the cache in .mlpcli-cache. The vocabulary is fitted on the first
``--fit-images`` of a seeded permutation; all images are encoded.

Usage: python benchmarks/bow.py [--data data/cifar10-jpg/train | --npz images.npz]
       [--fit-images 50000] [--encode-images 50000] [--sklearn-images 1000]
       [--sklearn-kmeans both|minibatch|kmeans|none]
       [--set words=400 --set sample_patches=100000 ...]
Prints one JSON document on stdout (progress on stderr).
Targets (issue 16): fit + encoding of 50,000 images < 240 s on 2 cores; mlpcli's k-means at least
as fast as scikit-learn's with inertia within 1% (ratio <= 1.01).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from machine import NeighbourMeter, load, machine  # first: sets up BLAS as mlpcli does

# isort: split

import numpy as np

from mlpcli.features import bow
from mlpcli.features.bow import kmeans
from mlpcli.nn import parallel

TARGET_SECONDS = 240.0
INERTIA_TOLERANCE = 1.01


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Timed:
    """Wall seconds of a block and the share of the CPU other processes used meanwhile."""

    def __enter__(self):
        self.meter = NeighbourMeter()
        self.meter.start()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.others_cpu_percent = self.meter.stop()

    def report(self, **fields) -> dict:
        return {"seconds": round(self.seconds, 3), "others_cpu_percent": self.others_cpu_percent, **fields}


def load_images(args) -> np.ndarray:
    if args.npz is not None:
        with np.load(args.npz, allow_pickle=False) as stored:
            return stored["images"]
    if not Path(args.data).is_dir():
        sys.exit(f"no image folder {args.data}; pass --data <folder> or --npz <file with images>")
    from mlpcli.data.folder import load_folder

    say(f"loading {args.data} (decoded-image cache .mlpcli-cache)")
    return load_folder(args.data, (32, 32), cache_dir=".mlpcli-cache").images


def inertia(points: np.ndarray, centers: np.ndarray, chunk: int = 8192) -> float:
    """Sum over points of the squared distance to the nearest center, in float64."""
    centers = centers.astype(np.float64)
    center_norms = np.einsum("ij,ij->i", centers, centers)
    total = 0.0
    for start in range(0, len(points), chunk):
        block = points[start : start + chunk].astype(np.float64)
        squared = center_norms[None, :] - 2 * block @ centers.T
        total += float((squared.min(axis=1) + np.einsum("ij,ij->i", block, block)).clip(0).sum())
    return total


def vocabularies(points: np.ndarray, params: dict, seed: int, references: str) -> tuple[dict, np.ndarray]:
    """mlpcli's k-means, then scikit-learn's, on the same points: (seconds and inertia of each,
    mlpcli's vocabulary)."""
    k, budget = params["words"], params["kmeans_iterations"]
    with Timed() as timed:
        centers, info = kmeans.kmeans(points, k, np.random.default_rng(seed), budget, params["kmeans_tol"])
    ours = inertia(points, centers)
    results = {"mlpcli": timed.report(iterations=info["iterations"], inertia=ours)}
    say(f"mlpcli k-means: {timed.seconds:.1f} s, {info['iterations']} iterations, inertia {ours:.6g}")
    if references == "none":
        return results, centers
    from sklearn.cluster import KMeans, MiniBatchKMeans

    contenders = {
        "sklearn_minibatch": MiniBatchKMeans(k, init="k-means++", n_init=1, batch_size=4096, random_state=seed),
        "sklearn_kmeans": KMeans(k, init="k-means++", n_init=1, max_iter=budget, random_state=seed),
    }
    for name, model in contenders.items():
        if references not in ("both", name.removeprefix("sklearn_")):
            continue
        say(f"{name} ...")
        with Timed() as timed:
            model.fit(points)
        theirs = inertia(points, model.cluster_centers_)
        results[name] = timed.report(
            iterations=int(model.n_iter_),
            inertia=theirs,
            mlpcli_inertia_ratio=round(ours / theirs, 5),
            mlpcli_speedup=round(timed.seconds / results["mlpcli"]["seconds"], 2),
        )
        say(f"{name}: {timed.seconds:.1f} s, inertia {theirs:.6g} (mlpcli/theirs {ours / theirs:.4f})")
    return results, centers


def sklearn_encode(images: np.ndarray, state: dict, params: dict) -> np.ndarray:
    """The triangle/quadrant encoding as a scikit-learn user writes it: one image at a time."""
    from sklearn.feature_extraction.image import extract_patches_2d
    from sklearn.metrics.pairwise import euclidean_distances

    patch, words = params["patch"], params["words"]
    rows, cols = images.shape[1] - patch + 1, images.shape[2] - patch + 1
    half_rows, half_cols = (rows + 1) // 2, (cols + 1) // 2
    mean, matrix, vocabulary = state["whiten_mean"], state["whiten_matrix"], state["vocabulary"]
    features = np.empty((len(images), 4 * words), np.float32)
    for index, image in enumerate(images):
        x = extract_patches_2d(image, (patch, patch)).reshape(rows * cols, -1).astype(np.float32)
        x = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + 10)
        distances = euclidean_distances((x - mean) @ matrix, vocabulary)
        codes = np.maximum(0, distances.mean(axis=1, keepdims=True) - distances).reshape(rows, cols, words)
        features[index] = np.concatenate(
            [
                codes[:half_rows, :half_cols].sum(axis=(0, 1)),
                codes[:half_rows, half_cols:].sum(axis=(0, 1)),
                codes[half_rows:, :half_cols].sum(axis=(0, 1)),
                codes[half_rows:, half_cols:].sum(axis=(0, 1)),
            ]
        )
    return features


def encodings(images: np.ndarray, state: dict, params: dict, n_sklearn: int) -> dict:
    with Timed() as timed:
        features = bow.encode(images, state, params)
    n = len(images)
    results = {
        "mlpcli": timed.report(
            n_images=n,
            us_per_image=round(timed.seconds / n * 1e6, 1),
            seconds_per_50k=round(timed.seconds / n * 50_000, 1),
        )
    }
    say(f"mlpcli encoding: {timed.seconds:.1f} s for {n} images")
    comparable = params["stride"] == 1 and params["encoding"] == "triangle" and params["pooling"] == "quadrants"
    if n_sklearn > 0 and comparable:
        subset = images[:n_sklearn]
        with Timed() as theirs:
            reference = sklearn_encode(subset, state, params)
        ours = features[:n_sklearn]
        results["sklearn"] = theirs.report(
            n_images=len(subset),
            us_per_image=round(theirs.seconds / len(subset) * 1e6, 1),
            mlpcli_speedup=round(theirs.seconds / len(subset) / (timed.seconds / n), 2),
            max_abs_diff=float(np.abs(ours - reference).max()),
            max_rel_diff=float((np.abs(ours - reference) / np.maximum(np.abs(reference), 1)).max()),
        )
        say(f"scikit-learn encoding: {theirs.seconds:.1f} s for {len(subset)} images")
    return results


def parse_set(values: list[str]) -> dict:
    """["words=400", "whiten=false", "encoding=hard"] -> the feature's parameters, defaults filled in."""
    params = {}
    for item in values:
        name, _, value = item.partition("=")
        try:
            params[name] = json.loads(value)  # numbers and true/false
        except ValueError:
            params[name] = value
    return bow.check_params(params)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/cifar10-jpg/train")
    parser.add_argument("--npz", type=Path)
    parser.add_argument("--fit-images", type=int, default=50_000)
    parser.add_argument("--encode-images", type=int, default=50_000)
    parser.add_argument("--sklearn-images", type=int, default=1000)
    parser.add_argument(
        "--sklearn-kmeans",
        choices=("both", "minibatch", "kmeans", "none"),
        default="both",
        help="scikit-learn references for the vocabulary (KMeans takes ~30 min at the defaults)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    params = parse_set(args.set)
    report = {"params": params, "machine": machine(), "load_at_start": load(), "workers": parallel.threads()}

    images = load_images(args)
    order = np.random.default_rng(args.seed).permutation(len(images))
    fit_images = images[np.sort(order[: args.fit_images])]
    say(f"{len(images)} images; fitting on {len(fit_images)}")
    with Timed() as timed:
        points, mean, matrix = bow.training_patches(fit_images, params, np.random.default_rng(args.seed))
    report["training_patches"] = timed.report(n_patches=len(points))
    report["kmeans"], vocabulary = vocabularies(points, params, args.seed, args.sklearn_kmeans)
    del points
    # What bow.fit returns for the same generator: training_patches, then kmeans.
    state = {
        "whiten_mean": mean.astype(np.float32),
        "whiten_matrix": matrix.astype(np.float32),
        "vocabulary": vocabulary,
    }
    report["fit_seconds"] = round(report["training_patches"]["seconds"] + report["kmeans"]["mlpcli"]["seconds"], 3)
    report["encoding"] = encodings(images[: args.encode_images], state, params, args.sklearn_images)
    per_50k = report["encoding"]["mlpcli"]["seconds_per_50k"]
    report["fit_plus_encode_50k_seconds"] = round(report["fit_seconds"] + per_50k, 1)
    report["targets"] = {"fit_plus_encode_50k_under_240s": report["fit_plus_encode_50k_seconds"] < TARGET_SECONDS}
    for name in ("sklearn_kmeans", "sklearn_minibatch"):
        if name in report["kmeans"]:
            result = report["kmeans"][name]
            report["targets"][f"faster_than_{name}"] = result["mlpcli_speedup"] >= 1
            report["targets"][f"inertia_within_1pct_of_{name}"] = result["mlpcli_inertia_ratio"] <= INERTIA_TOLERANCE
    report["load_at_end"] = load()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
