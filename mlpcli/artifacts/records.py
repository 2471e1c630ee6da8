"""A run's records besides the model: config, metrics, per-epoch history, k-fold and search results.

Writers are atomic (``fileio``); readers return plain data and raise ``ArtifactError`` naming the
file when it is damaged.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from ..errors import ArtifactError
from ..fileio import atomic_save_npz, write_json, write_text
from . import rundir
from .bundle import save_model

#: The columns of ``history.csv``, one row per epoch.
HISTORY_COLUMNS = ("epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


def write_config(run_dir: Path, config_yaml: str, best: bool = False) -> None:
    """The run's resolved config, written once when the run (or fold) starts; ``best``: the
    config a search or grid chose, ready for ``mlpcli train --config``."""
    write_text(run_dir / (rundir.BEST_CONFIG if best else rundir.CONFIG), config_yaml)


def save_run(run_dir: Path, trained, extra_metrics: dict | None = None) -> None:
    """Write a finished training run: metrics, per-epoch history, then the model bundle (last,
    so a run with a model is a complete run)."""
    rows = [[_csv_number(row[c]) for c in HISTORY_COLUMNS] for row in trained.history.epochs]
    _write_csv(run_dir / rundir.HISTORY, HISTORY_COLUMNS, rows)
    write_json(run_dir / rundir.METRICS, {"status": rundir.FINISHED, **trained.metrics, **(extra_metrics or {})})
    save_model(run_dir, trained.predictor)


def save_diverged(run_dir: Path, message: str, epoch: int | None, extra_metrics: dict | None = None) -> None:
    """Mark a run (or a search unit) whose training diverged: no model, and ``metrics.json`` says
    so with the epoch and the message; ``show`` reports it, ``--resume`` refuses it instead of
    diverging again, and a search ranks it last."""
    write_json(
        run_dir / rundir.METRICS,
        {"status": rundir.DIVERGED, "epoch": epoch, "message": message, **(extra_metrics or {})},
    )


def _csv_number(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def _write_csv(path: Path, header, rows) -> None:
    """A header and rows of strings, quoted by the csv module (a cell holding a comma or a quote,
    such as a searched ``features`` list, stays one cell for any CSV reader)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def read_metrics(directory: Path) -> dict | None:
    return rundir.read_json(directory / rundir.METRICS)


def read_history(directory: Path) -> list[dict]:
    """``history.csv`` -> one dict per epoch (``epoch`` int, other columns float); [] if missing."""
    path = directory / rundir.HISTORY
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return [
                {key: int(value) if key == "epoch" else float(value) for key, value in row.items()}
                for row in csv.DictReader(handle)
            ]
    except (OSError, ValueError, TypeError) as exc:
        raise ArtifactError(f"{path}: unreadable history ({exc})") from None


def write_kfold_plan(run_dir: Path, k: int, select: str, grid: list[str]) -> None:
    write_json(run_dir / rundir.KFOLD_PLAN, {"k": k, "select": select, "grid": list(grid)})


def read_kfold_plan(run_dir: Path) -> dict:
    plan = rundir.read_json(run_dir / rundir.KFOLD_PLAN)
    if not isinstance(plan, dict) or not {"k", "select", "grid"} <= set(plan):
        raise ArtifactError(f"{run_dir / rundir.KFOLD_PLAN}: not a k-fold plan (needs k, select and grid)")
    return plan


def read_kfold_summary(run_dir: Path) -> dict | None:
    return rundir.read_json(run_dir / rundir.KFOLD_SUMMARY)


def save_kfold_results(
    run_dir: Path, folds: list[np.ndarray], holdout: np.ndarray, labels: np.ndarray, oof: np.ndarray, summary: dict
) -> None:
    """The fold split, the out-of-fold probabilities (n_samples, n_classes) of the rows some fold
    validated, and the summary."""
    write_json(
        run_dir / rundir.SPLIT_INDICES,
        {"k": len(folds), "folds": [f.tolist() for f in folds], "holdout": holdout.tolist()},
    )
    fold_of = np.zeros(len(labels), dtype=np.int64)
    for number, rows in enumerate(folds, start=1):
        fold_of[rows] = number
    rows = np.flatnonzero(fold_of)
    atomic_save_npz(
        run_dir / rundir.OOF_PREDICTIONS,
        {"rows": rows, "fold": fold_of[rows], "labels": labels[rows], "probabilities": oof[rows]},
    )
    write_json(run_dir / rundir.KFOLD_SUMMARY, summary)


def write_search_plan(run_dir: Path, k: int, select: str, trials: int) -> None:
    """What a resumed search needs besides config.yaml: the --k, --select and --trials it ran with."""
    write_json(run_dir / rundir.SEARCH_PLAN, {"k": k, "select": select, "trials": trials})


def read_search_plan(run_dir: Path) -> dict:
    plan = rundir.read_json(run_dir / rundir.SEARCH_PLAN)
    if not isinstance(plan, dict) or not {"k", "select", "trials"} <= set(plan):
        raise ArtifactError(f"{run_dir / rundir.SEARCH_PLAN}: not a search plan (needs k, select and trials)")
    return plan


#: The columns of ``trials.csv`` before the searched keys (one column each), best trial first.
TRIAL_COLUMNS = ("rank", "trial", "epochs", "folds_done", "mean_accuracy", "std_accuracy", "oof_accuracy", "seconds")


def write_search_results(run_dir: Path, summary: dict) -> None:
    """``trials.csv`` (one row per trial as ranked; searched lists and mappings as JSON, quoted by
    the csv module) and ``search_summary.json`` (everything), from a search summary with
    ``trials`` and ``space``."""
    keys = list(summary["space"])
    rows = [
        [_cell(row[column]) for column in TRIAL_COLUMNS] + [_cell(row["params"][key]) for key in keys]
        for row in summary["trials"]
    ]
    _write_csv(run_dir / rundir.TRIALS, (*TRIAL_COLUMNS, *keys), rows)
    write_json(run_dir / rundir.SEARCH_SUMMARY, summary)


def _cell(value) -> str:
    """A trials.csv cell before quoting: lists and mappings as JSON, floats to 6 digits."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def read_search_summary(run_dir: Path) -> dict | None:
    return rundir.read_json(run_dir / rundir.SEARCH_SUMMARY)
