import math

import numpy as np
import pytest

from mlpcli.config import from_dict
from mlpcli.errors import TrainingDiverged
from mlpcli.features.standardize import Standardizer
from mlpcli.train.fit import holdout_split, prepare, train_model


def make_config(tmp_path, **train):
    return from_dict(
        {
            "seed": 1,
            "data": {"format": "synthetic", "n_per_class": 30, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
            "model": {"hidden": [8]},
            "train": {"epochs": 4, "batch_size": 16, "lr": 0.05, **train},
        }
    )


def fit(config):
    prepared = prepare(config)
    train_rows, val_rows = holdout_split(config, prepared.dataset.labels)
    return prepared, train_model(config, prepared, train_rows, val_rows)


def test_history_has_one_row_per_epoch_and_metrics_name_their_split(tmp_path):
    _, trained = fit(make_config(tmp_path))
    assert [row["epoch"] for row in trained.history.epochs] == [1, 2, 3, 4]
    assert set(trained.metrics) >= {"train", "val", "epochs", "seconds"}
    assert trained.metrics["train"]["n"] + trained.metrics["val"]["n"] == 120
    assert all(0 <= trained.metrics[s]["accuracy"] <= 1 for s in ("train", "val"))


def test_same_seed_gives_identical_weights(tmp_path):
    first = fit(make_config(tmp_path))[1].predictor.network.state_dict()
    second = fit(make_config(tmp_path))[1].predictor.network.state_dict()
    other = fit(from_dict({**_raw(tmp_path), "seed": 2}))[1].predictor.network.state_dict()
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert not all(np.array_equal(first[k], other[k]) for k in first)


def _raw(tmp_path):
    return {
        "data": {"format": "synthetic", "n_per_class": 30, "image_size": 12, "cache_dir": str(tmp_path / "c")},
        "model": {"hidden": [8]},
        "train": {"epochs": 4, "batch_size": 16, "lr": 0.05},
    }


def test_full_batch_takes_one_step_per_epoch(tmp_path, monkeypatch):
    from mlpcli.train import loop as train_module

    steps = []
    original = train_module.Trainer._step
    monkeypatch.setattr(
        train_module.Trainer,
        "_step",
        lambda self, X, y, rows, *rest: steps.append(len(rows)) or original(self, X, y, rows, *rest),
    )
    fit(make_config(tmp_path, batch_size="full", epochs=2))
    assert steps == [96, 96]  # 120 images, 20% held out


def test_divergence_stops_with_a_hint(tmp_path):
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch \d+ \(loss=(nan|inf)\); lower train.lr"):
        fit(make_config(tmp_path, lr=1e6, momentum=0.0, epochs=5))


def test_early_stopping_restores_the_best_epoch(tmp_path):
    config = make_config(tmp_path, epochs=30, patience=2, lr=0.5)
    _, trained = fit(config)
    history = trained.history
    best = max(row["val_accuracy"] for row in history.epochs)
    assert history.epochs[history.best_epoch - 1]["val_accuracy"] == best
    assert math.isclose(trained.metrics["val"]["accuracy"], best)
    # lr 0.5 on this small set stops improving within a few epochs: the 30 are never all run.
    assert history.stopped_early and len(history.epochs) == history.best_epoch + 2 < 30


def test_val_every_validates_every_nth_and_the_last_epoch_and_trains_the_same_weights(tmp_path):
    every = fit(make_config(tmp_path, epochs=7, ema=0.9))[1]
    sparse = fit(make_config(tmp_path, epochs=7, ema=0.9, val_every=3))[1]
    validated = [row["epoch"] for row in sparse.history.epochs if math.isfinite(row["val_accuracy"])]
    assert validated == [3, 6, 7]
    assert all(math.isnan(row["val_loss"]) for row in sparse.history.epochs if row["epoch"] not in validated)
    for epoch in validated:  # the same scores where both validated: validation changes nothing
        assert sparse.history.epochs[epoch - 1] | {"seconds": 0} == every.history.epochs[epoch - 1] | {"seconds": 0}
    weights, same = every.predictor.network.state_dict(), sparse.predictor.network.state_dict()
    assert all(np.array_equal(weights[k], same[k]) for k in weights)
    assert sparse.metrics["val"] == every.metrics["val"]


def test_early_stopping_counts_validations_with_val_every(tmp_path):
    _, trained = fit(make_config(tmp_path, epochs=40, patience=2, lr=0.5, val_every=2))
    history = trained.history
    validated = [row for row in history.epochs if math.isfinite(row["val_accuracy"])]
    assert [row["epoch"] for row in validated] == list(range(2, len(history.epochs) + 1, 2))
    best = max(row["val_accuracy"] for row in validated)
    assert history.epochs[history.best_epoch - 1]["val_accuracy"] == best
    assert math.isclose(trained.metrics["val"]["accuracy"], best)
    # Two validations without a gain are four epochs after the best.
    assert history.stopped_early and len(history.epochs) == history.best_epoch + 4 < 40


def test_schedule_is_applied_per_epoch(tmp_path):
    _, trained = fit(make_config(tmp_path, schedule="step", step_size=2, gamma=0.5))
    assert [row["lr"] for row in trained.history.epochs] == [0.05, 0.05, 0.025, 0.025]


def test_standardizer_uses_only_the_given_rows():
    X = np.array([[0.0, 5.0], [2.0, 5.0], [100.0, 7.0]], dtype=np.float32)
    fitted = Standardizer.fit(X, np.array([0, 1]))
    np.testing.assert_allclose(fitted.mean, [1.0, 5.0])
    np.testing.assert_allclose(fitted.std, [1.0, 1.0])  # constant column: std replaced by 1
    assert fitted.transform(X).dtype == np.float32


def test_float64_config_trains_in_float64(tmp_path):
    config = from_dict({**_raw(tmp_path), "model": {"hidden": [8], "dtype": "float64"}})
    prepared, trained = fit(config)
    assert prepared.X.dtype == np.float64
    assert all(v.dtype == np.float64 for v in trained.predictor.network.state_dict().values())


def test_quickstart_recipe_learns_the_shapes(tmp_path):
    """The quickstart's recipe on a smaller set still learns far above chance (25%)."""
    config = from_dict(
        {
            "seed": 0,
            "data": {"format": "synthetic", "n_per_class": 300, "cache_dir": str(tmp_path)},
            "model": {"hidden": [64], "weight_decay": 0.001},
            "train": {"epochs": 8, "batch_size": 64, "lr": 0.01, "schedule": "cosine"},
        }
    )
    _, trained = fit(config)
    assert trained.metrics["val"]["accuracy"] > 0.45
