"""Exported ONNX models against mlpcli on held-back images: the same accuracy, and how fast.

For each ``--model`` run (trained by mlpcli on other images): the accuracy `mlpcli evaluate`
reports on ``--data`` (``commands.run_evaluate``), the accuracy of the exported graph run by
onnxruntime on the same decoded images, the largest probability difference, the images whose
predicted class differs, and the images per second of each (decoded images in, probabilities
out; median of ``--repeat``, batches of ``--batch``).

Usage: python benchmarks/onnx_export.py --model RUN [--model RUN ...] --data HELD_BACK_FOLDER
       [--repeat 3] [--batch 64]
Prints one JSON document on stdout. Target (issue 24): accuracies within 0.1 point. The batch
stays small: a bag-of-words graph holds (batch, 27, 27, 1,600) distances of 32x32 images at once.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import load, machine


def timed(fn, repeat: int) -> float:
    """Median seconds of ``fn()`` over ``repeat`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def session_of(path: Path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def in_batches(fn, images: np.ndarray, batch: int) -> np.ndarray:
    return np.concatenate([fn(images[start : start + batch]) for start in range(0, len(images), batch)])


def bench_model(run_dir: Path, data: Path, repeat: int, batch: int, scratch: Path) -> dict:
    from mlpcli.artifacts import load_model
    from mlpcli.commands import run_evaluate
    from mlpcli.data import load_labelled, relabel
    from mlpcli.export import export_onnx

    model = load_model(run_dir)
    evaluated = run_evaluate(run_dir, data)
    dataset = load_labelled(data, model.image_size)
    labels = relabel(dataset, model.class_names, data)
    path = scratch / f"{run_dir.name}.onnx"
    export_onnx(model, path)
    session = session_of(path)
    onnx_probabilities = in_batches(
        lambda part: session.run(["probabilities"], {"images": part})[0], dataset.images, batch
    )
    mlpcli_probabilities = in_batches(model.predict_proba, dataset.images, batch)
    n = len(labels)
    onnx_seconds = timed(
        lambda: in_batches(lambda p: session.run(["probabilities"], {"images": p})[0], dataset.images, batch), repeat
    )
    mlpcli_seconds = timed(lambda: in_batches(model.predict_proba, dataset.images, batch), repeat)
    onnx_accuracy = float(np.mean(onnx_probabilities.argmax(axis=1) == labels))
    return {
        "run": str(run_dir),
        "n_images": n,
        "mlpcli_evaluate_accuracy": evaluated["accuracy"],
        "onnxruntime_accuracy": onnx_accuracy,
        "difference_points": 100 * (onnx_accuracy - evaluated["accuracy"]),
        "max_probability_difference": float(np.abs(onnx_probabilities - mlpcli_probabilities).max()),
        "predicted_class_differs": int(np.sum(onnx_probabilities.argmax(1) != mlpcli_probabilities.argmax(1))),
        "onnxruntime_images_per_second": n / onnx_seconds,
        "mlpcli_images_per_second": n / mlpcli_seconds,
        "onnx_bytes": path.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = [bench_model(run, args.data, args.repeat, args.batch, Path(scratch)) for run in args.model]
    print(
        json.dumps(
            {
                "machine": machine(),
                "load": load(),
                "models": results,
                "within_0_1_point": all(abs(r["difference_points"]) <= 0.1 for r in results),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
