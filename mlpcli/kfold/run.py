"""Running k-fold cross-validation (optionally over a hyperparameter grid): plan, train every fold.

Features are extracted once per distinct data/feature setting; each fold fits its own
standardization on its training rows only. Folds run in this process or in ``jobs`` worker
processes that split the machine's BLAS threads between them; each fold draws from its own
random streams, so the results do not depend on ``jobs``.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .. import seeding
from ..artifacts import rundir
from ..artifacts.records import save_run, write_config
from ..config import dump_yaml, grid_configs
from ..data.split import holdout_rows
from ..errors import Interrupted
from ..fileio import make_dir
from ..threads import thread_limit
from ..train.fit import Prepared, prepare, resolve, train_model
from ..train.stop import StopFlag, graceful_stop
from .folds import stratified_folds

@dataclass
class Plan:
    """Everything the folds share: the configs to try, the prepared data and the row splits."""

    base_config: object  # the config with k, select and the seed resolved, before the grid
    configs: list
    combos: list[dict]
    prepared: list[Prepared]  # per config
    folds: list[np.ndarray]  # validation rows of each fold
    holdout: np.ndarray  # rows no fold trains or validates on


def plan_kfold(config, k=None, select=None, grid=(), use_cache=True) -> Plan:
    """Resolve overrides and the grid, extract features once, and split rows into folds."""
    kfold = dataclasses.replace(config.kfold, **{key: value for key, value in (("k", k), ("select", select))
                                                 if value is not None})
    config = resolve(dataclasses.replace(config, kfold=kfold))
    combos, configs = grid_configs(config, grid)
    cache: dict = {}
    prepared = []
    for candidate in configs:
        key = (candidate.data, repr(candidate.features), candidate.mode, candidate.model.dtype)
        if key not in cache:
            cache[key] = prepare(candidate, use_cache)
        prepared.append(cache[key])
    labels = prepared[0].dataset.labels
    rows, holdout = holdout_rows(labels, kfold.holdout, config.seed)
    fold_positions = stratified_folds(labels[rows], kfold.k, seeding.rng(config.seed, "folds"),
                                      prepared[0].dataset.class_names)
    return Plan(config, configs, combos, prepared, [rows[p] for p in fold_positions], holdout)


def fold_dirs(run_dir: Path, plan: Plan) -> list[list[Path]]:
    """Where each (config, fold) model is saved: ``[config][fold] -> folder``."""
    return rundir.fold_dirs(run_dir, len(plan.folds), len(plan.configs))


def train_folds(plan: Plan, dirs: list[list[Path]], jobs: int = 1) -> None:
    """Train and save every (config, fold) model into ``dirs[ci][fi]``, skipping saved ones and
    continuing from a fold's checkpoint. Ctrl-C/SIGTERM stops every fold after its minibatch."""
    k = len(plan.folds)
    pool_rows = np.sort(np.concatenate(plan.folds))
    tasks = [(ci, fi, np.setdiff1d(pool_rows, plan.folds[fi], assume_unique=True))
             for ci in range(len(plan.configs)) for fi in range(k)
             if not rundir.is_finished(dirs[ci][fi])]
    if jobs <= 1 or len(tasks) <= 1:
        with graceful_stop() as stop:
            for ci, fi, train in tasks:
                _train_fold(plan.configs[ci], plan.prepared[ci], train, plan.folds[fi], fi, k, dirs[ci][fi], stop)
    else:
        _train_in_workers(plan, tasks, jobs, dirs)


def _train_fold(config, prepared, train_rows, val_rows, fold, k, directory: Path, stop) -> None:
    checkpoint = directory / rundir.CHECKPOINT
    if not checkpoint.exists():
        make_dir(directory)
        write_config(directory, dump_yaml(config))
    trained = train_model(config, prepared, train_rows, val_rows, stream=(fold,), label=f"fold {fold + 1}/{k}",
                          checkpoint=checkpoint, stop=stop)
    save_run(directory, trained)
    checkpoint.unlink(missing_ok=True)


def _train_in_workers(plan: Plan, tasks, jobs: int, dirs) -> None:
    """Fresh worker processes with cpu_count // jobs threads each (BLAS and the element-wise
    pool, see ``worker_limits``); they read the feature matrices through memory-mapped files,
    so the data is neither copied nor pickled. A stop request reaches them through a shared
    event; they ignore SIGINT themselves."""
    import logging

    level = logging.getLogger("mlpcli").getEffectiveLevel()
    context = get_context("spawn")
    event = context.Event()
    with tempfile.TemporaryDirectory(prefix="mlpcli-kfold-") as scratch, graceful_stop(event):
        shared = {}
        for prepared in plan.prepared:
            if id(prepared) not in shared:
                shared[id(prepared)] = _share(prepared, Path(scratch) / f"X{len(shared)}.npy")
        with worker_limits(jobs):
            pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(level, event))
            futures = [pool.submit(_worker, plan.configs[ci], *shared[id(plan.prepared[ci])], train,
                                   plan.folds[fi], fi, len(plan.folds), dirs[ci][fi]) for ci, fi, train in tasks]
        with pool:
            errors = [future.exception() for future in futures]
    interrupted = [e for e in errors if isinstance(e, Interrupted)]
    for error in errors:
        if error is not None and not isinstance(error, Interrupted):
            raise error
    if interrupted:
        raise Interrupted(f"stopped {len(interrupted)} unfinished fold(s); checkpoints saved")


def worker_limits(jobs: int):
    """A context in which spawned workers start with ``cpu_count // jobs`` threads for BLAS and
    for ``nn.parallel`` (which reads the same limit), so ``jobs`` workers use the cores once."""
    # Spawned workers read the thread limits when they import NumPy, i.e. at start-up.
    return thread_limit(max(1, (os.cpu_count() or 1) // jobs))


_STOP = None


def _init_worker(level, event) -> None:
    import logging
    import signal

    global _STOP
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; see graceful_stop
    logging.basicConfig(format="%(message)s", level=level)
    _STOP = StopFlag(event)


def _share(prepared: Prepared, path: Path):
    """Write X for the workers; send them the rest without the decoded images."""
    np.save(path, prepared.X)
    dataset = dataclasses.replace(prepared.dataset, images=prepared.dataset.images[:0])
    return str(path), dataclasses.replace(prepared, X=None, dataset=dataset)


def _worker(config, x_path, prepared, train_rows, val_rows, fold, k, directory) -> None:
    if _STOP.is_set():
        raise Interrupted(f"fold {fold + 1}/{k} not started")
    prepared = dataclasses.replace(prepared, X=np.load(x_path, mmap_mode="r"))
    _train_fold(config, prepared, train_rows, val_rows, fold, k, directory, _STOP)
