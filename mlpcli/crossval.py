"""Running k-fold cross-validation (optionally over a hyperparameter grid) and saving its run.

Features are extracted once per distinct data/feature setting; each fold fits its own
standardization on its training rows only. Folds run in this process or in ``jobs`` worker
processes that split the machine's BLAS threads between them; each fold draws from its own
random streams, so the results do not depend on ``jobs``.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from . import seeding
from .data.split import stratified_split
from .errors import ConfigError
from .experiment import Prepared, prepare, resolve_seed, train_model
from .kfold import grid_combinations, parse_grid, stratified_folds, summarize
from .predictor import FoldEnsemble
from .progress import log

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class Plan:
    """Everything the folds share: the configs to try, the prepared data and the row splits."""

    configs: list
    combos: list[dict]
    prepared: list[Prepared]  # per config
    folds: list[np.ndarray]  # validation rows of each fold
    holdout: np.ndarray  # rows no fold trains or validates on


def plan_kfold(config, k=None, select=None, grid=(), use_cache=True) -> Plan:
    """Resolve overrides and the grid, extract features once, and split rows into folds."""
    from .config import with_overrides

    kfold = dataclasses.replace(config.kfold, **{key: value for key, value in (("k", k), ("select", select))
                                                 if value is not None})
    config = resolve_seed(dataclasses.replace(config, kfold=kfold))
    combos = grid_combinations(parse_grid(list(grid)))
    try:
        configs = [with_overrides(config, combo) for combo in combos]
    except ConfigError as exc:
        raise ConfigError(f"--grid: {exc}") from None
    cache: dict = {}
    prepared = []
    for candidate in configs:
        key = (candidate.data, repr(candidate.features), candidate.mode, candidate.model.dtype)
        if key not in cache:
            cache[key] = prepare(candidate, use_cache)
        prepared.append(cache[key])
    labels = prepared[0].dataset.labels
    rows, holdout = np.arange(len(labels)), np.empty(0, dtype=np.int64)
    if kfold.holdout > 0:
        rows, holdout = stratified_split(labels, kfold.holdout, seeding.rng(config.seed, "split"))
    fold_positions = stratified_folds(labels[rows], kfold.k, seeding.rng(config.seed, "folds"),
                                      prepared[0].dataset.class_names)
    return Plan(configs, combos, prepared, [rows[p] for p in fold_positions], holdout)


def train_folds(plan: Plan, jobs: int = 1) -> list[list]:
    """Train every (config, fold) pair -> ``trained[config index][fold index]``."""
    k = len(plan.folds)
    pool_rows = np.sort(np.concatenate(plan.folds))
    tasks = [(ci, fi, np.setdiff1d(pool_rows, plan.folds[fi], assume_unique=True))
             for ci in range(len(plan.configs)) for fi in range(k)]
    if jobs <= 1 or len(tasks) == 1:
        results = [_train_fold(plan.configs[ci], plan.prepared[ci], train, plan.folds[fi], fi, k)
                   for ci, fi, train in tasks]
    else:
        results = _train_in_workers(plan, tasks, jobs)
    return [results[ci * k:(ci + 1) * k] for ci in range(len(plan.configs))]


def _train_fold(config, prepared, train_rows, val_rows, fold, k):
    label = f"fold {fold + 1}/{k}"
    return train_model(config, prepared, train_rows, val_rows, stream=(fold,), label=label)


def _train_in_workers(plan: Plan, tasks, jobs: int) -> list:
    """Fresh worker processes with cpu_count // jobs BLAS threads each; they read the feature
    matrices through memory-mapped files, so the data is neither copied nor pickled."""
    import logging

    level = logging.getLogger("mlpcli").getEffectiveLevel()
    with tempfile.TemporaryDirectory(prefix="mlpcli-kfold-") as scratch:
        shared = {}
        for prepared in plan.prepared:
            if id(prepared) not in shared:
                shared[id(prepared)] = _share(prepared, Path(scratch) / f"X{len(shared)}.npy")
        # Spawned workers read the thread limits when they import NumPy, i.e. at start-up.
        with _environment({name: str(max(1, (os.cpu_count() or 1) // jobs)) for name in THREAD_VARIABLES}):
            pool = ProcessPoolExecutor(jobs, mp_context=get_context("spawn"))
            futures = [pool.submit(_worker, level, plan.configs[ci], *shared[id(plan.prepared[ci])], train,
                                   plan.folds[fi], fi, len(plan.folds)) for ci, fi, train in tasks]
        with pool:
            return [future.result() for future in futures]


def _share(prepared: Prepared, path: Path):
    """Write X for the workers; send them the rest without the decoded images."""
    np.save(path, prepared.X)
    dataset = dataclasses.replace(prepared.dataset, images=prepared.dataset.images[:0])
    return str(path), dataclasses.replace(prepared, X=None, dataset=dataset)


@contextmanager
def _environment(values: dict):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _worker(level, config, x_path, prepared, train_rows, val_rows, fold, k):
    import logging

    logging.basicConfig(format="%(message)s", level=level)
    prepared = dataclasses.replace(prepared, X=np.load(x_path, mmap_mode="r"))
    return _train_fold(config, prepared, train_rows, val_rows, fold, k)


def evaluate_folds(plan: Plan, trained: list[list]) -> list[dict]:
    """Per config: the fold summary, out-of-fold probabilities and OOF accuracy."""
    results = []
    for prepared, fold_models in zip(plan.prepared, trained):
        X, y = prepared.X, prepared.dataset.labels
        oof = np.zeros((len(y), len(prepared.dataset.class_names)), dtype=np.float64)
        for rows, model in zip(plan.folds, fold_models):
            oof[rows] = model.predictor.predict_proba_features(X[rows])
        rows = np.sort(np.concatenate(plan.folds))
        summary = summarize([m.metrics["val"]["accuracy"] for m in fold_models],
                            [m.metrics["val"]["loss"] for m in fold_models])
        summary["oof_accuracy"] = float(np.mean(oof[rows].argmax(axis=1) == y[rows]))
        results.append({"summary": summary, "oof": oof})
    return results


def holdout_scores(plan: Plan, prepared: Prepared, fold_models: list, best_fold: int) -> dict | None:
    """Accuracy on the held-out rows (which no fold saw) of the ensemble and of the best fold."""
    if plan.holdout.size == 0:
        return None
    X, y = prepared.X[plan.holdout], prepared.dataset.labels[plan.holdout]
    ensemble = FoldEnsemble([m.predictor for m in fold_models]).predict_proba_features(X)
    single = fold_models[best_fold - 1].predictor.predict_proba_features(X)
    return {"n": int(len(y)), "ensemble_accuracy": float(np.mean(ensemble.argmax(axis=1) == y)),
            "best_fold_accuracy": float(np.mean(single.argmax(axis=1) == y))}


def log_table(summary: dict) -> None:
    for fold, (acc, loss) in enumerate(zip(summary["fold_accuracies"], summary["fold_losses"]), start=1):
        log.info("fold %d: val_acc %.4f  val_loss %.4f", fold, acc, loss)
