"""Exported ONNX models against mlpcli on held-back images: the same accuracy, and how fast.

For each ``--model`` run (trained by mlpcli on other images): the accuracy `mlpcli evaluate`
reports on the held-back images (``commands.run_evaluate``), the accuracy of the exported graph
run by onnxruntime on the same decoded images (decoded as the model's ``preprocess`` says), the
largest probability difference, the images whose predicted class differs, and the images per
second of each (decoded images in, probabilities out; median of ``--repeat``, batches of
``--batch``).

The held-back images are ``--data`` (a folder, CSV, ...), or with ``--validation-of`` each run's
own validation split: the files of its ``config.yaml`` split as training split them (``load_dataset``
and ``holdout_split`` with the run's seed and ``val_fraction``, or its fixed split), written as a
CSV (absolute paths, ``path,label``) in a scratch folder that evaluate and onnxruntime read; the
run's recorded validation accuracy (``metrics.json``) is then reported beside evaluate's, so the
two can be seen to agree. ``--validation-of`` needs a ``train`` run of image files, and the
folder it was trained from as the current folder (config.yaml's relative paths, as train read them).

Usage: python benchmarks/onnx_export.py --model RUN [--model RUN ...] (--data HELD_BACK | --validation-of)
       [--repeat 3] [--batch 64]
Prints one JSON document on stdout. Target (issue 24): accuracies within 0.1 point. The batch
stays small: a bag-of-words graph holds (batch, 27, 27, 1,600) distances of 32x32 images at once
(twice that for a model with test-time flips).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from functools import partial
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


def validation_csv(run_dir: Path, scratch: Path) -> Path:
    """The run's own validation split, as train drew it, written as ``path,label`` rows."""
    from mlpcli.artifacts import rundir
    from mlpcli.config import load_config
    from mlpcli.data import load_dataset
    from mlpcli.train.fit import holdout_split

    config = load_config(run_dir / rundir.CONFIG)
    dataset = load_dataset(config.data, config.seed)
    if dataset.sources is None:
        raise SystemExit(f"{run_dir}: its data ({config.data.format}) names no image files; use --data")
    _, val_rows = holdout_split(config, dataset.labels, dataset.fixed_val)
    path = scratch / f"{run_dir.resolve().name}-validation.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        rows = [(Path(dataset.sources[i]).resolve(), dataset.class_names[dataset.labels[i]]) for i in val_rows]
        csv.writer(handle).writerows([("path", "label"), *rows])
    return path


def recorded_validation(run_dir: Path) -> dict:
    """The validation accuracy and size the run recorded at the end of training."""
    from mlpcli.artifacts import rundir

    path = run_dir / rundir.METRICS
    metrics = json.loads(path.read_text()) if path.exists() else {}
    if "val" not in metrics:
        raise SystemExit(f"{run_dir}: no validation split in {rundir.METRICS} (not a train run); use --data")
    return {"run_validation_accuracy": metrics["val"]["accuracy"], "run_validation_n": metrics["val"]["n"]}


def bench_model(run_dir: Path, data: Path, repeat: int, batch: int, scratch: Path) -> dict:
    from mlpcli.artifacts import load_model
    from mlpcli.commands import run_evaluate
    from mlpcli.data import load_labelled, relabel
    from mlpcli.export import export_onnx

    model = load_model(run_dir)
    evaluated = run_evaluate(run_dir, data)
    dataset = load_labelled(data, model.preprocess)
    labels = relabel(dataset, model.class_names, data)
    path = scratch / f"{run_dir.resolve().name}.onnx"
    export_onnx(model, path)
    session = session_of(path)

    def onnx_proba(images):
        return session.run(["probabilities"], {"images": images})[0]

    onnx_probabilities = in_batches(onnx_proba, dataset.images, batch)
    mlpcli_probabilities = in_batches(model.predict_proba, dataset.images, batch)
    onnx_accuracy = float(np.mean(onnx_probabilities.argmax(axis=1) == labels))
    return {
        "run": str(run_dir),
        "data": str(data),
        "tta": model.tta,
        "preprocess": {"size": list(model.preprocess.size), **model.preprocess.describe()},
        "n_images": len(labels),
        "mlpcli_evaluate_accuracy": evaluated["accuracy"],
        "onnxruntime_accuracy": onnx_accuracy,
        "difference_points": 100 * (onnx_accuracy - evaluated["accuracy"]),
        "max_probability_difference": float(np.abs(onnx_probabilities - mlpcli_probabilities).max()),
        "predicted_class_differs": int(np.sum(onnx_probabilities.argmax(1) != mlpcli_probabilities.argmax(1))),
        **speeds({"onnxruntime": onnx_proba, "mlpcli": model.predict_proba}, dataset.images, repeat, batch),
        "onnx_bytes": path.stat().st_size,
    }


def speeds(predictors: dict, images: np.ndarray, repeat: int, batch: int) -> dict:
    """Images per second of each named ``images -> probabilities`` function, in batches."""
    return {
        f"{name}_images_per_second": len(images) / timed(partial(in_batches, fn, images, batch), repeat)
        for name, fn in predictors.items()
    }


def bench_run(run_dir: Path, args, scratch: Path) -> dict:
    """One run's measures, on ``--data`` or on its own validation split."""
    if not args.validation_of:
        return bench_model(run_dir, args.data, args.repeat, args.batch, scratch)
    recorded = recorded_validation(run_dir)
    return {**bench_model(run_dir, validation_csv(run_dir, scratch), args.repeat, args.batch, scratch), **recorded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, type=Path)
    held_back = parser.add_mutually_exclusive_group(required=True)
    held_back.add_argument("--data", type=Path, help="held-back labelled images (folder, CSV, ...)")
    held_back.add_argument("--validation-of", action="store_true", help="each run's own validation split")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = [bench_run(run, args, Path(scratch)) for run in args.model]
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
