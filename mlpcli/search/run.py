"""Running a search's units on an executor: rung by rung, each unit saved by the client as it
arrives (``units/t<trial>_f<fold>_e<epochs>/``, a train-like run), so an interrupted search keeps
every finished unit and ``--resume`` trains only the missing ones.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..artifacts import rundir
from ..artifacts.records import read_metrics, save_diverged, save_run, write_config
from ..config import dump_yaml
from ..errors import Interrupted
from ..fileio import finite_or_none
from ..units.executor import unit_result
from ..units.training import UnitData, rebuild, share_data, train_unit
from .halving import survivors
from .plan import SearchPlan, Unit


@dataclass
class UnitRecord:
    """A finished unit: its validation scores (NaN if it diverged), where and how long it ran
    (the worker's clock for ``started``/``finished``, the client's for ``received``), and whether
    this invocation trained it (False: found on disk)."""

    unit: Unit
    accuracy: float
    loss: float
    seconds: float
    worker: str
    started: float
    finished: float
    received: float
    trained: bool
    diverged: str | None = None

    def info(self) -> dict:
        return {
            "trial": self.unit.trial + 1,
            "fold": self.unit.fold + 1,
            "epochs": self.unit.epochs,
            "accuracy": finite_or_none(self.accuracy),
            "loss": finite_or_none(self.loss),
            "seconds": self.seconds,
            "worker": self.worker,
            "started": self.started,
            "finished": self.finished,
            "received": self.received,
            "diverged": self.diverged,
        }


class SharedData:
    """Each distinct feature matrix (and its labels) shared with the workers once, when first needed."""

    def __init__(self, executor, search_plan: SearchPlan) -> None:
        self.executor, self.search_plan, self.seconds = executor, search_plan, 0.0
        self._handles: dict[int, tuple] = {}
        self.token = uuid.uuid4().hex[:8]  # unit keys are new in every invocation
        pool = np.sort(np.concatenate(search_plan.kfold.folds))
        self.train_rows = [np.setdiff1d(pool, rows, assume_unique=True) for rows in search_plan.kfold.folds]

    def args(self, trial: int) -> tuple:
        """(X handle, labels handle, UnitData, mirrored handle or None) for ``trial``'s prepared
        data (``units.training.share_data``)."""
        prepared = self.search_plan.kfold.prepared[trial]
        if id(prepared) not in self._handles:
            start = time.perf_counter()
            self._handles[id(prepared)] = share_data(self.executor, prepared)
            self.seconds += time.perf_counter() - start
        return self._handles[id(prepared)]


def run_units(search_plan: SearchPlan, run_dir: Path, executor) -> tuple[dict, dict]:
    """Train every missing unit on ``executor`` with a live table, rewriting the search's tables
    as results arrive (and on Ctrl-C, which keeps the finished units); returns (records, info:
    executor name, start time, wall and sharing seconds)."""
    from ..artifacts.records import write_search_results
    from .results import search_summary, total_units
    from .table import LiveTable

    records: dict[Unit, UnitRecord] = {}
    info = {"executor": executor.name, "started_at": time.time()}
    progress = Throttled(lambda: write_search_results(run_dir, search_summary(search_plan, records, **info)))
    started = time.perf_counter()
    table = LiveTable(search_plan.params, search_plan.k, total_units(search_plan))
    try:
        info["share_seconds"] = run_rungs(search_plan, run_dir, executor, table, records, on_unit=lambda _: progress())
    except Interrupted as exc:
        progress(force=True)
        raise Interrupted(f"{exc}. Resume with: mlpcli search --resume {run_dir}") from None
    info["wall_seconds"] = time.perf_counter() - started
    return records, info


def run_rungs(search_plan: SearchPlan, run_dir: Path, executor, table, records: dict, on_unit=None) -> float:
    """Train every unit not yet on disk, rung after rung, filling ``records`` ({Unit: UnitRecord});
    returns the seconds spent sharing the data with the workers.

    ``on_unit(records)`` is called after each unit is saved. Ctrl-C (or SIGTERM) raises
    ``Interrupted``: on workers the outstanding units are cancelled; in this process the running
    unit first saves its checkpoint, from which ``--resume`` continues. The saved units stay (and
    in ``records``).
    """
    shared = SharedData(executor, search_plan)
    candidates = list(range(len(search_plan.params)))
    with executor.interrupts():
        for index, rung in enumerate(search_plan.rungs):
            _run_rung(search_plan, search_plan.units(candidates, rung), run_dir, shared, records, table, on_unit)
            if index + 1 < len(search_plan.rungs):
                scores = [mean_accuracy(records, search_plan.units([trial], rung)) for trial in candidates]
                candidates = survivors(candidates, scores, search_plan.rungs[index + 1].n_trials)
    return shared.seconds


def unit_key(unit: Unit, token: str) -> str:
    """The unit's name on a Dask cluster (its dashboard shows it): ``mlpcli-t3-f2-e4-<token>``."""
    return f"mlpcli-t{unit.trial + 1}-f{unit.fold + 1}-e{unit.epochs}-{token}"


