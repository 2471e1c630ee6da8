"""A run directory read back as plain data for ``mlpcli show``: config essentials, sizes, metrics,
folds, the latest saved evaluation (``evaluations`` writes them).

Everything returned is JSON-able: NaN (an empty split) becomes None.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ArtifactError, ConfigError
from ..fileio import json_clean
from . import rundir
from .records import read_history, read_kfold_summary, read_metrics, read_search_summary
from .rundir import EVALUATIONS, read_json

NO_EVALUATION = "no evaluation saved; run `mlpcli evaluate --model {run} --data DATA --save` to get a confusion matrix"


def config_essentials(config) -> dict:
    """The settings a reader of a run wants first, from a validated ``Config``."""
    from ..config import to_dict

    data = to_dict(config)
    essentials = {
        "seed": data["seed"],
        "mode": data["mode"],
        "data": {key: data["data"][key] for key in ("format", "path", "image_size", "resize", "color", "val_fraction")},
    }
    if config.data.resize == "pad":
        essentials["data"]["pad_fill"] = data["data"]["pad_fill"]
    if config.data.format == "synthetic":
        essentials["data"]["n_per_class"] = data["data"]["n_per_class"]
    if config.mode == "end_to_end":
        essentials["extractor"] = data["extractor"]
    else:
        essentials["features"] = data["features"]
    essentials["model"] = {key: data["model"][key] for key in ("hidden", "activation", "loss", "dtype")}
    essentials["train"] = {key: data["train"][key] for key in ("epochs", "batch_size", "lr", "schedule")}
    return essentials


def read_config(run_dir: Path, notes: list[str]):
    """The validated ``Config`` of the run's model: the chosen one (``best_config.yaml``) of a
    search or a k-fold ``--grid``, else the run's own; None (with a note) if missing or invalid."""
    from ..config import load_config

    path = run_dir / rundir.BEST_CONFIG
    if not path.is_file():
        path = run_dir / rundir.CONFIG
    if not path.is_file():
        notes.append(f"{path.name} missing: configuration unknown")
        return None
    try:
        return load_config(path)
    except ConfigError as exc:
        notes.append(f"config not readable: {exc}")
        return None


def latest_evaluation(run_dir: Path) -> dict | None:
    """The newest (by modification time) report in ``<run_dir>/evaluations/``, or None."""
    folder = run_dir / EVALUATIONS
    reports = sorted(folder.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name)) if folder.is_dir() else []
    if not reports:
        return None
    report = read_json(reports[-1])
    if not isinstance(report, dict) or not {"confusion", "class_names"} <= set(report):
        raise ArtifactError(f"{reports[-1]}: not an evaluation report (no confusion matrix)")
    keep = ("data", "saved_at", "accuracy", "n", "class_names", "confusion", "per_class")
    return {"path": str(reports[-1]), **{key: report[key] for key in keep if key in report}}


def _split_part(metrics: dict) -> dict:
    """Sizes, scores, epochs and time from one ``metrics.json``."""
    splits = ("train", "val")
    return {
        "n": {split: metrics.get(split, {}).get("n") for split in splits},
        "metrics": {split: {key: metrics.get(split, {}).get(key) for key in ("accuracy", "loss")} for split in splits},
        "epochs": metrics.get("epochs"),
        "best_epoch": metrics.get("best_epoch"),
        "stopped_early": metrics.get("stopped_early"),
        "seconds": metrics.get("seconds"),
    }


def _kfold_part(run_dir: Path, kfold: dict) -> dict:
    """Per-fold accuracies with mean and std, plus each fold's sizes, epochs and time."""
    folds = []
    for number, folder in enumerate(rundir.selected_fold_dirs(run_dir), start=1):
        metrics = read_metrics(folder) or {}
        folds.append({"fold": number, **_split_part(metrics)})
    keep = (
        "k",
        "select",
        "fold_accuracies",
        "fold_losses",
        "mean_accuracy",
        "std_accuracy",
        "best_fold",
        "oof_accuracy",
        "holdout",
        "best_params",
        "grid",
    )
    first = folds[0] if folds else {"n": {"train": None, "val": None}}
    seconds = [fold["seconds"] for fold in folds if isinstance(fold.get("seconds"), (int, float))]
    return {
        "kfold": {**{key: kfold[key] for key in keep if key in kfold}, "folds": folds},
        "n": first["n"],
        "metrics": None,
        "epochs": [fold.get("epochs") for fold in folds],
        "seconds": sum(seconds) if seconds else None,
    }


def _search_part(run_dir: Path, search: dict) -> dict:
    """The trials table and the best trial as a k-fold run (its folds, sizes and times)."""
    keep = (
        "strategy",
        "k",
        "select",
        "n_trials",
        "space",
        "rungs",
        "executor",
        "wall_seconds",
        "units_total",
        "units_trained",
        "units_reused",
    )
    rows = [
        {
            key: row.get(key)
            for key in (
                "rank",
                "trial",
                "params",
                "epochs",
                "folds_done",
                "mean_accuracy",
                "std_accuracy",
                "oof_accuracy",
                "seconds",
            )
        }
        for row in search["trials"]
    ]
    best = read_kfold_summary(run_dir / rundir.BEST_TRIAL) or {}
    part = _kfold_part(run_dir, best)
    return {**part, "search": {**{key: search.get(key) for key in keep}, "trials": rows}}


