"""After the units: rank the trials, write the tables, keep the best trial's model.

Trials are ranked by the largest budget they reached (halving's survivors first), then by mean
fold accuracy (a diverged trial last), then by trial number, so the ranking never depends on the
order units finished in. The best trial is saved as a k-fold run in ``best_trial/`` (its final
folds, ``kfold.select``'s summary and selected model) and its model is the search's model.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from ..artifacts import load_model, rundir, save_model
from ..artifacts.records import read_metrics, write_config
from ..config import dump_yaml
from ..config.search import to_dict as search_section
from ..errors import TrainingDiverged
from ..fileio import finite_or_none
from ..kfold.run import Plan
from ..kfold.select import evaluate_folds, save_selection, select
from ..predictor import FoldEnsemble
from ..units.runtime import unit_threads
from .plan import SearchPlan, Unit


def final_units(search_plan: SearchPlan, records: dict, trial: int) -> list[Unit]:
    """``trial``'s units at the largest budget it reached, in fold order (some may be missing)."""
    budgets = [unit.epochs for unit in records if unit.trial == trial]
    epochs = max(budgets) if budgets else None
    return [Unit(trial, fold, epochs) for fold in range(search_plan.k)] if epochs is not None else []


def evaluate_trials(search_plan: SearchPlan, run_dir: Path, records: dict) -> dict[int, dict]:
    """Per complete trial (every final fold trained, none diverged): ``kfold.select``'s fold summary
    (mean, std, OOF accuracy ...) from the saved unit models, and their out-of-fold probabilities."""
    results = {}
    with unit_threads():  # the OOF predictions are the same bytes wherever the search ran
        for trial in range(len(search_plan.params)):
            units = final_units(search_plan, records, trial)
            if not units or any(u not in records or records[u].diverged for u in units):
                continue
            folds = [(load_model(_dir(run_dir, u)), read_metrics(_dir(run_dir, u))) for u in units]
            evaluated = evaluate_folds(search_plan.kfold.prepared[trial], search_plan.kfold.folds, folds)
            results[trial] = {"summary": evaluated["summary"], "units": units}
    return results


def _dir(run_dir: Path, unit: Unit) -> Path:
    return rundir.unit_dir(run_dir, unit.trial, unit.fold, unit.epochs)


def trial_rows(search_plan: SearchPlan, records: dict, evaluated: dict | None = None) -> list[dict]:
    """One row per trial that has a finished unit, ranked (see the module docstring)."""
    rows = []
    for trial, params in enumerate(search_plan.params):
        units = final_units(search_plan, records, trial)
        if not units:
            continue
        done = [records[u] for u in units if u in records]
        accuracies = [r.accuracy for r in done]
        trial_records = [r for unit, r in records.items() if unit.trial == trial]
        summary = (evaluated or {}).get(trial, {}).get("summary", {})
        rows.append(
            {
                "trial": trial + 1,
                "params": params,
                "epochs": units[0].epochs,
                "folds_done": len(done),
                "mean_accuracy": finite_or_none(np.mean(accuracies)),
                "std_accuracy": finite_or_none(np.std(accuracies)),
                "oof_accuracy": summary.get("oof_accuracy"),
                "fold_accuracies": [finite_or_none(a) for a in accuracies],
                "seconds": sum(r.seconds for r in trial_records),
                "workers": sorted({r.worker for r in trial_records}),
                "diverged": next((r.diverged for r in trial_records if r.diverged), None),
            }
        )
    rows.sort(
        key=lambda r: (-r["epochs"], -(r["mean_accuracy"] if r["mean_accuracy"] is not None else -math.inf), r["trial"])
    )
    return [{"rank": rank, **row} for rank, row in enumerate(rows, start=1)]


def save_best_trial(search_plan: SearchPlan, run_dir: Path, trial: int, evaluated: dict) -> tuple:
    """The best trial as a k-fold run in ``best_trial/`` (copies of its final units as its folds,
    ``kfold.select``'s summary and model) and ``best_config.yaml``.

    Returns (summary, config, fold models, fold folders) for ``save_search_model``.
    """
    if trial not in evaluated:
        raise TrainingDiverged(
            "every trial diverged (or none finished); lower the learning rates in search.space or train.lr"
        )
    units = evaluated[trial]["units"]
    config = search_plan.unit_config(units[0])
    best_dir = run_dir / rundir.BEST_TRIAL
    dirs = rundir.fold_dirs(best_dir, search_plan.k)[0]
    for unit, folder in zip(units, dirs):
        shutil.copytree(_dir(run_dir, unit), folder, dirs_exist_ok=True)
    kfold = search_plan.kfold
    plan = Plan(config, [config], [search_plan.params[trial]], [kfold.prepared[trial]], kfold.folds, kfold.holdout)
    folds = [(load_model(d), read_metrics(d)) for d in dirs]
    with unit_threads():
        _, summary, oof = select(plan, [folds])
    write_config(best_dir, dump_yaml(config))
    save_selection(best_dir, plan, 0, folds, dirs, oof, summary)
    write_config(run_dir, dump_yaml(config), best=True)
    return summary, config, folds, dirs


def save_search_model(run_dir: Path, config, folds: list, dirs: list[Path], summary: dict) -> None:
    """The search's model, written last (it marks the search finished): the best trial's fold
    ensemble (members in ``best_trial/folds/``) or its best fold, as ``kfold.select`` says."""
    if config.kfold.select == "ensemble":
        save_model(run_dir, FoldEnsemble([p for p, _ in folds]), [str(d.relative_to(run_dir)) for d in dirs])
    else:
        save_model(run_dir, folds[summary["best_fold"] - 1][0])


def search_summary(search_plan: SearchPlan, records: dict, evaluated: dict | None = None, **run_info) -> dict:
    """What ``search_summary.json`` holds: the plan, every trial ranked, every unit; ``finished``
    once ``evaluated`` (with OOF accuracies) is given."""
    units = sorted(records.values(), key=lambda r: (r.unit.epochs, r.unit.trial, r.unit.fold))
    spec = search_plan.spec
    return {
        "strategy": spec.strategy,
        "k": search_plan.k,
        "select": search_plan.config.kfold.select,
        "n_trials": len(search_plan.params),
        "space": search_section(spec)["space"],
        "rungs": [{"rung": r.index, "n_trials": r.n_trials, "epochs": r.epochs} for r in search_plan.rungs]
        if spec.strategy == "halving"
        else None,
        "finished": evaluated is not None,
        **run_info,
        "units_total": total_units(search_plan),
        "units_done": len(records),
        "units_trained": sum(r.trained for r in units),
        "units_reused": sum(not r.trained for r in units),
        "trials": trial_rows(search_plan, records, evaluated),
        "units": [r.info() for r in units],
    }


def finish_search(search_plan: SearchPlan, run_dir: Path, records: dict, info: dict) -> dict:
    """Rank the trials, save the best one as a k-fold run with its model at the top (written
    last), write the final tables; returns the search summary with the best trial's as ``best``."""
    from ..artifacts.records import write_search_results

    evaluated = evaluate_trials(search_plan, run_dir, records)
    summary = search_summary(search_plan, records, evaluated, **info)
    best, config, folds, dirs = save_best_trial(search_plan, run_dir, summary["trials"][0]["trial"] - 1, evaluated)
    summary["best"] = best
    write_search_results(run_dir, summary)
    save_search_model(run_dir, config, folds, dirs, best)
    return summary


def total_units(search_plan: SearchPlan) -> int:
    return sum(rung.n_trials for rung in search_plan.rungs) * search_plan.k
