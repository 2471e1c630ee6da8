"""Adam, dropout, batch normalization, warmup and label smoothing as the trainer runs them."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config

from mlpcli.artifacts import load_model, save_model
from mlpcli.cli import cli
from mlpcli.config import from_dict
from mlpcli.errors import ArtifactError, ConfigError
from mlpcli.nn import SCHEDULES, BatchNorm, Dropout, softmax_cross_entropy, with_warmup
from mlpcli.train.fit import build_network, holdout_split, prepare, train_model
from mlpcli.train.recipe import batch_bounds

REGULARIZED = {
    "model": {"hidden": [12, 8], "dropout": 0.3, "batchnorm": True},
    "train": {"optimizer": "adam", "lr": 0.01, "epochs": 3, "batch_size": 16},
}


def config(tmp_path, e2e=False, **sections):
    raw = {
        "seed": 4,
        "data": {"format": "synthetic", "n_per_class": 20, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
    }
    for section, values in {**REGULARIZED, **sections}.items():
        raw[section] = {**REGULARIZED.get(section, {}), **values}
    if e2e:
        blocks = [{"filters": 4, "kernel": 3, "pool": 2}]
        raw.update(mode="end_to_end", extractor={"blocks": blocks, "batchnorm": True, **raw.get("extractor", {})})
    return from_dict(raw)


def trained(cfg):
    prepared = prepare(cfg)
    return train_model(cfg, prepared, *holdout_split(cfg, prepared.dataset.labels)), prepared


def test_the_keys_build_the_documented_layers(tmp_path):
    network = build_network(config(tmp_path, e2e=True), 432, 4, (12, 12, 3), np.random.default_rng(0))
    kinds = [type(layer).__name__ for layer in network.layers]
    assert kinds == [
        "ImageReshape",
        "Conv2D",
        "BatchNorm",
        "MaxPool2D",
        "ReLU",
        "Flatten",
        "Linear",
        "BatchNorm",
        "ReLU",
        "Dropout",
        "Linear",
        "BatchNorm",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    # A bias before BatchNorm would have a zero gradient; the output layer keeps its own.
    assert [("b" in layer.params) for layer in network.layers if "W" in layer.params] == [False, False, False, True]
    assert all(layer.p == 0.3 for layer in network.layers if isinstance(layer, Dropout))


def test_norm_after_pool_reaches_the_extractor(tmp_path):
    cfg = config(tmp_path, e2e=True, extractor={"norm_after_pool": True})
    network = build_network(cfg, 432, 4, (12, 12, 3), np.random.default_rng(0))
    kinds = [type(layer).__name__ for layer in network.layers[:6]]
    assert kinds == ["ImageReshape", "Conv2D", "MaxPool2D", "BatchNorm", "ReLU", "Flatten"]


def test_prediction_is_deterministic_and_dropout_free(tmp_path):
    result, prepared = trained(config(tmp_path, model={"dropout": 0.5}))
    predictor = result.predictor
    images = prepared.dataset.images[:10]
    first = predictor.predict_proba(images)
    np.testing.assert_array_equal(first, predictor.predict_proba(images))
    # Without its Dropout layers the network predicts exactly the same: dropout is the identity.
    network = predictor.network
    network.layers = [layer for layer in network.layers if not isinstance(layer, Dropout)]
    np.testing.assert_array_equal(first, predictor.predict_proba(images))
    # ...and at training time it does drop: two forward passes differ.
    x = np.ones((4, network.layers[0].params["W"].shape[0]), np.float32)
    dropping = Dropout(0.5)
    dropping.rng = np.random.default_rng(0)
    assert not np.array_equal(dropping.forward(x, training=True), dropping.forward(x, training=True))


def test_batchnorm_predicts_with_its_running_statistics(tmp_path):
    result, prepared = trained(config(tmp_path, model={"dropout": 0.0, "hidden": [6]}))
    network = result.predictor.network
    norm = next(layer for layer in network.layers if isinstance(layer, BatchNorm))
    assert not np.allclose(norm.buffers["running_mean"], 0)  # training moved them
    x = np.random.default_rng(1).standard_normal((5, network.layers[0].params["W"].shape[0])).astype(np.float32)
    hidden = x @ network.layers[0].params["W"]
    expected = (hidden - norm.buffers["running_mean"]) / np.sqrt(norm.buffers["running_var"] + norm.eps)
    expected = expected * norm.params["gamma"] + norm.params["beta"]
    np.testing.assert_allclose(norm.forward(hidden, training=False), expected, rtol=1e-5, atol=1e-6)
    # Per sample: a row's scores do not depend on the rest of the batch (up to BLAS rounding).
    before = network.forward(x, training=False)
    np.testing.assert_allclose(network.forward(x[:1], training=False), before[:1], rtol=1e-5, atol=1e-6)
    norm.buffers["running_mean"] += 1  # the prediction follows the buffers
    assert not np.allclose(network.forward(x, training=False), before, rtol=1e-3, atol=1e-4)


def test_a_saved_model_predicts_the_same_probabilities(tmp_path):
    result, prepared = trained(config(tmp_path, e2e=True, train={"optimizer": "adamw"}))
    save_model(tmp_path / "model", result.predictor)
    loaded = load_model(tmp_path / "model")
    images = prepared.dataset.images[:12]
    np.testing.assert_array_equal(loaded.predict_proba(images), result.predictor.predict_proba(images))
    saved = loaded.network.state_dict()
    assert any(key.endswith("running_var") for key in saved)
    for key, value in result.predictor.network.state_dict().items():
        np.testing.assert_array_equal(saved[key], value)


def _bundle_with_batchnorm(tmp_path):
    result, _ = trained(config(tmp_path, model={"hidden": [6], "dropout": 0.0}))
    save_model(tmp_path / "model", result.predictor)
    return tmp_path / "model"


def _rewrite_weights(directory, key, change):
    with np.load(directory / "weights.npz", allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays[key] = change(arrays[key])
    np.savez(directory / "weights.npz", **arrays)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.astype(np.float64), r"running_var.npy is \(6,\) float64, expected \(6,\) float32"),
        (lambda a: np.append(a, 1.0).astype(a.dtype), r"running_var.npy is \(7,\)"),
        (lambda a: -a, "negative running_var"),
    ],
)
def test_the_model_schema_refuses_tampered_buffers(tmp_path, change, message):
    directory = _bundle_with_batchnorm(tmp_path)
    _rewrite_weights(directory, "network/1.running_var", change)
    with pytest.raises(ArtifactError, match=message):
        load_model(directory)


def test_the_model_schema_refuses_a_buffer_in_another_dtype(tmp_path):
    directory = _bundle_with_batchnorm(tmp_path)
    meta = json.loads((directory / "model.json").read_text())
    meta["architecture"][1]["dtype"] = "float64"
    (directory / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="layer 1 stores .* as float64"):
        load_model(directory)


def test_a_last_batch_of_one_sample_joins_the_batch_before(tmp_path):
    assert batch_bounds(33, 16, merge_single=True) == [(0, 16), (16, 33)]
    assert batch_bounds(33, 16, merge_single=False) == [(0, 16), (16, 32), (32, 33)]
    assert batch_bounds(34, 16, merge_single=True) == [(0, 16), (16, 32), (32, 34)]
    assert batch_bounds(1, 16, merge_single=True) == [(0, 1)]
    cfg = config(
        tmp_path, data={"n_per_class": 20, "val_fraction": 0.2, "image_size": 12, "cache_dir": str(tmp_path / "cache")}
    )
    prepared = prepare(cfg)
    train_rows, val_rows = holdout_split(cfg, prepared.dataset.labels)
    batch = len(train_rows) - 1  # the epoch would end with one sample
    cfg = from_dict({**_as_raw(cfg), "train": {**REGULARIZED["train"], "batch_size": batch}})
    result = train_model(cfg, prepared, train_rows, val_rows)
    assert len(result.history.epochs) == 3


def _as_raw(cfg):
    from mlpcli.config import to_dict

    return to_dict(cfg)


def test_warmup_and_label_smoothing_reach_the_trainer(tmp_path):
    cfg = config(
        tmp_path,
        model={"label_smoothing": 0.2, "dropout": 0.0, "batchnorm": False},
        train={"epochs": 5, "warmup_epochs": 2, "schedule": "cosine", "lr": 0.1},
    )
    result, prepared = trained(cfg)
    schedule = with_warmup(SCHEDULES["cosine"], 2)
    assert [r["lr"] for r in result.history.epochs] == [schedule(0.1, e, 5, 10, 0.1) for e in range(5)]
    # Validation uses plain cross-entropy; training minimizes the smoothed one.
    _, val_rows = holdout_split(cfg, prepared.dataset.labels)
    probabilities = result.predictor.predict_proba(prepared.dataset.images[val_rows])
    labels = prepared.dataset.labels[val_rows]
    plain = -np.mean(np.log(probabilities[np.arange(len(labels)), labels]))
    assert result.metrics["val"]["loss"] == pytest.approx(plain, rel=1e-4)
    scores = np.log(probabilities)
    assert softmax_cross_entropy(scores, labels, 0.2)[0] != pytest.approx(plain, rel=1e-3)


@pytest.mark.parametrize(
    "section, message",
    [
        ({"train": {"optimizer": "rmsprop"}}, "train.optimizer: must be one of sgd, adam, adamw"),
        ({"train": {"betas": [0.9]}}, r"train.betas: must be two numbers in \[0, 1\)"),
        ({"train": {"betas": [0.9, 1.0]}}, r"train.betas\[1\]"),
        ({"train": {"optimizer": "adam", "nesterov": True}}, "train.nesterov: only used with optimizer sgd"),
        # one rule for SGD's keys (issue 21 item 8: momentum with Adam was accepted silently)
        ({"train": {"optimizer": "adamw", "momentum": 0.5}}, "train.momentum: only used with optimizer sgd"),
        ({"model": {"loss": "squared", "label_smoothing": 0.1}}, "model.label_smoothing: only used with loss softmax"),
        ({"model": {"dropout": 1.0}}, "model.dropout: must be a number >= 0.0 and <= 0.95"),
        ({"model": {"batchnorm": True}, "train": {"batch_size": 1}}, "batch normalization needs at least 2"),
        ({"train": {"warmup_epochs": -1}}, "train.warmup_epochs: must be an integer >= 0"),
        (
            {"mode": "end_to_end", "extractor": {"norm_after_pool": True}},
            "extractor.norm_after_pool: only used with extractor.batchnorm: true",
        ),
    ],
)
def test_bad_combinations_are_config_errors(section, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(section)


def test_sgd_keys_at_their_defaults_pass_with_adam():
    """A config switched to Adam by ``--set train.optimizer=adam`` keeps working when it spells out
    SGD's defaults (the quickstart sets momentum: 0.9)."""
    assert from_dict({"train": {"optimizer": "adam", "momentum": 0.9, "nesterov": False}}).train.optimizer == "adam"