def run_summary(run_dir: str | Path) -> dict:
    """Everything ``mlpcli show`` prints about a run, JSON-able (pictures not included)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ArtifactError(f"{run_dir}: no such run directory (train one with `mlpcli train`)")
    search = read_search_summary(run_dir)
    kfold = read_kfold_summary(run_dir)
    metrics = read_metrics(run_dir)
    interrupted, diverged = rundir.unfinished(run_dir), rundir.divergence(run_dir)
    if search is None and kfold is None and metrics is None and interrupted is None and not rundir.is_finished(run_dir):
        raise ArtifactError(
            f"{run_dir}: not a run directory (no {rundir.METRICS}, {rundir.KFOLD_SUMMARY} or {rundir.MODEL})"
        )
    notes: list[str] = []
    config = read_config(run_dir, notes)
    kind = _kind(diverged, interrupted, search, kfold)
    summary: dict = {
        "run_dir": str(run_dir),
        "kind": kind,
        "interrupted": interrupted,
        "diverged": diverged,
        "config": config_essentials(config) if config is not None else None,
        "search": None,
        "config_from": _config_from(run_dir),
    }
    summary.update(_scores_part(run_dir, kind, search, kfold, metrics, notes))
    own = (None, None) if interrupted is not None else (metrics, kfold)
    summary["evaluation"] = _evaluation_part(run_dir, notes, *own)
    summary["notes"] = notes
    return json_clean(summary)


def _kind(diverged, interrupted, search, kfold) -> str:
    """What the run is, the first that applies: diverged, interrupted, search, kfold, train."""
    for kind, present in (
        ("diverged", diverged),
        ("interrupted", interrupted),
        ("search", search is not None),
        ("kfold", kfold is not None),
    ):
        if present:
            return kind
    return "train"


def _config_from(run_dir: Path) -> str | None:
    """Where the config shown comes from, when it is not the run's own ``config.yaml``."""
    if not (run_dir / rundir.BEST_CONFIG).is_file():
        return None
    return f"{rundir.BEST_CONFIG}, the chosen model's ({rundir.CONFIG} holds what was run)"


def _scores_part(run_dir: Path, kind: str, search, kfold, metrics, notes: list[str]) -> dict:
    """Sizes, scores, epochs and time: a search's trials, a k-fold run's folds or a run's splits."""
    if kind == "search":
        return _search_part(run_dir, search)
    if kind == "kfold":
        return _kfold_part(run_dir, kfold)
    if kind == "train" and metrics is None:
        notes.append(f"{rundir.METRICS} missing: no scores to report")
    return {"kfold": None, **_split_part(metrics if kind == "train" and metrics else {})}


def _evaluation_part(run_dir: Path, notes: list[str], metrics: dict | None, kfold: dict | None) -> dict | None:
    """The latest saved evaluation; without one, the confusion the run recorded itself (the
    validation split of a train run, the out-of-fold predictions of a k-fold run); else None."""
    try:
        evaluation = latest_evaluation(run_dir)
    except ArtifactError as exc:
        evaluation = None
        notes.append(f"latest evaluation ignored: {exc}")
    if evaluation is None:
        evaluation = _own_confusion(run_dir, metrics, kfold)
        if evaluation is not None:
            notes.append(
                f"confusion matrix of the {evaluation['data']}; for other data run "
                f"`mlpcli evaluate --model {run_dir} --data DATA --save`"
            )
    if evaluation is None and rundir.is_finished(run_dir):  # without a model there is nothing to evaluate
        notes.append(NO_EVALUATION.format(run=run_dir))
    return evaluation


def _own_confusion(run_dir: Path, metrics: dict | None, kfold: dict | None) -> dict | None:
    """An evaluation-shaped record of the confusion saved by ``train`` (``metrics.json``, split
    ``val``) or ``kfold`` (``kfold_summary.json``, out-of-fold); None if there is none or it is empty."""
    if kfold is not None:
        found = (
            "out-of-fold predictions",
            rundir.KFOLD_SUMMARY,
            kfold.get("oof_accuracy"),
            kfold.get("class_names"),
            kfold.get("oof_confusion"),
        )
    elif metrics is not None and isinstance(metrics.get("val"), dict):
        found = (
            "validation split",
            rundir.METRICS,
            metrics["val"].get("accuracy"),
            metrics.get("class_names"),
            metrics["val"].get("confusion"),
        )
    else:
        return None
    data, name, accuracy, class_names, confusion = found
    if not (isinstance(class_names, list) and isinstance(confusion, list) and len(confusion) == len(class_names)):
        return None
    n = sum(map(sum, confusion))
    if not n:
        return None
    return {
        "path": str(run_dir / name),
        "data": data,
        "accuracy": accuracy,
        "n": n,
        "class_names": class_names,
        "confusion": confusion,
    }


def histories(run_dir: Path) -> list[tuple[str, list[dict]]]:
    """``[(label, history rows)]``: the run's own history, or one per fold of a k-fold run."""
    own = read_history(run_dir)
    if own:
        return [("run", own)]
    # For a search, the best trial's folds (selected_fold_dirs looks in best_trial/).
    per_fold = [(folder.name.replace("_", " "), read_history(folder)) for folder in rundir.selected_fold_dirs(run_dir)]
    return [(label, rows) for label, rows in per_fold if rows]
