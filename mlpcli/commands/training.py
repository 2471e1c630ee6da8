"""The commands that train: ``train``, ``kfold`` and ``search``, each in a locked run directory."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from ..fileio import finite_or_none
from ..units.placement import Placement


def run_train(
    config, config_name: str = "run", *, out=None, use_cache: bool = True, resume=None, placement=Placement()
) -> dict:
    """Train on the ``data.val_fraction`` split and write a run directory; returns the summary.

    With ``placement.cluster`` the images are decoded and the features extracted on the Dask
    cluster's workers (``units.mapping``); the training itself runs here.

    With ``resume`` (a run directory) the interrupted run continues from its checkpoint instead.
    The run directory is locked while this works in it (see ``artifacts.lock``).
    """
    from ..artifacts import check_new_run_dir, point_latest
    from ..artifacts.model_card import refresh_model_card
    from ..train.fit import holdout_split, prepare, recorded_config, resolve
    from ..units.mapping import shard_mapper

    with ExitStack() as held:
        written, config = config, _resumed_config(held, resume, "train") if resume else resolve(config)
        if not resume:
            check_new_run_dir(config.output.dir, config_name, out)  # before decoding, not after
        with shard_mapper(placement) as mapper:
            prepared = prepare(config, use_cache, mapper=mapper)
        train_rows, val_rows = holdout_split(config, prepared.dataset.labels, prepared.dataset.fixed_val)
        run_dir = (
            Path(resume)
            if resume
            else _new_run(held, config.output.dir, config_name, out, recorded_config(written, config))
        )
        trained = _train_and_save(config, prepared, train_rows, val_rows, run_dir)
        refresh_model_card(run_dir)
    point_latest(config.output.dir, run_dir)
    metrics = trained.metrics
    return {
        "run_dir": str(run_dir),
        "train_accuracy": metrics["train"]["accuracy"],
        "val_accuracy": finite_or_none(metrics["val"]["accuracy"]),
        "train_loss": metrics["train"]["loss"],
        "val_loss": finite_or_none(metrics["val"]["loss"]),
        "epochs": metrics["epochs"],
        "best_epoch": metrics["best_epoch"],
        "seconds": metrics["seconds"],
    }


def _train_and_save(config, prepared, train_rows, val_rows, run_dir: Path):
    """Train resumably (checkpoint, graceful stop) and save the run; a divergence is recorded."""
    from ..artifacts import rundir
    from ..artifacts.records import save_run
    from ..errors import Interrupted, TrainingDiverged
    from ..train.fit import train_model
    from ..train.stop import graceful_stop

    checkpoint = run_dir / rundir.CHECKPOINT
    with graceful_stop() as stop:
        try:
            trained = train_model(config, prepared, train_rows, val_rows, checkpoint=checkpoint, stop=stop)
        except Interrupted as exc:
            raise Interrupted(f"{exc}. Resume with: mlpcli train --resume {run_dir}") from None
        except TrainingDiverged as exc:
            _record_divergence(run_dir, exc, checkpoint)
            raise
    save_run(run_dir, trained)
    checkpoint.unlink(missing_ok=True)
    return trained


def _record_divergence(run_dir: Path, error, checkpoint: Path | None = None) -> None:
    """metrics.json says the run diverged (so ``show`` says so and ``--resume`` refuses); the
    checkpoint goes, since resuming from it would diverge again. A folder that refuses the
    record costs a warning: the divergence is the error to report."""
    from ..artifacts.records import save_diverged
    from ..errors import ArtifactError
    from ..progress import log

    try:
        save_diverged(run_dir, str(error), error.epoch)
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
    except (ArtifactError, OSError) as exc:
        log.warning("could not mark %s as diverged: %s", run_dir, exc)


def _resumed_config(held: ExitStack, run_dir, command: str):
    """The config of the run to resume, read under the run's lock (held until ``held`` closes)."""
    from ..artifacts.lock import locked_run
    from ..artifacts.rundir import resume_config_path
    from ..config import load_config

    resume_config_path(run_dir, command)  # say why a folder cannot be resumed before locking it
    held.enter_context(locked_run(run_dir))
    return load_config(resume_config_path(run_dir, command))  # again: it may have finished meanwhile


def _new_run(held: ExitStack, output_dir, name: str, out, config_yaml: str) -> Path:
    """A fresh run directory, locked (until ``held`` closes), with the resolved config in it."""
    from ..artifacts import new_run_dir
    from ..artifacts.lock import locked_run
    from ..artifacts.records import write_config

    run_dir = new_run_dir(output_dir, name, out)
    held.enter_context(locked_run(run_dir))
    write_config(run_dir, config_yaml)
    return run_dir


