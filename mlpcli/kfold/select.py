"""After the folds: score them, pick the best grid combination, and keep the final model.

The final model is the best fold, or all folds as an ensemble that averages their probabilities
(each fold saw a different part of the data, so their overfitting to noise partly cancels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import __version__
from ..artifacts import load_model, save_model
from ..artifacts.records import read_metrics, save_kfold_results, write_config
from ..config import dump_yaml
from ..metrics import accuracy, confusion_matrix
from ..predictor import FoldEnsemble
from ..progress import log
from ..train.tta import mirrored_features
from ..units.runtime import unit_threads
from .folds import summarize


def load_folds(dirs: list[list[Path]]) -> list[list]:
    """The saved fold models and their metrics: ``[config][fold] -> (predictor, metrics)``."""
    return [[(load_model(d), read_metrics(d)) for d in row] for row in dirs]


def evaluate_folds(prepared, folds: list[np.ndarray], fold_models: list) -> dict:
    """One config's folds: ``summary`` (mean, std and OOF accuracy, the OOF confusion) and ``oof``,
    the out-of-fold probabilities (n_samples, n_classes) float64 (zero on rows no fold validated).

    ``prepared`` holds X and the labels; ``folds`` each fold's validation rows; ``fold_models``
    each fold's (predictor, metrics). A fold trained with ``train.tta: flip`` scores its rows
    with flips, as its own validation did."""
    X, y = prepared.X, prepared.dataset.labels
    oof = np.zeros((len(y), len(prepared.dataset.class_names)), dtype=np.float64)
    with unit_threads():  # the units' BLAS calls: the same bytes whatever --threads
        for rows, (predictor, _) in zip(folds, fold_models):
            oof[rows] = _proba(predictor, X, rows, _mirrored(prepared, rows, predictor))
    rows = np.sort(np.concatenate(folds))
    summary = summarize(
        [metrics["val"]["accuracy"] for _, metrics in fold_models],
        [metrics["val"]["loss"] for _, metrics in fold_models],
    )
    summary["oof_accuracy"] = accuracy(y[rows], oof[rows].argmax(axis=1))
    # Every validated row once, by the fold that did not train on it: the run's confusion.
    summary["class_names"] = list(prepared.dataset.class_names)
    summary["oof_confusion"] = confusion_matrix(y[rows], oof[rows].argmax(axis=1), oof.shape[1]).tolist()
    return {"summary": summary, "oof": oof}


def holdout_scores(plan, prepared, fold_models: list, best_fold: int) -> dict | None:
    """Accuracy on the held-out rows (which no fold saw) of the ensemble and of the best fold,
    with test-time flips when the folds were trained with ``train.tta: flip``."""
    if plan.holdout.size == 0:
        return None
    X, rows, y = prepared.X, plan.holdout, prepared.dataset.labels[plan.holdout]
    mirrored = _mirrored(prepared, rows, fold_models[0][0])
    with unit_threads():
        ensemble = _proba(FoldEnsemble([predictor for predictor, _ in fold_models]), X, rows, mirrored)
        single = _proba(fold_models[best_fold - 1][0], X, rows, mirrored)
    return {
        "n": int(len(y)),
        "ensemble_accuracy": accuracy(y, ensemble.argmax(axis=1)),
        "best_fold_accuracy": accuracy(y, single.argmax(axis=1)),
    }


def _mirrored(prepared, rows: np.ndarray, model) -> np.ndarray | None:
    """The mirrored images' features of ``rows`` when ``model`` predicts with flips, else None."""
    return mirrored_features(prepared, rows, prepared.X.dtype) if model.tta == "flip" else None


def _proba(model, X, rows, mirrored) -> np.ndarray:
    """Probabilities (len(rows), n_classes) of ``X[rows]``, averaged with the mirrored rows' if given."""
    probabilities = model.predict_proba_features(X, rows)
    return probabilities if mirrored is None else (probabilities + model.predict_proba_features(mirrored)) / 2


def select(plan, trained: list[list]) -> tuple[int, dict, np.ndarray]:
    """(best combination's index, the run's summary, its OOF probabilities): combinations are
    ranked by mean fold accuracy; a grid's table lists each with its mean, std and OOF accuracy."""
    results = [evaluate_folds(prepared, plan.folds, models) for prepared, models in zip(plan.prepared, trained)]
    best = max(range(len(results)), key=lambda i: results[i]["summary"]["mean_accuracy"])
    config = plan.configs[best]
    summary = {
        "k": config.kfold.k,
        "select": config.kfold.select,
        **results[best]["summary"],
        "mlpcli_version": __version__,
        "data_fingerprint": plan.prepared[best].dataset.fingerprint,
    }
    summary["holdout"] = holdout_scores(plan, plan.prepared[best], trained[best], summary["best_fold"])
    if len(plan.combos) > 1:
        summary["best_params"] = plan.combos[best]
        summary["best_combo"] = best + 1
        keys = ("mean_accuracy", "std_accuracy", "oof_accuracy", "fold_accuracies")
        rows = [{"params": combo, **{key: r["summary"][key] for key in keys}} for combo, r in zip(plan.combos, results)]
        summary["grid"] = sorted(rows, key=lambda row: -row["mean_accuracy"])
    return best, summary, results[best]["oof"]


def save_selection(run_dir: Path, plan, best: int, folds: list, dirs: list[Path], oof, summary) -> None:
    """The splits, OOF predictions, summary and (for a grid) the chosen config, then the selected
    model at the top (written last): an ensemble bundle pointing at the fold folders, or a copy of
    the best fold's model."""
    save_kfold_results(run_dir, plan.folds, plan.holdout, plan.prepared[best].dataset.labels, oof, summary)
    if len(plan.configs) > 1:
        write_config(run_dir, dump_yaml(plan.configs[best]), best=True)
    if plan.configs[best].kfold.select == "ensemble":
        members = [str(d.relative_to(run_dir)) for d in dirs]
        save_model(run_dir, FoldEnsemble([predictor for predictor, _ in folds]), members)
    else:
        save_model(run_dir, folds[summary["best_fold"] - 1][0])


def log_table(summary: dict) -> None:
    for fold, (acc, loss) in enumerate(zip(summary["fold_accuracies"], summary["fold_losses"]), start=1):
        log.info("fold %d: val_acc %.4f  val_loss %.4f", fold, acc, loss)
