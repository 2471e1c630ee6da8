"""k-fold's selection and holdout, with data built so that a wrong choice shows: the best fold by
validation differs from the best by training (and by loss), and the holdout rows stay out of
every fold's training, validation and standardization, and are scored with the right model."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config

from mlpcli.cli import cli
from mlpcli.config import from_dict
from mlpcli.kfold import select as kfold_select
from mlpcli.kfold.run import fold_dirs, plan_kfold, train_folds
from mlpcli.kfold.select import holdout_scores, load_folds
from mlpcli.units import training as unit_training

# Per fold 1, 2, 3: fold 2 is best on validation accuracy, fold 1 on training accuracy and fold 3
# on validation loss, so a selection by any of the wrong numbers picks another fold.
VAL_ACCURACY, TRAIN_ACCURACY, VAL_LOSS = [0.5, 0.9, 0.7], [0.99, 0.6, 0.8], [1.0, 0.9, 0.2]


def test_select_best_picks_the_fold_with_the_best_validation_accuracy(tmp_path, monkeypatch):
    """``kfold --select best`` end to end, with each fold's recorded scores set as above. Fails if
    the selection ranks folds by training accuracy, by validation loss, or copies another fold."""
    real = kfold_select.read_metrics

    def rigged(directory):
        metrics = real(directory)
        fold = int(directory.name.rsplit("_", 1)[1]) - 1
        metrics["val"]["accuracy"], metrics["val"]["loss"] = VAL_ACCURACY[fold], VAL_LOSS[fold]
        metrics["train"]["accuracy"] = TRAIN_ACCURACY[fold]
        return metrics

    monkeypatch.setattr(kfold_select, "read_metrics", rigged)
    config = write_config(tmp_path / "c.yaml")
    result = CliRunner().invoke(
        cli,
        ["kfold", "--config", str(config), "--k", "3", "--select", "best", "--out", str(tmp_path / "run"), "--json"],
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["fold_accuracies"] == VAL_ACCURACY and summary["best_fold"] == 2
    chosen = (tmp_path / "run" / "weights.npz").read_bytes()
    assert chosen == (tmp_path / "run" / "folds" / "fold_2" / "weights.npz").read_bytes()
    assert chosen != (tmp_path / "run" / "folds" / "fold_1" / "weights.npz").read_bytes()


def small(tmp_path, holdout=0.25):
    return from_dict(
        {
            "seed": 4,
            "data": {"format": "synthetic", "n_per_class": 20, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
            "model": {"hidden": [8]},
            "train": {"epochs": 2, "batch_size": 16, "lr": 0.05},
            "kfold": {"holdout": holdout},
            "output": {"dir": str(tmp_path / "runs")},
        }
    )


def test_holdout_rows_never_reach_a_folds_rows_or_its_standardization(tmp_path, monkeypatch):
    """Every fold trains and validates on rows outside ``kfold.holdout``, and its standardization
    is fitted on its training rows (holdout excluded). Fails if the training rows of a fold are
    "all rows but the fold's" (``np.arange(n)`` instead of the non-holdout pool)."""
    seen = []
    real = unit_training.train_model

    def spy(config, prepared, train_rows, val_rows, *args, **kwargs):
        seen.append((np.array(train_rows), np.array(val_rows)))
        return real(config, prepared, train_rows, val_rows, *args, **kwargs)

    monkeypatch.setattr(unit_training, "train_model", spy)
    plan = plan_kfold(small(tmp_path), k=3)
    X, n = plan.prepared[0].X, len(plan.prepared[0].X)
    assert len(plan.holdout) == n // 4
    assert np.array_equal(np.sort(np.concatenate([*plan.folds, plan.holdout])), np.arange(n))
    dirs = fold_dirs(tmp_path / "run", plan)
    train_folds(plan, dirs)
    assert len(seen) == 3
    for (train_rows, val_rows), fold, (predictor, _) in zip(seen, plan.folds, load_folds(dirs)[0]):
        assert np.array_equal(val_rows, fold)
        assert not np.intersect1d(train_rows, plan.holdout).size and not np.intersect1d(val_rows, plan.holdout).size
        assert np.array_equal(np.sort(np.concatenate([train_rows, val_rows, plan.holdout])), np.arange(n))
        np.testing.assert_allclose(predictor.standardizer.mean, X[train_rows].mean(axis=0), atol=1e-6)
        with_holdout = np.union1d(train_rows, plan.holdout)
        assert not np.allclose(predictor.standardizer.mean, X[with_holdout].mean(axis=0), atol=1e-6)


class FixedPredictions:
    """A fold model that predicts ``predicted`` (n_samples,) whatever the features."""

    def __init__(self, predicted, n_classes=2):
        self.probabilities = np.eye(n_classes)[predicted]
        self.class_names, self.image_size, self.features, self.dtype, self.states = ("a", "b"), (4, 4), (), "f4", ()
        self.preprocess, self.tta = None, "none"

    def predict_proba_features(self, X, rows=None):
        return self.probabilities.copy()


def test_the_holdouts_best_fold_accuracy_is_that_folds_model(tmp_path):
    """Fold models that get 1, 3 and 2 of the 4 holdout images right; with best_fold 2 the
    holdout's best-fold accuracy is 3/4. Fails if it is scored with another fold's model
    (``fold_models[best_fold]``, off by one, or the first fold)."""
    labels = np.array([0, 1, 0, 1, 1, 0])
    holdout = np.array([1, 2, 4, 5])  # labels 1, 0, 1, 0
    plan = SimpleNamespace(holdout=holdout)
    prepared = SimpleNamespace(X=np.zeros((6, 3)), dataset=SimpleNamespace(labels=labels))
    folds = [(FixedPredictions(p), {}) for p in ([1, 1, 0, 1], [1, 0, 1, 1], [1, 0, 0, 1])]
    scores = holdout_scores(plan, prepared, folds, best_fold=2)
    assert scores["n"] == 4 and scores["best_fold_accuracy"] == pytest.approx(3 / 4)
    # The ensemble (mean probabilities) predicts 1, 0, 0, 1 -> 2 of 4 right.
    assert scores["ensemble_accuracy"] == pytest.approx(2 / 4)
