"""One process per run directory (``run.lock``), and runs that say how they ended
(``metrics.json`` ``status``: finished or diverged)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import stopping_after, write_config
from processes import Child

from mlpcli.artifacts import rundir
from mlpcli.artifacts.lock import locked_run
from mlpcli.cli import cli
from mlpcli.commands import run_kfold, run_show, run_train
from mlpcli.config import load_config
from mlpcli.errors import ArtifactError, Interrupted, TrainingDiverged
from mlpcli.units.placement import Placement

HOLD_LOCK = """\
import sys
from mlpcli.artifacts.lock import locked_run
with locked_run(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
"""


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def interrupted(tmp_path, monkeypatch):
    """An interrupted train run (stopped after 5 minibatches, checkpoint saved)."""
    config = load_config(write_config(tmp_path / "c.yaml"))
    with monkeypatch.context() as patch:
        patch.setattr("mlpcli.train.stop.graceful_stop", stopping_after(5))
        with pytest.raises(Interrupted):
            run_train(config, out=tmp_path / "run")
    return tmp_path / "run"


@contextmanager
def lock_held_by_another_process(run_dir: Path):
    """A second Python process that holds ``run_dir``'s lock until the block ends; yields its pid."""
    with Child([sys.executable, "-c", HOLD_LOCK, str(run_dir)], stdin=subprocess.PIPE) as holder:
        holder.wait_for_line("locked", stream="stdout")
        yield holder.process
        holder.process.stdin.close()
        assert holder.finish(30) in (0, -signal.SIGKILL), holder.stderr


# 12.19: a run directory is locked while a process works in it


def test_a_second_resume_of_a_run_in_use_exits_1_naming_the_holder(interrupted):
    with lock_held_by_another_process(interrupted) as holder:
        result = run("train", "--resume", interrupted)
        assert result.exit_code == 1, (result.stderr, result.exception)
        assert f"{interrupted}: another mlpcli process (pid {holder.pid}) is working in this run" in result.stderr
        assert rundir.unfinished(interrupted) is not None  # the refused resume changed nothing
    assert run("train", "--resume", interrupted).exit_code == 0  # free again once the holder is done
    assert not (interrupted / rundir.LOCK).exists()


def test_a_killed_holder_leaves_no_stale_lock(interrupted):
    """SIGKILL gives the holder no chance to clean up: its run.lock stays, but the kernel has
    dropped the lock, so resuming works."""
    with lock_held_by_another_process(interrupted) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert (interrupted / rundir.LOCK).read_text().strip() == str(holder.pid)
        assert run("train", "--resume", interrupted).exit_code == 0


def test_training_holds_the_lock_with_its_pid_and_releases_it(tmp_path, monkeypatch):
    import mlpcli.train.fit as fit

    seen = []
    original = fit.train_model

    def train_model(config, prepared, *args, checkpoint, **kwargs):
        lock = checkpoint.parent / rundir.LOCK
        seen.append(lock.read_text())
        with pytest.raises(ArtifactError, match=f"pid {os.getpid()}"):
            with locked_run(checkpoint.parent):
                pass
        return original(config, prepared, *args, checkpoint=checkpoint, **kwargs)

    monkeypatch.setattr(fit, "train_model", train_model)
    run_train(load_config(write_config(tmp_path / "c.yaml")), out=tmp_path / "run")
    assert seen == [f"{os.getpid()}\n"]
    assert not (tmp_path / "run" / rundir.LOCK).exists()


def test_kfold_resume_of_a_run_in_use_is_refused(tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path / "c.yaml"))
    with monkeypatch.context() as patch:
        patch.setattr("mlpcli.units.inline.graceful_stop", stopping_after(5))
        with pytest.raises(Interrupted):
            run_kfold(config, k=2, out=tmp_path / "run")
    with lock_held_by_another_process(tmp_path / "run") as holder:
        with pytest.raises(ArtifactError, match=f"pid {holder.pid}"):
            run_kfold(None, resume=tmp_path / "run")
    assert run_kfold(None, resume=tmp_path / "run")["k"] == 2


# 12.19: metrics.json says how a run ended; a diverged run is marked, shown and never latest


def test_a_finished_run_says_finished(tmp_path):
    run_train(load_config(write_config(tmp_path / "c.yaml")), out=tmp_path / "run")
    assert json.loads((tmp_path / "run" / rundir.METRICS).read_text())["status"] == "finished"


def test_a_diverged_run_is_marked_shown_refused_and_not_latest(tmp_path):
    good = write_config(tmp_path / "good.yaml")
    assert run("train", "--config", good).exit_code == 0
    latest = (tmp_path / "runs" / "latest").resolve()
    boom = write_config(tmp_path / "boom.yaml", train={"lr": 1e6, "epochs": 3})
    result = run("train", "--config", boom)
    assert result.exit_code == 1 and "training diverged at epoch 1" in result.stderr
    (diverged,) = (tmp_path / "runs").glob("*-boom")
    metrics = json.loads((diverged / rundir.METRICS).read_text())
    assert metrics["status"] == "diverged" and metrics["epoch"] == 1
    assert metrics["message"].startswith("training diverged at epoch 1") and "lower train.lr" in metrics["message"]
    assert not (diverged / rundir.CHECKPOINT).exists() and not (diverged / rundir.MODEL).exists()
    assert (tmp_path / "runs" / "latest").resolve() == latest
    shown = run("show", diverged)
    assert shown.exit_code == 0, shown.stderr
    assert "kind       diverged" in shown.stdout and "status     diverged at epoch 1: training diverged" in shown.stdout
    summary = json.loads(run("show", diverged, "--json").stdout)
    assert summary["kind"] == "diverged" and summary["diverged"]["epoch"] == 1 and summary["interrupted"] is None
    refused = run("train", "--resume", diverged)
    assert refused.exit_code == 1 and "this run diverged" in refused.stderr


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_diverged_kfold_run_is_marked_with_its_epoch_and_not_resumable(tmp_path, jobs):
    """With --jobs 2 the folds run as units in worker processes, which return the divergence as
    data: the epoch must survive that trip (it was null, and show said "at epoch None", before
    UnitOutput carried it)."""
    config = load_config(write_config(tmp_path / "c.yaml", train={"lr": 1e6, "epochs": 3}))
    with pytest.raises(TrainingDiverged) as raised:
        run_kfold(config, k=2, placement=Placement(jobs=jobs), out=tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / rundir.METRICS).read_text())
    assert metrics == {"status": "diverged", "epoch": 1, "message": str(raised.value)}
    assert raised.value.epoch == 1 and re.match(r"fold [12]/2 training diverged at epoch 1", metrics["message"])
    assert run_show(tmp_path / "run")["kind"] == "diverged"
    shown = run("show", tmp_path / "run")
    assert shown.exit_code == 0 and "status     diverged at epoch 1: fold" in shown.stdout
    with pytest.raises(ArtifactError, match="this run diverged"):
        run_kfold(None, resume=tmp_path / "run")
    if jobs == 2:  # a run recorded before units returned the epoch: no "at epoch None"
        (tmp_path / "run" / rundir.METRICS).write_text(json.dumps({**metrics, "epoch": None}))
        shown = run("show", tmp_path / "run")
        assert shown.exit_code == 0 and "status     diverged: fold" in shown.stdout
