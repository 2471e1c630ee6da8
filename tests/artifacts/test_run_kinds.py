"""Every kind of run directory works with show, predict, evaluate and --resume: train, kfold
(ensemble and best fold), kfold --grid, and interrupted train and kfold runs."""

import numpy as np
import pytest
from conftest import stopping_after, write_config

from mlpcli.artifacts import rundir
from mlpcli.commands import run_evaluate, run_kfold, run_predict, run_show, run_synth, run_train
from mlpcli.config import load_config
from mlpcli.errors import ArtifactError, Interrupted


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes") / "shapes"
    run_synth(folder, n_per_class=3, size=16, seed=9)
    return folder


def finished_run(tmp_path, kind):
    config = load_config(write_config(tmp_path / "c.yaml"))
    out = tmp_path / "run"
    if kind == "train":
        run_train(config, out=out)
    elif kind == "grid":
        run_kfold(config, k=2, grid=["train.lr=0.05,0.01"], out=out)
    else:
        run_kfold(config, k=2, select=kind.split("-")[1], out=out)
    return out


@pytest.mark.parametrize("kind", ["train", "kfold-ensemble", "kfold-best", "grid"])
def test_finished_runs_show_predict_and_evaluate(tmp_path, shapes, kind):
    run = finished_run(tmp_path, kind)
    summary = run_show(run)
    assert summary["kind"] == ("train" if kind == "train" else "kfold")
    assert summary["interrupted"] is None
    if kind != "train":
        assert [fold["fold"] for fold in summary["kfold"]["folds"]] == [1, 2]
        assert summary["epochs"] == [3, 3]
    if kind == "grid":
        assert len(summary["kfold"]["grid"]) == 2
        assert (run / rundir.BEST_CONFIG).is_file()
    if summary["hint"] is None:  # matplotlib installed: curves from the (selected) folds
        assert any(path.endswith("learning_curves.png") for path in summary["pictures"])
    predictions = run_predict([shapes], run)["predictions"]
    assert len(predictions) == 12 and all(0 <= p["probability"] <= 1 for p in predictions)
    assert run_predict([shapes], run / rundir.MODEL)["predictions"] == predictions
    assert run_evaluate(run, shapes)["n"] == 12


def test_interrupted_train_run_is_shown_refused_by_predict_and_resumed(tmp_path, shapes, monkeypatch):
    config = load_config(write_config(tmp_path / "c.yaml"))
    reference = run_train(config, out=tmp_path / "reference")
    monkeypatch.setattr("mlpcli.train.stop.graceful_stop", stopping_after(5))
    with pytest.raises(Interrupted, match="--resume"):
        run_train(config, out=tmp_path / "run")
    summary = run_show(tmp_path / "run")
    assert summary["kind"] == "interrupted"
    assert summary["interrupted"]["resume"] == f"mlpcli train --resume {tmp_path / 'run'}"
    assert summary["interrupted"]["epoch"] >= 1
    with pytest.raises(ArtifactError, match="model.json is missing"):
        run_predict([shapes], tmp_path / "run")
    monkeypatch.undo()
    resumed = run_train(None, resume=tmp_path / "run")
    assert resumed["val_accuracy"] == reference["val_accuracy"]
    assert run_show(tmp_path / "run")["kind"] == "train"
    with pytest.raises(ArtifactError, match="already finished"):
        run_train(None, resume=tmp_path / "run")


def test_kfold_resume_skips_finished_folds_and_gives_the_same_weights(tmp_path, monkeypatch):
    """Stop during fold 2 (fold 1 finished): the resumed run retrains only fold 2 and ends with
    the same bytes as an uninterrupted run."""
    config = load_config(write_config(tmp_path / "c.yaml"))
    run_kfold(config, k=2, out=tmp_path / "reference")
    batches_per_fold = 3 * int(np.ceil(60 / 16))  # 3 epochs of 60 training rows in batches of 16
    monkeypatch.setattr("mlpcli.units.inline.graceful_stop", stopping_after(batches_per_fold + 10))
    with pytest.raises(Interrupted, match="finished folds are kept"):
        run_kfold(config, k=2, out=tmp_path / "run")
    summary = run_show(tmp_path / "run")
    assert summary["kind"] == "interrupted" and summary["interrupted"]["folds_finished"] == 1
    monkeypatch.undo()
    trained = []
    import mlpcli.units.training as unit_training

    original = unit_training.train_model
    monkeypatch.setattr(
        unit_training, "train_model", lambda *a, **kw: trained.append(kw["label"]) or original(*a, **kw)
    )
    run_kfold(None, resume=tmp_path / "run")
    assert trained == ["fold 2/2"]
    for fold in ("fold_1", "fold_2"):
        ours = (tmp_path / "run" / "folds" / fold / rundir.WEIGHTS).read_bytes()
        assert ours == (tmp_path / "reference" / "folds" / fold / rundir.WEIGHTS).read_bytes(), fold


def test_show_prints_aligned_text_not_python_reprs(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mlpcli.cli import cli

    config = load_config(write_config(tmp_path / "c.yaml"))
    monkeypatch.setattr("mlpcli.train.stop.graceful_stop", stopping_after(5))
    with pytest.raises(Interrupted):
        run_train(config, out=tmp_path / "run")
    text = CliRunner().invoke(cli, ["show", str(tmp_path / "run")]).stdout
    assert "{" not in text and "'" not in text.replace("don't", "")
    assert "status     interrupted at epoch" in text and f"mlpcli train --resume {tmp_path / 'run'}" in text
    assert "model      hidden [16], activation relu" in text
