"""Interrupt and resume: a stopped run continues to bit-identical weights; kills leave no bad model."""

import json
import signal
import time

import numpy as np
import pytest
from conftest import StopAfter, stopping_after, write_config
from processes import Child, mlpcli_args

from mlpcli.artifacts import load_model
from mlpcli.config import from_dict
from mlpcli.errors import ArtifactError, Interrupted
from mlpcli.train.fit import holdout_split, prepare, train_model


def config(tmp_path, **train):
    return from_dict(
        {
            "seed": 5,
            "data": {"format": "synthetic", "n_per_class": 30, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
            "model": {"hidden": [8]},
            "train": {"epochs": 4, "batch_size": 16, "lr": 0.05, **train},
        }
    )


#: Every augmentation at once: each draws from the augment generator the checkpoint saves.
AUGMENT = {"flip": True, "crop_padding": 2, "brightness": 0.2, "contrast": 0.2, "erase": 0.5}


def weights(trained):
    return trained.predictor.network.state_dict()


def straight_and_resumed(cfg, stops, checkpoint):
    """(uninterrupted run, run stopped after each of ``stops`` minibatch checks and resumed from
    ``checkpoint`` each time); the checkpoint of the last epoch stays for the caller to inspect."""
    prepared = prepare(cfg)
    rows = holdout_split(cfg, prepared.dataset.labels)
    reference = train_model(cfg, prepared, *rows)
    for calls in stops:
        with pytest.raises(Interrupted, match="checkpoint saved"):
            train_model(cfg, prepared, *rows, checkpoint=checkpoint, stop=StopAfter(calls))
        assert checkpoint.exists()
    return reference, train_model(cfg, prepared, *rows, checkpoint=checkpoint)


@pytest.mark.parametrize(
    "train, stops",
    [
        ({}, [3]),  # mid-epoch 1
        ({}, [6, 2, 9]),  # interrupted three times
        ({"patience": 1, "lr": 0.5}, [7]),  # early-stopping state survives
        ({"schedule": "cosine", "nesterov": True}, [12]),
        ({"batch_size": "full"}, [0, 1]),  # at epoch boundaries
        ({"augment": AUGMENT}, [3]),  # raw pixels augmented, mid-epoch 1
        ({"augment": AUGMENT}, [5, 2, 9]),
    ],
)
def test_resumed_training_is_bit_identical(tmp_path, train, stops):
    reference, resumed = straight_and_resumed(config(tmp_path, **train), stops, tmp_path / "checkpoint.npz")
    for key, value in weights(reference).items():
        assert np.array_equal(value, weights(resumed)[key]), key
    assert [r["val_accuracy"] for r in resumed.history.epochs] == [r["val_accuracy"] for r in reference.history.epochs]


def test_resuming_after_the_best_epoch_keeps_early_stoppings_best_weights(tmp_path):
    """Validation accuracy peaks early (epoch 2 of 8 at lr 0.3); the run is stopped after that
    epoch and resumed, and must end with the same best-epoch weights as the uninterrupted run.
    Fails if the checkpoint drops the best-so-far weights (save_checkpoint without ``best/``):
    the resumed run then ends with its last epoch's weights."""
    from mlpcli.train.checkpoint import checkpoint_progress

    cfg = config(tmp_path, epochs=8, lr=0.3, patience=20)
    prepared = prepare(cfg)
    rows = holdout_split(cfg, prepared.dataset.labels)
    reference = train_model(cfg, prepared, *rows)
    best = reference.history.best_epoch
    checkpoint = tmp_path / "checkpoint.npz"
    with pytest.raises(Interrupted, match="checkpoint saved"):
        train_model(cfg, prepared, *rows, checkpoint=checkpoint, stop=StopAfter(30))
    # The premise: the best epoch is not the last one, and it was over when the run stopped.
    assert best < len(reference.history.epochs) and checkpoint_progress(checkpoint)[0] > best
    resumed = train_model(cfg, prepared, *rows, checkpoint=checkpoint)
    assert resumed.history.best_epoch == best
    for key, value in weights(reference).items():
        assert np.array_equal(value, weights(resumed)[key]), key


@pytest.mark.parametrize(
    "optimizer, stops, e2e",
    [
        ("adam", [3], False),  # mid-epoch 1
        ("adam", [5, 2, 9], False),  # interrupted three times, across epochs
        ("adamw", [7], True),  # per-channel BatchNorm in the extractor too
    ],
)
def test_resume_with_adam_dropout_and_batchnorm_is_bit_identical(tmp_path, optimizer, stops, e2e):
    raw = {
        "seed": 5,
        "data": {"format": "synthetic", "n_per_class": 30, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
        "model": {"hidden": [8, 6], "dropout": 0.3, "batchnorm": True, "weight_decay": 0.01},
        "train": {
            "epochs": 4,
            "batch_size": 16,
            "lr": 0.01,
            "optimizer": optimizer,
            "warmup_epochs": 1,
            "schedule": "cosine",
        },
    }
    if e2e:
        raw.update(mode="end_to_end", extractor={"blocks": [{"filters": 4, "kernel": 3, "pool": 2}], "batchnorm": True})
        raw["train"]["augment"] = {"flip": True}
    checkpoint = tmp_path / "checkpoint.npz"
    reference, resumed = straight_and_resumed(from_dict(raw), stops, checkpoint)
    with np.load(checkpoint) as stored:  # Adam's moments and step counts are in the checkpoint
        assert any(key.startswith("optimizer/step/") for key in stored.files)
    assert any(key.endswith("running_mean") for key in weights(reference))
    for key, value in weights(reference).items():
        assert np.array_equal(value, weights(resumed)[key]), key
    assert [r["train_loss"] for r in resumed.history.epochs] == [r["train_loss"] for r in reference.history.epochs]


def test_resume_with_augmented_copies_of_a_fixed_feature_is_bit_identical(tmp_path):
    """hog rows drawn from cached augmented copies: which copy each row sees continues mid-epoch."""
    raw = {
        "seed": 5,
        "data": {"format": "synthetic", "n_per_class": 30, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
        "features": [{"name": "hog", "cell": 4}],
        "model": {"hidden": [8]},
        "train": {"epochs": 3, "batch_size": 16, "lr": 0.05, "augment": {**AUGMENT, "copies": 2}},
    }
    reference, resumed = straight_and_resumed(from_dict(raw), [4, 7], tmp_path / "checkpoint.npz")
    for key, value in weights(reference).items():
        assert np.array_equal(value, weights(resumed)[key]), key


def mlpcli(*args) -> Child:
    """``mlpcli ARGS`` in its own session; leave it with ``with`` so it is killed whatever happens."""
    return Child(mlpcli_args(*args))


def finished(*args) -> Child:
    """``mlpcli ARGS`` run to its end (within the deadline); fails unless it exits 0."""
    with mlpcli(*args) as child:
        assert child.finish() == 0, child.stderr
    return child


def slow_config(tmp_path):
    return write_config(
        tmp_path / "slow.yaml",
        data={"n_per_class": 400, "image_size": 32},
        model={"hidden": [256]},
        train={"epochs": 6, "batch_size": 8, "lr": 0.01},
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_checkpoints_exits_130_and_resume_matches(tmp_path, sig):
    """The signal goes to the process group, as CI and supervisors send it, once epoch 1 ends."""
    cfg = slow_config(tmp_path)
    finished("train", "--config", cfg, "--out", tmp_path / "straight")
    with mlpcli("train", "--config", cfg, "--out", tmp_path / "run") as stopped:
        stopped.wait_for_line("epoch 1/6")
        stopped.interrupt(sig)
        assert stopped.finish() == 130, stopped.stderr
    assert f"Resume with: mlpcli train --resume {tmp_path / 'run'}" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert (tmp_path / "run" / "checkpoint.npz").exists() and not (tmp_path / "run" / "model.json").exists()
    resumed = finished("train", "--resume", tmp_path / "run")
    assert "resuming at epoch" in resumed.stderr
    assert (tmp_path / "run" / "weights.npz").read_bytes() == (tmp_path / "straight" / "weights.npz").read_bytes()
    assert not (tmp_path / "run" / "checkpoint.npz").exists()


def test_sigkill_never_leaves_a_wrong_model(tmp_path):
    cfg = slow_config(tmp_path)
    finished("train", "--config", cfg, "--out", tmp_path / "straight")
    expected = (tmp_path / "straight" / "weights.npz").read_bytes()
    rng = np.random.default_rng(0)
    for attempt in range(2):
        run_dir = tmp_path / f"killed{attempt}"
        with mlpcli("train", "--config", cfg, "--out", run_dir) as process:
            # Kill only once the first checkpoint exists, at a random moment after it, so the resume
            # path is always exercised, whatever the machine's speed.
            process.wait_for_file(lambda run_dir=run_dir: (run_dir / "checkpoint.npz").exists())
            time.sleep(rng.uniform(0.0, 0.5))  # where the kill lands, not a wait for an event
        with pytest.raises(ArtifactError):
            load_model(run_dir)  # killed mid-run: no model, never a wrong one
        assert (run_dir / "checkpoint.npz").exists()
        finished("train", "--resume", run_dir)
        assert (run_dir / "weights.npz").read_bytes() == expected


def test_resume_refuses_finished_and_incomplete_runs(tmp_path):
    from click.testing import CliRunner

    from mlpcli.cli import cli

    cfg = write_config(tmp_path / "c.yaml")
    runner = CliRunner()
    assert runner.invoke(cli, ["train", "--config", str(cfg), "--out", str(tmp_path / "done")]).exit_code == 0
    finished = runner.invoke(cli, ["train", "--resume", str(tmp_path / "done")])
    assert finished.exit_code == 1 and "already finished" in finished.stderr
    (tmp_path / "empty").mkdir()
    missing = runner.invoke(cli, ["train", "--resume", str(tmp_path / "empty")])
    assert missing.exit_code == 1 and "config.yaml is missing" in missing.stderr
    (tmp_path / "early").mkdir()
    (tmp_path / "early" / "config.yaml").write_text((tmp_path / "done" / "config.yaml").read_text())
    early = runner.invoke(cli, ["train", "--resume", str(tmp_path / "early")])
    assert early.exit_code == 1 and "no checkpoint.npz" in early.stderr
    both = runner.invoke(cli, ["train", "--resume", str(tmp_path / "early"), "--config", str(cfg)])
    assert both.exit_code == 2 and "either --config" in both.stderr


@pytest.mark.parametrize("jobs", [1, 2])
def test_kfold_interrupt_keeps_finished_folds_and_resumes(tmp_path, jobs):
    """SIGINT to the process group five times, each once the run has logged an epoch (resuming
    after the first), then a resume to the end: the same summary as a run never interrupted."""
    cfg = write_config(
        tmp_path / "k.yaml",
        data={"n_per_class": 150, "image_size": 32},
        model={"hidden": [128]},
        train={"epochs": 4, "batch_size": 8, "lr": 0.01},
    )
    straight = finished("kfold", "--config", cfg, "--k", 3, "--jobs", jobs, "--out", tmp_path / "straight", "--json")
    start = ("kfold", "--config", cfg, "--k", 3, "--jobs", jobs, "--out", tmp_path / "run", "--json")
    for attempt in range(5):
        with mlpcli(*(start if attempt == 0 else ("kfold", "--resume", tmp_path / "run", "--json"))) as stopped:
            stopped.wait_for_line(" epoch ")
            stopped.interrupt()
            assert stopped.finish() == 130 and stopped.leftovers() == [], stopped.stderr
        assert "Resume with: mlpcli kfold --resume" in stopped.stderr and "Traceback" not in stopped.stderr
    resumed = finished("kfold", "--resume", tmp_path / "run", "--json")
    a, b = json.loads(straight.stdout), json.loads(resumed.stdout)
    a.pop("run_dir"), b.pop("run_dir")
    assert a == b


def test_kfold_on_a_local_cluster_stops_on_ctrl_c_with_one_line_and_no_process_left(tmp_path):
    """Issue 21 item 2 for kfold: SIGINT to the group once a fold has arrived, five times. Before the
    workers ignored SIGINT this printed Dask's KeyboardInterrupt tracebacks (and hung at times)."""
    pytest.importorskip("distributed")
    cfg = write_config(
        tmp_path / "k.yaml",
        data={"n_per_class": 150, "image_size": 32},
        model={"hidden": [128]},
        train={"epochs": 4, "batch_size": 8, "lr": 0.01},
    )
    for attempt in range(5):
        run_dir = tmp_path / f"run{attempt}"
        with mlpcli("kfold", "--config", cfg, "--k", 5, "--cluster", "local:2", "--out", run_dir) as stopped:
            # A fold arrived (saved as it arrives): the cluster runs, and three folds are left.
            stopped.wait_for_file(lambda run_dir=run_dir: list(run_dir.glob("folds/*/model.json")))
            stopped.interrupt()
            assert stopped.finish() == 130 and stopped.leftovers() == [], stopped.stderr
        last = stopped.stderr.splitlines()[-1]
        assert "finished folds are kept" in last and f"mlpcli kfold --resume {run_dir}" in last, stopped.stderr
        assert not [
            line
            for line in stopped.stderr.splitlines()
            if "Traceback" in line or "KeyboardInterrupt" in line or "distributed." in line
        ], stopped.stderr


def test_kfold_resume_needs_a_kfold_run(tmp_path):
    from click.testing import CliRunner

    from mlpcli.cli import cli

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("seed: 1\n")
    result = CliRunner().invoke(cli, ["kfold", "--resume", str(tmp_path / "run")])
    assert result.exit_code == 1 and "kfold_plan.json is missing" in result.stderr


def test_resume_works_from_another_directory_with_a_relative_data_path(tmp_path, monkeypatch):
    """config.yaml records data.path resolved (and how it was written), so a run started with a
    relative path can be resumed from anywhere."""
    from mlpcli.commands import run_synth, run_train
    from mlpcli.config import load_config

    run_synth(tmp_path / "shapes", n_per_class=8, size=16, seed=1)
    monkeypatch.chdir(tmp_path)
    config = load_config(
        write_config(tmp_path / "c.yaml", data={"format": "folder", "path": "shapes", "image_size": 16})
    )
    monkeypatch.setattr("mlpcli.train.stop.graceful_stop", stopping_after(2))
    with pytest.raises(Interrupted):
        run_train(config, out=tmp_path / "run")
    recorded = (tmp_path / "run" / "config.yaml").read_text()
    assert f"path: {tmp_path / 'shapes'}" in recorded and "was written as 'shapes'" in recorded
    monkeypatch.undo()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run_train(None, resume=tmp_path / "run")["epochs"] == 3


def test_a_checkpoint_of_another_optimizer_is_refused(tmp_path):
    cfg = config(tmp_path)
    prepared = prepare(cfg)
    rows = holdout_split(cfg, prepared.dataset.labels)
    checkpoint = tmp_path / "checkpoint.npz"
    with pytest.raises(Interrupted):
        train_model(cfg, prepared, *rows, checkpoint=checkpoint, stop=StopAfter(3))
    adam = config(tmp_path, optimizer="adam")
    with pytest.raises(ArtifactError, match="does not match this network and optimizer"):
        train_model(adam, prepared, *rows, checkpoint=checkpoint)
