"""train.mixup: the soft-target loss by hand, alpha 0 is the plain run's bytes, the element-wise
pool's thread count changes nothing, and a mid-epoch resume with the balanced sampler, class
weights and mixup together is bit-identical (features and end-to-end with flips).

Each was seen to fail with the feature broken on purpose (lam drawn even at alpha 0, the targets
left unblended, the mixed rows' weights unblended), then restored.
"""

import math

import numpy as np
import pytest
from conftest import StopAfter

from mlpcli.config import from_dict
from mlpcli.errors import Interrupted
from mlpcli.nn.gradcheck import numerical_gradient, relative_error
from mlpcli.train import loop
from mlpcli.train.fit import holdout_split, prepare, train_model
from mlpcli.train.objective import Mixing, Objective, draw_mixing


def model_config(**model):
    return from_dict({"model": model}).model


def cross_entropy(scores, target):
    """-sum_k q[k] log softmax(scores)[k], written out."""
    log_p = scores - math.log(sum(math.exp(s) for s in scores))
    return -sum(q * lp for q, lp in zip(target, log_p))


def test_mixup_loss_on_a_fixed_batch_equals_the_hand_computed_soft_target_loss():
    scores = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
    labels = np.array([0, 2])
    mixing = Mixing(0.3, np.array([1, 0]))
    loss, dscores = Objective(model_config())(scores, labels, mixing)
    # Row 0 blends its own class 0 (0.3) with row 1's class 2 (0.7); row 1 the other way round.
    targets = [[0.3, 0.0, 0.7], [0.7, 0.0, 0.3]]
    assert loss == pytest.approx(
        (cross_entropy(scores[0], targets[0]) + cross_entropy(scores[1], targets[1])) / 2, rel=1e-14
    )
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(dscores, (p - targets) / 2, rtol=1e-13)  # p - y_soft, mean over 2 rows


def test_mixup_composes_with_label_smoothing_and_class_weights():
    scores = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
    labels = np.array([0, 2])
    mixing = Mixing(0.25, np.array([1, 0]))
    objective = Objective(model_config(label_smoothing=0.3), np.array([1.0, 5.0, 3.0]))
    loss, dscores = objective(scores, labels, mixing)
    smooth = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])  # (1 - 0.3) one-hot + 0.3 / 3
    targets = 0.25 * smooth + 0.75 * smooth[[1, 0]]
    weights = 0.25 * np.array([1.0, 3.0]) + 0.75 * np.array([3.0, 1.0])  # the classes' weights, blended alike
    rows = [cross_entropy(scores[i], targets[i]) for i in range(2)]
    assert loss == pytest.approx(np.dot(weights, rows) / weights.sum(), rel=1e-14)
    numeric = numerical_gradient(lambda: objective(scores, labels, mixing)[0], scores)
    assert relative_error(dscores, numeric) < 1e-7


def test_lambda_comes_from_beta_of_the_seeded_stream_and_alpha_0_draws_nothing():
    rng = np.random.default_rng(7)
    state = rng.bit_generator.state
    assert draw_mixing(5, 0.0, rng) is None and rng.bit_generator.state == state
    mixing = draw_mixing(5, 0.4, rng)
    again = np.random.default_rng(7)
    assert mixing.lam == again.beta(0.4, 0.4)
    assert mixing.partner.tolist() == again.permutation(5).tolist()


def config(tmp_path, e2e=False, **train):
    raw = {
        "seed": 5,
        "data": {"format": "synthetic", "n_per_class": 30, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
        "model": {"hidden": [8], "label_smoothing": 0.1},
        "train": {"epochs": 3, "batch_size": 16, "lr": 0.05, **train},
    }
    if e2e:
        raw.update(mode="end_to_end", extractor={"blocks": [{"filters": 4, "kernel": 3, "pool": 2}]})
        raw["train"]["augment"] = {"flip": True, "crop_padding": 1}
    return from_dict(raw)


def weights(cfg, **kwargs):
    prepared = prepare(cfg)
    trained = train_model(cfg, prepared, *holdout_split(cfg, prepared.dataset.labels), **kwargs)
    return trained.predictor.network.state_dict()


def test_mixup_alpha_0_gives_exactly_the_plain_runs_bytes(tmp_path, monkeypatch):
    """The plain run is the step without mixup at all: no draw, the plain loss. End-to-end with
    flips and crops, so a draw from the augment stream at alpha 0 would show."""
    with_zero = weights(config(tmp_path, e2e=True, mixup=0.0))
    mixed = weights(config(tmp_path, e2e=True, mixup=0.2))
    monkeypatch.setattr(loop, "draw_mixing", lambda n, alpha, rng: None)
    plain = weights(config(tmp_path, e2e=True, mixup=0.2))
    for key, value in plain.items():
        assert value.tobytes() == with_zero[key].tobytes(), key
    assert any(not np.array_equal(value, mixed[key]) for key, value in plain.items())


def test_mixup_bytes_do_not_depend_on_the_element_wise_pools_threads(tmp_path, set_threads):
    cfg = config(tmp_path, mixup=0.4, class_weight="balanced")
    set_threads(1)
    one = weights(cfg)
    set_threads(3)
    three = weights(cfg)
    for key, value in one.items():
        assert value.tobytes() == three[key].tobytes(), key


@pytest.mark.parametrize("e2e, stops", [(False, [3]), (False, [4, 8]), (True, [5])])
def test_resume_with_balanced_sampler_class_weights_and_mixup_is_bit_identical(tmp_path, e2e, stops):
    cfg = config(tmp_path, e2e, sampler="balanced", class_weight="balanced", mixup=0.4)
    reference = weights(cfg)
    checkpoint = tmp_path / "checkpoint.npz"
    for calls in stops:  # 96 training rows in batches of 16: every stop falls mid-epoch
        with pytest.raises(Interrupted, match="checkpoint saved"):
            weights(cfg, checkpoint=checkpoint, stop=StopAfter(calls))
        with np.load(checkpoint) as stored:
            assert "order" in stored.files
    resumed = weights(cfg, checkpoint=checkpoint)
    for key, value in reference.items():
        assert value.tobytes() == resumed[key].tobytes(), key
