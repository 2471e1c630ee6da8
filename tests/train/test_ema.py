"""``train.ema``: the weights' moving average is what training validates, keeps and saves.

Watched failing with the code broken on purpose: the update without the decay's warm-up (the
hand recurrence), the checkpoint without the ``ema/`` arrays (resume), validation on the raw
weights (the history then disagrees with the saved model).
"""

import numpy as np
import pytest
from conftest import StopAfter

from mlpcli.config import from_dict
from mlpcli.errors import Interrupted
from mlpcli.features.standardize import Standardizer
from mlpcli.nn import build_mlp
from mlpcli.train.fit import holdout_split, prepare, train_model
from mlpcli.train.loop import Trainer


def small_config(tmp_path, **train):
    return from_dict(
        {
            "seed": 5,
            "data": {"format": "synthetic", "n_per_class": 30, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
            "model": {"hidden": [8, 6], "batchnorm": True, "dropout": 0.2, "dtype": "float64"},
            "train": {"epochs": 3, "batch_size": 16, "lr": 0.05, "ema": 0.9, **train},
        }
    )


def hand_average(initial: dict, states: list[dict], decay: float) -> dict:
    """a_0 = initial; a_t = d_t a_(t-1) + (1 - d_t) w_t with d_t = min(decay, (1 + t) / (10 + t))."""
    average = {key: value.copy() for key, value in initial.items()}
    for t, state in enumerate(states, start=1):
        d = min(decay, (1 + t) / (10 + t))
        average = {key: d * average[key] + (1 - d) * state[key] for key in average}
    return average


@pytest.mark.parametrize("decay", [0.5, 0.99])
def test_average_after_k_steps_is_the_hand_recurrence(tmp_path, decay):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)), rng.integers(0, 3, 40)
    network = build_mlp(6, 3, [5], rng=rng, dtype="float64", batchnorm=True)
    initial = {key: value.copy() for key, value in network.state_dict().items()}
    cfg = small_config(tmp_path, ema=decay, epochs=2, batch_size=8, optimizer="sgd", momentum=0.9)
    rngs = {name: np.random.default_rng(i) for i, name in enumerate(("shuffle", "augment", "dropout"))}
    trainer = Trainer(network, Standardizer.fit(X, np.arange(40)), cfg.train, cfg.model, rngs)
    after_each_step, step = [], trainer.optimizer.step

    def recording(net, lr):
        step(net, lr)
        after_each_step.append({key: value.copy() for key, value in net.state_dict().items()})

    trainer.optimizer.step = recording
    trainer.fit(X, y, np.arange(32), np.arange(32, 40))
    assert len(after_each_step) == 8  # 2 epochs of 4 steps
    expected = hand_average(initial, after_each_step, decay)
    assert any(key.endswith("running_var") for key in expected)  # batch-norm statistics averaged too
    for key, value in network.state_dict().items():  # fit ends holding the average
        # float64; the code updates in place (a += (1 - d)(w - a)), the same up to rounding.
        np.testing.assert_allclose(value, expected[key], rtol=1e-12, atol=1e-14, err_msg=key)
        assert not np.allclose(value, after_each_step[-1][key]), key  # not the raw weights


@pytest.mark.parametrize(
    "train, stops",
    [
        ({}, [3]),  # mid-epoch 1
        ({}, [5, 2, 9]),  # three times, across epochs
        ({"patience": 1, "lr": 0.5}, [7]),  # early stopping keeps the averaged best
        ({"optimizer": "adamw", "lr": 0.01}, [4]),
    ],
)
def test_resume_with_ema_is_bit_identical(tmp_path, train, stops):
    cfg = small_config(tmp_path, **train)
    prepared = prepare(cfg)
    rows = holdout_split(cfg, prepared.dataset.labels)
    reference = train_model(cfg, prepared, *rows)
    checkpoint = tmp_path / "checkpoint.npz"
    for calls in stops:
        with pytest.raises(Interrupted):
            train_model(cfg, prepared, *rows, checkpoint=checkpoint, stop=StopAfter(calls))
    with np.load(checkpoint) as stored:
        assert "ema/steps" in stored.files and "ema/0.W" in stored.files
    resumed = train_model(cfg, prepared, *rows, checkpoint=checkpoint)
    for key, value in reference.predictor.network.state_dict().items():
        assert np.array_equal(value, resumed.predictor.network.state_dict()[key]), key
    assert resumed.history.epochs == [
        dict(r, seconds=s["seconds"]) for r, s in zip(reference.history.epochs, resumed.history.epochs)
    ]


def test_validation_and_early_stopping_judge_the_averaged_weights(tmp_path):
    cfg = small_config(tmp_path, ema=0.95, epochs=4)
    prepared = prepare(cfg)
    rows = holdout_split(cfg, prepared.dataset.labels)
    result = train_model(cfg, prepared, *rows)
    # The saved model is the average; the last epoch's validation scored that same model.
    assert result.history.epochs[-1]["val_loss"] == result.metrics["val"]["loss"]
    plain = train_model(small_config(tmp_path, ema=None, epochs=4), prepared, *rows)
    assert plain.history.epochs[-1]["val_loss"] != result.history.epochs[-1]["val_loss"]
    stopped = train_model(small_config(tmp_path, ema=0.95, epochs=6, patience=1, lr=0.5), prepared, *rows)
    best = stopped.history.epochs[stopped.history.best_epoch - 1]
    assert best["val_loss"] == stopped.metrics["val"]["loss"]  # the kept weights are the best average


def test_ema_zero_or_null_is_off_and_out_of_range_is_refused(tmp_path):
    from mlpcli.errors import ConfigError

    assert small_config(tmp_path, ema=0).train.ema == 0
    with pytest.raises(ConfigError, match="train.ema"):
        small_config(tmp_path, ema=1.0)