def run_kfold(
    config,
    *,
    config_name="kfold",
    k=None,
    select=None,
    grid=(),
    placement=Placement(),
    out=None,
    use_cache=True,
    resume=None,
) -> dict:
    """Cross-validate (each grid combination), keep the best combination's fold models with the
    ``select``-ed final model, and write the run directory; returns the summary.

    Every fold is saved when it finishes; ``resume`` continues an interrupted run, skipping
    finished folds and continuing unfinished ones from their checkpoints. The run directory is
    locked while this works in it.
    """
    from ..artifacts import check_new_run_dir, point_latest
    from ..artifacts.records import write_kfold_plan
    from ..kfold.run import fold_dirs, plan_kfold
    from ..train.fit import recorded_config
    from ..units.executor import command_cluster
    from ..units.mapping import mapper_of

    with ExitStack() as held:
        if resume:
            config, k, select, grid = _resumed_kfold(held, resume)
        else:
            check_new_run_dir(config.output.dir, config_name, out)
        with command_cluster(placement) as cluster:  # one cluster builds the data and trains the folds
            plan = plan_kfold(config, k, select, grid, use_cache, mapper_of(cluster))
            if resume:
                run_dir = Path(resume)
            else:
                run_dir = _new_run(
                    held, plan.configs[0].output.dir, config_name, out, recorded_config(config, plan.base_config)
                )
                write_kfold_plan(run_dir, plan.base_config.kfold.k, plan.base_config.kfold.select, list(grid))
            dirs = fold_dirs(run_dir, plan)
            _train_folds(plan, dirs, placement, run_dir, cluster)
        best, summary = _select_and_save(plan, dirs, run_dir)
    point_latest(plan.configs[best].output.dir, run_dir)
    return {"run_dir": str(run_dir), **summary}


def _resumed_kfold(held: ExitStack, run_dir) -> tuple:
    """(config, k, select, grid) of the k-fold run to resume, under its lock."""
    from ..artifacts.records import read_kfold_plan

    config = _resumed_config(held, run_dir, "kfold")
    options = read_kfold_plan(Path(run_dir))
    return config, options["k"], options["select"], options["grid"]


def _select_and_save(plan, dirs, run_dir: Path) -> tuple[int, dict]:
    """Score the trained folds, pick the best candidate, save the selection and the model card:
    (best candidate's index, summary)."""
    from ..artifacts.model_card import refresh_model_card
    from ..kfold.select import load_folds, log_table, save_selection
    from ..kfold.select import select as select_best

    trained = load_folds(dirs)
    best, summary, oof = select_best(plan, trained)
    log_table(summary)
    save_selection(run_dir, plan, best, trained[best], dirs[best], oof, summary)
    refresh_model_card(run_dir)
    return best, summary


def _train_folds(plan, dirs, placement, run_dir: Path, cluster=None) -> None:
    """Train every unfinished fold (on ``cluster``, the command's open Dask executor, if any); say
    how to resume after a stop, and record a divergence."""
    from ..errors import Interrupted, TrainingDiverged
    from ..kfold.run import train_folds

    try:
        train_folds(plan, dirs, placement, cluster)
    except Interrupted as exc:
        raise Interrupted(f"{exc}; finished folds are kept. Resume with: mlpcli kfold --resume {run_dir}") from None
    except TrainingDiverged as exc:
        _record_divergence(run_dir, exc)
        raise


def run_search(
    config,
    *,
    config_name="search",
    trials=None,
    k=None,
    select=None,
    placement=Placement(),
    out=None,
    use_cache=True,
    resume=None,
) -> dict:
    """Cross-validate every trial of the config's ``search:`` section (successive halving: rung by
    rung) on this process, local processes or a Dask cluster (``placement``); keep the best trial's model.

    Each unit is saved when it arrives; ``resume`` (a search directory) trains only the missing ones.
    Returns the search summary (``search_summary.json``) with ``run_dir`` and the best trial's
    k-fold summary as ``best``. The run directory is locked while this works in it.
    """
    from ..artifacts import check_new_run_dir, point_latest
    from ..artifacts.model_card import refresh_model_card
    from ..artifacts.records import write_search_plan
    from ..search.plan import plan_search
    from ..search.results import finish_search
    from ..search.run import run_units
    from ..train.fit import recorded_config
    from ..units.executor import choose_executor
    from ..units.mapping import mapper_of

    with ExitStack() as held:
        if resume:
            config, trials, k, select = _resumed_search(held, resume)
        else:
            check_new_run_dir(config.output.dir, config_name, out)
        executor = choose_executor(placement)  # a bad address fails before the features are made
        with executor:
            search_plan = plan_search(config, trials, k, select, use_cache, mapper_of(executor))
            if resume:
                run_dir = Path(resume)
            else:
                run_dir = _new_run(
                    held, search_plan.config.output.dir, config_name, out, recorded_config(config, search_plan.config)
                )
                write_search_plan(run_dir, search_plan.k, search_plan.config.kfold.select, len(search_plan.params))
            records, info = run_units(search_plan, run_dir, executor)
        summary = finish_search(search_plan, run_dir, records, info)
        refresh_model_card(run_dir)
    point_latest(search_plan.config.output.dir, run_dir)
    return {"run_dir": str(run_dir), **summary}


def _resumed_search(held: ExitStack, run_dir) -> tuple:
    """(config, trials, k, select) of the search to resume, under its lock."""
    from ..artifacts.records import read_search_plan

    config = _resumed_config(held, run_dir, "search")
    options = read_search_plan(Path(run_dir))
    # A grid runs every combination: its recorded count is not a --trials to replay.
    trials = None if getattr(config.search, "strategy", None) == "grid" else options["trials"]
    return config, trials, options["k"], options["select"]
