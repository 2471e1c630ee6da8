"""Running k-fold cross-validation (optionally over a hyperparameter grid): plan, train every fold.

Features are extracted once per distinct data/feature setting; each fold fits its own
standardization on its training rows only. Every fold is a unit of work (``units.training``),
run in this process with a checkpoint (``units.inline``, as a search's units) or on worker
processes or a Dask cluster (``units.executor``); each fold draws from its own random streams and
runs with the same BLAS threads, so the results do not depend on where it ran.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import seeding
from ..artifacts import rundir
from ..artifacts.records import save_run, write_config
from ..config import Config, dump_yaml, grid_configs
from ..data.split import holdout_rows
from ..errors import Interrupted, TrainingDiverged
from ..train.fit import Prepared, prepare, resolve
from ..train.tta import mirrored_matrix
from ..units.executor import Executor, open_executor, unit_result
from ..units.inline import InlineExecutor
from ..units.placement import Placement
from ..units.training import UnitData, rebuild, share_data, train_unit
from .folds import stratified_folds


@dataclass
class Plan:
    """Everything the folds share: the configs to try, the prepared data and the row splits."""

    base_config: Config  # the config with k, select and the seed resolved, before the grid
    configs: list
    combos: list[dict]
    prepared: list[Prepared]  # per config
    folds: list[np.ndarray]  # validation rows of each fold
    holdout: np.ndarray  # rows no fold trains or validates on


def plan_kfold(config, k=None, select=None, grid=(), use_cache=True, mapper=None) -> Plan:
    """Resolve overrides and the grid, extract features once (on a cluster's workers with
    ``mapper``, see ``train.fit.prepare``), and split rows into folds."""
    config = kfold_config(config, k, select)
    combos, configs = grid_configs(config, grid)
    return plan_configs(config, combos, configs, use_cache, mapper)


def kfold_config(config, k=None, select=None):
    """``config`` with ``--k``/``--select`` applied and resolved (seed drawn, data.path absolute)."""
    kfold = dataclasses.replace(
        config.kfold, **{key: value for key, value in (("k", k), ("select", select)) if value is not None}
    )
    return resolve(dataclasses.replace(config, kfold=kfold))


def plan_configs(config, combos: list[dict], configs: list, use_cache=True, mapper=None) -> Plan:
    """The plan for cross-validating ``configs`` (``combos`` their overrides of ``config``): features
    extracted once per distinct data and feature setting, rows split into ``config``'s folds."""
    kfold = config.kfold
    cache: dict = {}
    prepared = []
    for candidate in configs:
        # All prepare() reads of a candidate: its seed draws synthetic images and a fitted
        # feature's random stream (bow's k-means), and the augmented copies of fixed features.
        # The fitting rows are the plan's (outside config's kfold.holdout), the same for every candidate.
        key = (
            candidate.data,
            repr(candidate.features),
            candidate.mode,
            candidate.model.dtype,
            candidate.seed,
            candidate.train.augment,
        )
        if key not in cache:
            cache[key] = prepare(candidate, use_cache, split="kfold", split_config=config, mapper=mapper)
        prepared.append(_with_mirror(cache[key], candidate, use_cache, mapper))
    labels = prepared[0].dataset.labels
    rows, holdout = holdout_rows(labels, kfold.holdout, config.seed)
    fold_positions = stratified_folds(
        labels[rows], kfold.k, seeding.rng(config.seed, "folds"), prepared[0].dataset.class_names
    )
    return Plan(config, configs, combos, prepared, [rows[p] for p in fold_positions], holdout)


def _with_mirror(prepared: Prepared, candidate, use_cache: bool, mapper) -> Prepared:
    """``prepared``, with the mirrored images' features (``train.tta.mirrored_matrix``) when
    ``candidate`` validates with flips: every fold, here or on a worker, scores its validation
    rows as ``train`` does (``train.tta.mirrored_features``)."""
    if candidate.train.tta == "flip" and prepared.mirrored is None:
        cache_dir = candidate.data.cache_dir if use_cache else None
        prepared.mirrored = mirrored_matrix(prepared, candidate.model.dtype, cache_dir, mapper)
    return prepared