def test_gradcheck_cli_checks_dropout_batchnorm_and_adamw(tmp_path):
    path = write_config(
        tmp_path / "c.yaml",
        data={"image_size": 12},
        mode="end_to_end",
        extractor={"blocks": [{"filters": 4, "kernel": 3, "pool": 2}], "batchnorm": True},
        model={"hidden": [6, 5], "dropout": 0.3, "batchnorm": True, "weight_decay": 0.01, "label_smoothing": 0.1},
        train={"optimizer": "adamw", "epochs": 3, "batch_size": 16, "lr": 0.05},
    )
    result = CliRunner().invoke(cli, ["gradcheck", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] and data["max_relative_error"] < 1e-6
    assert {"2.gamma", "7.gamma", "11.beta"} <= set(data["relative_errors"])


def _weights(result) -> list:
    """The parameters in layer order (Dropout layers shift the layer numbers, not the weights)."""
    return list(result.predictor.network.state_dict().values())


@pytest.mark.parametrize("model", [{"label_smoothing": 0.2}, {"dropout": 0.3}])
def test_smoothing_and_dropout_change_what_training_learns(tmp_path, model):
    """Two runs that differ only in the setting end with different weights. Fails if the trainer
    drops the setting: ``training_loss`` returning the plain loss, Dropout layers left out, or the
    forward pass run with ``training=False`` while training."""
    plain = {"label_smoothing": 0.0, "dropout": 0.0, "batchnorm": False}
    runs = [trained(config(tmp_path, model={**plain, **extra}))[0] for extra in ({}, model)]
    first, second = (_weights(r) for r in runs)
    assert [w.shape for w in first] == [w.shape for w in second]
    assert any(not np.array_equal(a, b) for a, b in zip(first, second))


def test_the_training_step_minimizes_the_smoothed_loss_on_a_fixed_batch(tmp_path):
    """The loss of one training step is the smoothed cross-entropy of the scores before it, not the
    plain one. Fails if the Trainer takes ``LOSSES[model.loss]`` instead of ``training_loss``."""
    from mlpcli.features.standardize import Standardizer
    from mlpcli.train.loop import Trainer

    cfg = config(tmp_path, model={"label_smoothing": 0.2, "dropout": 0.0, "batchnorm": False})
    prepared = prepare(cfg)
    X, y, rows = prepared.X, prepared.dataset.labels, np.arange(0, 80, 5)
    network = build_network(cfg, X.shape[1], 4, prepared.image_shape, np.random.default_rng(0))
    standardizer = Standardizer.fit(X)
    rngs = {name: np.random.default_rng(1) for name in ("shuffle", "augment", "dropout")}
    trainer = Trainer(network, standardizer, cfg.train, cfg.model, rngs)
    batch = standardizer.transform(X[rows].copy())
    scores = network.forward(batch, training=True)
    loss, _ = trainer._step(X, y, rows, np.empty_like(batch), cfg.train.lr)
    assert loss == pytest.approx(softmax_cross_entropy(scores, y[rows], 0.2)[0], rel=1e-5)
    assert loss != pytest.approx(softmax_cross_entropy(scores, y[rows])[0], rel=1e-3)
