"""`mlpcli search` on this process and on local worker processes: the run directory, ranking,
halving, interrupt and resume, exit codes. The Dask cluster runs are in test_search_cluster.py."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import write_config
from processes import Child, mlpcli_args

from mlpcli.cli import cli
from mlpcli.config import load_config

SPACE = {"train.lr": {"loguniform": [1.0e-3, 3.0e-1]}, "model.hidden": {"choice": [[8], [16]]}}
GRID = {"train.lr": {"choice": [0.01, 0.1]}}


def search_config(tmp_path: Path, strategy="random", trials=4, **sections) -> Path:
    """Tiny synthetic data; 20x20 raw pixels (1200 features) into 32 units at batch 32, a product
    whose rounding depends on the BLAS thread count, so byte comparisons can fail."""
    search = {"strategy": strategy, "space": SPACE}
    if strategy != "grid":
        search["trials"] = trials
    if strategy == "halving":
        search["halving"] = {"factor": 2, "min_epochs": 1}
    sections = {
        "data": {"n_per_class": 12, "image_size": 20},
        "model": {"hidden": [32]},
        "train": {"epochs": 4, "batch_size": 32, "lr": 0.05},
        "search": search,
        **sections,
    }
    return write_config(tmp_path / "search.yaml", **sections)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def table(summary: dict) -> list[tuple]:
    """The trials table without times and workers: what must not depend on where units ran."""
    return [
        (
            r["rank"],
            r["trial"],
            r["epochs"],
            r["fold_accuracies"],
            r["mean_accuracy"],
            r["std_accuracy"],
            r["oof_accuracy"],
            json.dumps(r["params"]),
        )
        for r in summary["trials"]
    ]


def best_weights(run_dir: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted((run_dir / "best_trial" / "folds").glob("fold_*/weights.npz"))]


def test_a_search_writes_a_ranked_table_and_a_model_that_predict_and_evaluate_take(tmp_path):
    config = search_config(tmp_path)
    result = run("search", "--config", config, "--k", 2, "--out", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)  # exactly one JSON document on stdout
    run_dir = tmp_path / "run"
    rows = summary["trials"]
    assert [r["trial"] for r in rows] != [] and len(rows) == 4 and summary["units_trained"] == 8
    means = [r["mean_accuracy"] for r in rows]
    assert means == sorted(means, reverse=True) and [r["rank"] for r in rows] == [1, 2, 3, 4]
    for row in rows:
        assert row["mean_accuracy"] == pytest.approx(sum(row["fold_accuracies"]) / 2)
        assert len(row["fold_accuracies"]) == 2 and row["seconds"] > 0 and row["workers"]
    assert summary["best"]["mean_accuracy"] == rows[0]["mean_accuracy"]
    written = (run_dir / "trials.csv").read_text().splitlines()
    keys = ",".join(summary["space"])  # in the order the config file lists them
    assert written[0] == f"rank,trial,epochs,folds_done,mean_accuracy,std_accuracy,oof_accuracy,seconds,{keys}"
    assert sorted(summary["space"]) == ["model.hidden", "train.lr"]
    assert [int(line.split(",")[1]) for line in written[1:]] == [r["trial"] for r in rows]
    assert json.loads((run_dir / "search_summary.json").read_text())["trials"] == rows
    best = load_config(run_dir / "best_config.yaml")  # ready for `mlpcli train --config`
    assert best.search is None and best.train.lr == rows[0]["params"]["train.lr"]
    assert list(best.model.hidden) == rows[0]["params"]["model.hidden"]
    images = tmp_path / "images"
    assert run("data", "synth", "--out", images, "--n-per-class", 2, "--size", 20).exit_code == 0
    predicted = run("predict", images, "--model", run_dir, "--json")
    assert predicted.exit_code == 0 and len(json.loads(predicted.stdout)["predictions"]) == 8
    evaluated = run("evaluate", "--model", run_dir, "--data", images, "--json")
    assert evaluated.exit_code == 0 and json.loads(evaluated.stdout)["n"] == 8
    shown = run("show", run_dir, "--json")
    assert shown.exit_code == 0
    show = json.loads(shown.stdout)
    assert show["kind"] == "search" and [r["trial"] for r in show["search"]["trials"]] == [r["trial"] for r in rows]


def test_the_same_seed_gives_the_same_trials_and_trials_extends_them(tmp_path):
    config = search_config(tmp_path, trials=3, train={"epochs": 1})
    first = json.loads(run("search", "--config", config, "--k", 2, "--out", tmp_path / "a", "--json").stdout)
    again = json.loads(run("search", "--config", config, "--k", 2, "--out", tmp_path / "b", "--json").stdout)
    more = json.loads(
        run("search", "--config", config, "--k", 2, "--trials", 4, "--out", tmp_path / "c", "--json").stdout
    )
    params = lambda s: {r["trial"]: r["params"] for r in s["trials"]}  # noqa: E731  (a one-line helper, named where it is used)
    assert table(first) == table(again)
    assert len(more["trials"]) == 4 and {t: params(more)[t] for t in (1, 2, 3)} == params(first)


def test_halving_trains_the_best_longer_and_ranks_survivors_first(tmp_path):
    config = search_config(tmp_path, strategy="halving", trials=5)
    result = run("search", "--config", config, "--k", 2, "--out", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [(r["n_trials"], r["epochs"]) for r in summary["rungs"]] == [(5, 1), (3, 2), (2, 4)]
    assert summary["units_trained"] == (5 + 3 + 2) * 2
    rows = summary["trials"]
    assert [r["epochs"] for r in rows] == [4, 4, 2, 1, 1]
    by_trial = {r["trial"]: r for r in rows}
    units = summary["units"]
    first_rung = {t: sum(u["accuracy"] for u in units if u["trial"] == t and u["epochs"] == 1) for t in by_trial}
    promoted = sorted(by_trial, key=lambda t: (-first_rung[t], t))[:3]
    assert {t for t, r in by_trial.items() if r["epochs"] >= 2} == set(promoted)
    assert load_config(tmp_path / "run" / "best_config.yaml").train.epochs == 4


def test_halving_never_promotes_a_trial_with_a_diverged_fold(tmp_path, monkeypatch):
    """Trial 1's first fold diverges in the first rung and its other fold scores a perfect 1.0:
    its mean is undefined, so it ranks below every trial and stays at one epoch. Fails if the
    rung's mean skips the diverged fold (``np.nanmean``), which would promote trial 1 first."""
    from mlpcli.search import run as search_run
    from mlpcli.units.training import UnitOutput

    real = search_run.train_unit

    def rigged(config, *args, **kwargs):
        output = real(config, *args, **kwargs)
        label = args[6]
        if config.train.epochs == 1 and label == "trial 1 fold 1":
            return UnitOutput({}, None, None, None, {}, diverged="training diverged at epoch 1 (loss=nan)")
        if config.train.epochs == 1 and label == "trial 1 fold 2":
            output.metrics["val"]["accuracy"] = 1.0
        return output

    monkeypatch.setattr(search_run, "train_unit", rigged)
    config = search_config(tmp_path, strategy="halving", trials=5)
    result = run("search", "--config", config, "--k", 2, "--out", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [(r["n_trials"], r["epochs"]) for r in summary["rungs"]] == [(5, 1), (3, 2), (2, 4)]
    assert {u["epochs"] for u in summary["units"] if u["trial"] == 1} == {1}
    assert next(r for r in summary["trials"] if r["trial"] == 1)["epochs"] == 1
    assert len({u["trial"] for u in summary["units"] if u["epochs"] == 2}) == 3


def test_two_local_processes_give_the_same_table_and_weight_bytes_as_one(tmp_path):
    config = search_config(tmp_path, trials=3)
    runs = {}
    for jobs in (1, 2):
        result = run("search", "--config", config, "--k", 2, "--jobs", jobs, "--out", tmp_path / f"j{jobs}", "--json")
        assert result.exit_code == 0, result.stderr
        runs[jobs] = json.loads(result.stdout)
    assert table(runs[1]) == table(runs[2])
    assert best_weights(tmp_path / "j1") == best_weights(tmp_path / "j2") != []
    assert (tmp_path / "j1" / "model.json").read_text() == (tmp_path / "j2" / "model.json").read_text()
    assert runs[2]["executor"] == "2 local processes"
    # Worker processes ran the units, never this one (the old check, ``len(workers) >= 1``, passed
    # with every unit run here; this fails if --jobs 2 runs units in-process). Not "both workers
    # ran units": on a busy machine one worker can finish all six units before the other has
    # started (seen under load), which is correct behaviour.
    workers = {w for r in runs[2]["trials"] for w in r["workers"]}
    pids = {w.rsplit(":", 1)[1] for w in workers}
    assert 1 <= len(pids) <= 2 and str(os.getpid()) not in pids, workers
    assert {w.rsplit(":", 1)[1] for r in runs[1]["trials"] for w in r["workers"]} == {str(os.getpid())}


def test_an_interrupted_search_resumes_without_retraining_finished_units(tmp_path, monkeypatch):
    config = search_config(tmp_path, strategy="halving", trials=4)
    straight = json.loads(run("search", "--config", config, "--k", 2, "--out", tmp_path / "straight", "--json").stdout)
    from mlpcli.search.table import LiveTable

    update = LiveTable.update

    def stop_after_five(self, *args, **kwargs):
        update(self, *args, **kwargs)
        if self.n_done == 5:
            raise KeyboardInterrupt  # Ctrl-C while the client waits for the sixth unit

    monkeypatch.setattr(LiveTable, "update", stop_after_five)
    stopped = run("search", "--config", config, "--k", 2, "--out", tmp_path / "run", "--json")
    assert stopped.exit_code == 130 and stopped.stdout == ""
    assert f"Resume with: mlpcli search --resume {tmp_path / 'run'}" in stopped.stderr
    partial = json.loads((tmp_path / "run" / "search_summary.json").read_text())
    assert partial["finished"] is False and partial["units_done"] == 5
    shown = json.loads(run("show", tmp_path / "run", "--json").stdout)
    assert shown["kind"] == "interrupted" and shown["interrupted"]["units_finished"] == 5
    monkeypatch.setattr(LiveTable, "update", update)
    resumed = run("search", "--resume", tmp_path / "run", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["units_reused"], summary["units_trained"]) == (5, straight["units_trained"] - 5)
    assert table(summary) == table(straight)
    assert best_weights(tmp_path / "run") == best_weights(tmp_path / "straight")
    again = run("search", "--resume", tmp_path / "run")
    assert again.exit_code == 1 and "already finished" in again.stderr


def test_a_stop_in_this_process_checkpoints_the_running_unit_as_kfold_does(tmp_path, monkeypatch):
    """In this process a search's unit stops after its minibatch with a checkpoint, as a k-fold
    fold does, and --resume continues it to the same bytes. Checked once against the old path (the
    in-process executor passing no checkpoint and stop flag): the search finished with exit 0."""
    from conftest import stopping_after

    config = search_config(tmp_path, trials=2)
    straight = json.loads(run("search", "--config", config, "--k", 2, "--out", tmp_path / "straight", "--json").stdout)
    monkeypatch.setattr("mlpcli.units.inline.graceful_stop", stopping_after(5))
    stopped = run("search", "--config", config, "--k", 2, "--out", tmp_path / "run", "--json")
    assert stopped.exit_code == 130 and "checkpoint saved" in stopped.stderr, stopped.stderr
    assert f"Resume with: mlpcli search --resume {tmp_path / 'run'}" in stopped.stderr
    checkpoints = [p.parent.name for p in (tmp_path / "run" / "units").glob("*/checkpoint.npz")]
    assert len(checkpoints) == 1 and checkpoints[0].startswith("t1_f1_"), checkpoints  # the first unit
    monkeypatch.undo()
    resumed = run("search", "--resume", tmp_path / "run", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert table(json.loads(resumed.stdout)) == table(straight)
    assert best_weights(tmp_path / "run") == best_weights(tmp_path / "straight")
    assert not list((tmp_path / "run" / "units").glob("*/checkpoint.npz"))


def test_seed_null_is_recorded_so_a_rerun_and_a_resume_draw_the_same_trials(tmp_path, monkeypatch):
    """``seed: null`` draws a seed; config.yaml records it, so a search rerun from that file, and
    ``--resume`` of an interrupted one, train the same trials with the same scores. Fails if the
    run records the unresolved config (``seed: null``: each rerun or resume draws a new seed) or
    the trials are drawn from the unresolved seed."""
    from mlpcli.search.table import LiveTable

    config = search_config(tmp_path, trials=3, seed=None, train={"epochs": 1})
    update = LiveTable.update

    def stop_after_three(self, *args, **kwargs):
        update(self, *args, **kwargs)
        if self.n_done == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(LiveTable, "update", stop_after_three)
    stopped = run("search", "--config", config, "--k", 2, "--out", tmp_path / "run", "--json")
    assert stopped.exit_code == 130, stopped.stderr
    monkeypatch.setattr(LiveTable, "update", update)
    recorded = tmp_path / "run" / "config.yaml"
    assert isinstance(yaml.safe_load(recorded.read_text())["seed"], int)
    resumed = run("search", "--resume", tmp_path / "run", "--json")
    rerun = run("search", "--config", recorded, "--out", tmp_path / "rerun", "--json")
    assert resumed.exit_code == 0 and rerun.exit_code == 0, resumed.stderr + rerun.stderr
    assert json.loads(resumed.stdout)["units_reused"] == 3
    assert table(json.loads(resumed.stdout)) == table(json.loads(rerun.stdout))


@pytest.mark.parametrize("where", [["--jobs", "2"], ["--cluster", "local:2"]], ids=["jobs", "local-cluster"])
def test_ctrl_c_on_local_workers_exits_130_and_keeps_finished_units(tmp_path, where):
    """Ctrl-C as CI sends it (SIGINT to the process group, no terminal), five times: exit 130, one
    line saying what was kept, no traceback, nothing of the process group left running.

    With ``--cluster local:2`` this printed Dask's KeyboardInterrupt tracebacks from the worker
    processes (and hung at times) before the workers ignored SIGINT (dask_executor.start_local)."""
    if "--cluster" in where:
        pytest.importorskip("distributed")
    config = search_config(tmp_path, trials=6, data={"n_per_class": 60}, train={"epochs": 6, "batch_size": 8})
    for attempt in range(5):
        run_dir = tmp_path / f"run{attempt}"
        args = mlpcli_args("search", "--config", config, "--k", 2, *where, "--out", run_dir)
        with Child(args, cwd=tmp_path) as child:
            child.wait_for_line("unit 1/12")
            child.interrupt()
            code = child.finish()
            assert code == 130 and child.leftovers() == [], child.stderr
        lines = child.stderr.splitlines()
        assert "finished unit(s) are kept" in lines[-1] and f"mlpcli search --resume {run_dir}" in lines[-1]
        assert not [
            line for line in lines if "Traceback" in line or "KeyboardInterrupt" in line or "distributed." in line
        ], child.stderr
        assert 1 <= len(list(run_dir.glob("units/*/model.json"))) < 12 and not (run_dir / "model.json").exists()


@pytest.mark.parametrize(
    "args, extra, code, message",
    [
        ([], {"search": None}, 2, "search: the config has no search section"),
        (["--trials", 3], {"grid": True}, 2, "--trials: not used with strategy grid"),
        (["--jobs", 2, "--cluster", "local:2"], {}, 2, "--jobs and --cluster: choose one"),
        (["--cluster", "tcp://127.0.0.1:1"], {}, 1, "--cluster tcp://127.0.0.1:1: cannot connect"),
        (["--cluster", "nowhere"], {}, 2, "--cluster: must be tcp://HOST:PORT"),
        (["--k", 1], {}, 2, "--k"),
    ],
)
def test_usage_and_runtime_errors_have_their_exit_codes(tmp_path, args, extra, code, message):
    if "--cluster" in args and "tcp://127.0.0.1:1" in args:
        pytest.importorskip("distributed")
    if extra.get("grid"):
        config = search_config(tmp_path, strategy="grid", search={"strategy": "grid", "space": GRID})
    else:
        config = search_config(tmp_path, **extra)
    result = run("search", "--config", config, *args, "--out", tmp_path / "run")
    assert result.exit_code == code and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_resume_needs_a_search_directory(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("seed: 1\n")
    result = run("search", "--resume", tmp_path / "run")
    assert result.exit_code == 1 and "search_plan.json is missing" in result.stderr


def test_mlpcli_cluster_names_the_cluster_unless_jobs_is_given(tmp_path, monkeypatch):
    config = search_config(tmp_path, trials=1, train={"epochs": 1})
    monkeypatch.setenv("MLPCLI_CLUSTER", "nowhere")
    from_env = run("search", "--config", config, "--k", 2, "--out", tmp_path / "a")
    assert from_env.exit_code == 2 and "--cluster: must be tcp://HOST:PORT" in from_env.stderr
    explicit = run("search", "--config", config, "--k", 2, "--jobs", 1, "--out", tmp_path / "b", "--json")
    assert explicit.exit_code == 0, explicit.stderr
    assert json.loads(explicit.stdout)["executor"] == "this process"


def test_a_diverging_trial_ranks_last_and_the_search_goes_on(tmp_path):
    space = {"train.lr": {"choice": [0.05, 1.0e6]}}
    config = search_config(
        tmp_path, strategy="grid", search={"strategy": "grid", "space": space}, train={"epochs": 2, "lr": 0.05}
    )
    result = run("search", "--config", config, "--k", 2, "--out", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["trials"]
    assert rows[0]["params"] == {"train.lr": 0.05} and rows[0]["mean_accuracy"] is not None
    assert rows[1]["mean_accuracy"] is None and "diverged" in rows[1]["diverged"]
    # The unit's epoch comes back from train_unit as data (it was null before UnitOutput carried it).
    unit = json.loads((tmp_path / "run" / "units" / f"t{rows[1]['trial']}_f1_e2" / "metrics.json").read_text())
    assert unit["status"] == "diverged" and isinstance(unit["epoch"], int)
    assert f"training diverged at epoch {unit['epoch']} " in unit["message"]
    assert yaml.safe_load((tmp_path / "run" / "best_config.yaml").read_text())["train"]["lr"] == 0.05


def test_trials_csv_keeps_searched_lists_and_feature_specs_in_one_cell_each(tmp_path):
    """A search over model.hidden and features: csv.reader gives every row the header's width and
    the searched values back. Fails with a hand-joined row (a features list holding quotes and
    commas split into extra columns)."""
    space = {
        "model.hidden": {"choice": [[8, 4], [16]]},
        "features": {"choice": [["raw"], ["raw", {"name": "color_hist", "bins": 4}]]},
    }
    config = search_config(
        tmp_path,
        strategy="grid",
        search={"strategy": "grid", "space": space},
        data={"n_per_class": 8, "image_size": 16},
        train={"epochs": 1},
    )
    result = run("search", "--config", config, "--k", 2, "--out", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    with open(tmp_path / "run" / "trials.csv", newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    keys = sorted(space)  # yaml.safe_dump wrote the space's keys sorted
    assert sorted(header[-2:]) == keys and len(rows) == 4
    assert all(len(row) == len(header) for row in rows)
    column = {name: header.index(name) for name in keys}
    written = {int(row[1]): {key: json.loads(row[column[key]]) for key in keys} for row in rows}
    trials = json.loads(result.stdout)["trials"]
    assert written == {r["trial"]: r["params"] for r in trials}


def test_an_interrupted_grid_search_resumes_with_the_command_it_printed(tmp_path, monkeypatch):
    """Issue 21 item 1: the plan records ``trials`` for every strategy and ``--resume`` replayed it
    as ``--trials``, which a grid refuses (exit 2). Fails without the fix in commands/training.py."""
    config = search_config(tmp_path, strategy="grid", search={"strategy": "grid", "space": GRID}, train={"epochs": 1})
    from mlpcli.search.table import LiveTable

    update = LiveTable.update

    def stop_after_one(self, *args, **kwargs):
        update(self, *args, **kwargs)
        raise KeyboardInterrupt  # Ctrl-C while the client waits for the second unit

    monkeypatch.setattr(LiveTable, "update", stop_after_one)
    stopped = run("search", "--config", config, "--k", 2, "--out", tmp_path / "run")
    assert stopped.exit_code == 130 and f"mlpcli search --resume {tmp_path / 'run'}" in stopped.stderr
    monkeypatch.setattr(LiveTable, "update", update)
    resumed = run("search", "--resume", tmp_path / "run", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["units_reused"], summary["units_trained"]) == (1, 3) and len(summary["trials"]) == 2