def mean_accuracy(records: dict, units: list[Unit]) -> float:
    """Mean validation accuracy of ``units`` (NaN if any diverged or is missing)."""
    values = [records[u].accuracy if u in records else math.nan for u in units]
    return float(np.mean(values))


def _run_rung(search_plan, units, run_dir, shared: SharedData, records, table, on_unit) -> None:
    todo = _reuse_saved(units, run_dir, records, table)
    executor = shared.executor
    futures = _submit_units(search_plan, todo, run_dir, shared)
    done = 0
    try:
        for future in executor.as_completed(list(futures)):
            unit = futures[future]
            record = save_unit(search_plan, run_dir, unit, unit_result(future), shared.args(unit.trial)[2])
            records[unit] = record
            done += 1
            if on_unit is not None:
                on_unit(records)
            table.update(unit.trial, unit.fold, unit.epochs, record.accuracy, record.seconds, record.worker)
    except KeyboardInterrupt:
        raise Interrupted(
            f"search stopped: {len(todo) - done} unit(s) of this rung cancelled on "
            f"{executor.name}; {len(records)} finished unit(s) are kept"
        ) from None


def _reuse_saved(units, run_dir, records, table) -> list:
    """The units of ``units`` still to train; the saved ones go into ``records`` and the table."""
    todo = []
    for unit in units:
        record = load_record(run_dir, unit)
        if record is None:
            todo.append(unit)
            continue
        records[unit] = record
        table.update(unit.trial, unit.fold, unit.epochs, record.accuracy, record.seconds, record.worker, reused=True)
    return todo


def _submit_units(search_plan, todo, run_dir, shared: SharedData) -> dict:
    """{future: unit} for every unit of ``todo``, submitted to the shared executor."""
    futures = {}
    for u in todo:
        label = f"trial {u.trial + 1} fold {u.fold + 1}"
        rows = (shared.train_rows[u.fold], search_plan.kfold.folds[u.fold])
        X, labels, data, mirrored = shared.args(u.trial)
        future = shared.executor.submit(
            train_unit,
            search_plan.unit_config(u),
            X,
            labels,
            data,
            *rows,
            (u.fold,),
            label,
            True,
            mirrored,
            key=unit_key(u, shared.token),
            checkpoint=_checkpoint(run_dir, u),
        )
        futures[future] = u
    return futures


def _checkpoint(run_dir: Path, unit: Unit) -> Path:
    """Where a unit run in this process keeps its progress: its own folder's checkpoint."""
    return rundir.unit_dir(run_dir, unit.trial, unit.fold, unit.epochs) / rundir.CHECKPOINT


def save_unit(search_plan: SearchPlan, run_dir: Path, unit: Unit, result, data: UnitData) -> UnitRecord:
    """Write a unit's run folder (config, metrics with where it ran, history, model last)."""
    output = result.value
    received = time.time()
    directory = rundir.unit_dir(run_dir, unit.trial, unit.fold, unit.epochs)
    directory.mkdir(parents=True, exist_ok=True)
    config = search_plan.unit_config(unit)
    write_config(directory, dump_yaml(config))
    accuracy = loss = math.nan
    if not output.diverged:
        accuracy, loss = output.metrics["val"]["accuracy"], output.metrics["val"]["loss"]
    record = UnitRecord(
        unit,
        accuracy,
        loss,
        result.seconds,
        result.worker,
        result.started,
        result.finished,
        received,
        trained=True,
        diverged=output.diverged,
    )
    if output.diverged:
        save_diverged(directory, output.diverged, output.diverged_epoch, {"unit": record.info()})
    else:
        save_run(directory, rebuild(config, data, output), {"unit": record.info()})
    (directory / rundir.CHECKPOINT).unlink(missing_ok=True)  # the unit is saved: nothing to resume
    return record


def load_record(run_dir: Path, unit: Unit) -> UnitRecord | None:
    """The record of a unit saved by an earlier invocation, or None if it is not finished."""
    directory = rundir.unit_dir(run_dir, unit.trial, unit.fold, unit.epochs)
    metrics = read_metrics(directory) if directory.is_dir() else None
    diverged = rundir.divergence(directory)
    if not isinstance(metrics, dict) or not (rundir.is_finished(directory) or diverged):
        return None
    info = metrics.get("unit") or {}
    val = metrics.get("val") or {}
    number = lambda value: math.nan if value is None else float(value)  # noqa: E731  (a one-line helper, named where it is used)
    return UnitRecord(
        unit,
        number(val.get("accuracy")),
        number(val.get("loss")),
        float(info.get("seconds", 0.0)),
        str(info.get("worker", "")),
        float(info.get("started", 0.0)),
        float(info.get("finished", 0.0)),
        float(info.get("received", 0.0)),
        trained=False,
        diverged=diverged["message"] if diverged else None,
    )


class Throttled:
    """Calls ``write()`` at most every ``seconds`` (or when forced): the search's tables are
    rewritten as units arrive, but not thousands of times in a large search."""

    def __init__(self, write, seconds: float = 2.0) -> None:
        self.write, self.seconds, self._last = write, seconds, -math.inf

    def __call__(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.seconds:
            self.write()
            self._last = now