def fold_dirs(run_dir: Path, plan: Plan) -> list[list[Path]]:
    """Where each (config, fold) model is saved: ``[config][fold] -> folder``."""
    return rundir.fold_dirs(run_dir, len(plan.folds), len(plan.configs))


def train_folds(plan: Plan, dirs: list[list[Path]], placement: Placement = Placement(), cluster=None) -> None:
    """Train and save every (config, fold) model into ``dirs[ci][fi]``, skipping saved ones.

    Every fold is a ``train_unit``, saved by this process as it arrives. Here (one job, no
    cluster, or a single fold left): one after another with a checkpoint in its folder, and
    Ctrl-C/SIGTERM stops after the minibatch with the checkpoint saved (``units.inline``). On
    ``placement``'s local processes or Dask cluster, Ctrl-C cancels the unfinished folds.
    ``cluster``: the Dask executor the command already opened for ``placement.cluster`` (it
    built the data there too), used and left open; without it a cluster is opened here.
    """
    k = len(plan.folds)
    pool_rows = np.sort(np.concatenate(plan.folds))
    tasks = [
        (ci, fi, np.setdiff1d(pool_rows, plan.folds[fi], assume_unique=True))
        for ci in range(len(plan.configs))
        for fi in range(k)
        if not rundir.is_finished(dirs[ci][fi])
    ]
    if not tasks:
        return
    if cluster is not None:
        _train_on_executor(plan, tasks, dirs, cluster)
        return
    executor: Executor
    if placement.here or (placement.cluster is None and len(tasks) <= 1):
        executor = InlineExecutor()
    else:
        jobs = None if placement.cluster else placement.jobs
        executor = open_executor(jobs, placement.cluster, placement.timeout)
    with executor:
        _train_on_executor(plan, tasks, dirs, executor)


def _train_on_executor(plan: Plan, tasks, dirs, executor) -> None:
    """Each fold a ``train_unit`` (the data shared with each worker once); the client saves each
    fold when it arrives, so an interrupted run keeps every finished fold. The caller closes
    ``executor`` (cancelling the unfinished folds if this raised)."""
    k = len(plan.folds)
    with executor.interrupts():
        shared = {}
        for prepared in plan.prepared:
            if id(prepared) not in shared:
                shared[id(prepared)] = share_data(executor, prepared)
        futures = {}
        for ci, fi, train in tasks:
            X, labels, data, mirrored = shared[id(plan.prepared[ci])]
            label = f"fold {fi + 1}/{k}"
            checkpoint = dirs[ci][fi] / rundir.CHECKPOINT
            args = (plan.configs[ci], X, labels, data, train, plan.folds[fi], (fi,), label, False, mirrored)
            futures[executor.submit(train_unit, *args, checkpoint=checkpoint)] = (ci, fi)
        done = 0
        try:
            for future in executor.as_completed(list(futures)):
                ci, fi = futures[future]
                _save_unit(plan.configs[ci], shared[id(plan.prepared[ci])][2], unit_result(future).value, dirs[ci][fi])
                done += 1
        except KeyboardInterrupt:
            raise Interrupted(f"stopped {len(tasks) - done} unfinished fold(s) on {executor.name}") from None


def _save_unit(config, data: UnitData, output, directory: Path) -> None:
    if output.diverged:
        raise TrainingDiverged(output.diverged, output.diverged_epoch)
    directory.mkdir(parents=True, exist_ok=True)
    write_config(directory, dump_yaml(config))
    save_run(directory, rebuild(config, data, output))
    (directory / rundir.CHECKPOINT).unlink(missing_ok=True)  # the fold is saved: nothing to resume
