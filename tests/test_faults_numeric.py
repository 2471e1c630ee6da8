"""Numeric faults: non-finite inputs, zero-variance features, a learning rate that explodes
(issue 6, part 5). Each gets a clear error with exit 1, or a documented safe handling; a model with
non-finite weights is never saved (and is refused if one is found)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config

from mlpcli.artifacts import load_model
from mlpcli.cli import cli
from mlpcli.commands import run_train
from mlpcli.config import from_dict
from mlpcli.data.npz import load_npz
from mlpcli.errors import DataError, TrainingDiverged
from mlpcli.features.standardize import MIN_STD, Standardizer, check_finite

MODEL_FILES = ("model.json", "weights.npz")


def small_config(tmp_path, **sections):
    raw = {
        "seed": 1,
        "data": {
            "format": "synthetic",
            "n_per_class": 8,
            "image_size": 8,
            "val_fraction": 0.25,
            "cache_dir": str(tmp_path / "cache"),
        },
        "model": {"hidden": [8]},
        "train": {"epochs": 2, "batch_size": 8, "lr": 0.05},
        "output": {"dir": str(tmp_path / "runs")},
    }
    for section, values in sections.items():
        raw[section] = {**raw.get(section, {}), **values}
    return from_dict(raw)


# --- non-finite inputs --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_images_in_an_npz_are_refused_with_a_remedy(tmp_path, dtype):
    images = np.full((4, 8, 8, 3), 0.5, dtype)
    images[0, 0, 0, 0] = np.nan
    np.savez(tmp_path / "d.npz", images=images, labels=np.array([0, 1, 0, 1]))
    with pytest.raises(
        DataError,
        match=rf"d.npz: 'images' must be \(n, height, width, 3\) uint8, got "
        rf"\(4, 8, 8, 3\) {np.dtype(dtype).name} \(pixels are stored as 0..255",
    ):
        load_npz(tmp_path / "d.npz")


def test_an_empty_npz_is_refused(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.zeros((0, 8, 8, 3), np.uint8), labels=np.zeros(0, np.int64))
    with pytest.raises(DataError, match="holds no images"):
        load_npz(tmp_path / "d.npz")


def test_npz_class_names_must_be_strings(tmp_path):
    np.savez(
        tmp_path / "d.npz",
        images=np.zeros((2, 8, 8, 3), np.uint8),
        labels=np.array([0, 1]),
        class_names=np.array([[1, 2]]),
    )
    with pytest.raises(DataError, match="'class_names' must be a 1-D array of strings"):
        load_npz(tmp_path / "d.npz")


def test_check_finite_passes_finite_and_integer_matrices():
    check_finite(np.zeros((5, 3), np.float32), "x")
    check_finite(np.arange(12).reshape(4, 3), "x")
    check_finite(np.empty((0, 3)), "x")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_names_the_source_the_count_and_the_first_sample(bad):
    X = np.ones((10, 4), np.float32)
    X[7, 2] = bad
    X[9, 0] = bad
    with pytest.raises(DataError) as info:
        check_finite(X, "features of data/x.npz", chunk=3)  # the bad rows lie in later chunks
    message = str(info.value)
    assert message.startswith("features of data/x.npz: 2 sample(s) have non-finite values")
    assert "the first is sample 7 at feature 2" in message and str(bad) in message


# --- zero variance ------------------------------------------------------------------------------


def test_a_constant_feature_is_centred_not_divided_by_zero():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3)).astype(np.float32)
    X[:, 1] = 7.0
    X[:, 2] = 1e-9 * rng.standard_normal(50)  # below MIN_STD: treated as constant too
    standardizer = Standardizer.fit(X)
    assert standardizer.std[1] == 1.0 and standardizer.std[2] == 1.0 and standardizer.std[0] > MIN_STD
    Z = standardizer.transform(X.copy())
    assert np.isfinite(Z).all()
    np.testing.assert_array_equal(Z[:, 1], 0.0)
    assert abs(Z[:, 0].mean()) < 1e-5 and abs(Z[:, 0].std() - 1) < 1e-4


def test_a_data_set_of_identical_images_trains_without_nan(tmp_path):
    images = np.full((12, 8, 8, 3), 123, np.uint8)
    np.savez(tmp_path / "same.npz", images=images, labels=np.arange(12) % 3)
    config = small_config(tmp_path, data={"format": "npz", "path": str(tmp_path / "same.npz")})
    summary = run_train(config, "same", out=tmp_path / "run", use_cache=False)
    assert np.isfinite(summary["train_loss"]) and np.isfinite(summary["val_loss"])
    model = load_model(tmp_path / "run")  # refuses non-finite weights, so loading proves them finite
    assert (model.standardizer.std == 1).all()
    probabilities = model.predict_proba(images[:2])
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


# --- an exploding learning rate -----------------------------------------------------------------


def test_an_exploding_learning_rate_raises_training_diverged_and_saves_no_model(tmp_path):
    config = small_config(tmp_path, train={"lr": 1e6, "epochs": 5})
    with pytest.raises(TrainingDiverged, match=r"training diverged at epoch \d+ \(loss=(nan|inf)\); lower train.lr"):
        run_train(config, "boom", out=tmp_path / "run", use_cache=False)
    assert not any((tmp_path / "run" / name).exists() for name in MODEL_FILES)


def test_an_exploding_learning_rate_exits_1_via_the_cli(tmp_path):
    config = write_config(tmp_path / "c.yaml", train={"lr": 1e6, "epochs": 5})
    result = CliRunner().invoke(cli, ["train", "--config", str(config), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert "\nerror: training diverged" in "\n" + result.stderr and "lower train.lr (now 1e+06)" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not any((tmp_path / "run" / name).exists() for name in MODEL_FILES)


def test_weights_made_non_finite_by_the_last_update_are_never_saved(tmp_path):
    """The loss is checked before each update, so only the weights show that the very last update
    blew up: one full-batch step whose loss is finite but whose update is not."""
    config = small_config(
        tmp_path, data={"val_fraction": 0.0}, train={"lr": 1e300, "epochs": 1, "batch_size": "full", "momentum": 0.0}
    )
    with pytest.raises(TrainingDiverged, match="lower train.lr"):
        run_train(config, "last-step", out=tmp_path / "run", use_cache=False)
    assert not any((tmp_path / "run" / name).exists() for name in MODEL_FILES)


def test_a_saved_model_with_non_finite_weights_is_refused(tmp_path):
    config = small_config(tmp_path)
    run_train(config, "ok", out=tmp_path / "run", use_cache=False)
    with np.load(tmp_path / "run" / "weights.npz", allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    arrays["network/2.W"][0, 0] = np.nan
    np.savez(tmp_path / "run" / "weights.npz", **arrays)
    result = CliRunner().invoke(cli, ["evaluate", "--model", str(tmp_path / "run"), "--data", str(tmp_path)])
    assert result.exit_code == 1 and "contains non-finite values; the model is unusable" in result.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["train"]["n"] > 0
