"""Soft-target losses with per-sample weights: hand-computed values, numerical gradients, the
reduction by the summed weight, and agreement with the one-hot losses they generalize."""

import math

import numpy as np
import pytest

from mlpcli.nn import (
    SOFT_LOSSES,
    smoothed_targets,
    soft_cross_entropy,
    soft_squared_error,
    softmax_cross_entropy,
    squared_error,
)
from mlpcli.nn.gradcheck import numerical_gradient, relative_error


def test_weighted_batch_loss_equals_the_hand_computation():
    scores = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    targets = np.eye(3)[[2, 0]]
    weights = np.array([3.0, 1.0])
    loss, dscores = soft_cross_entropy(scores, targets, weights)
    # Row 0: -log p[2] = log(e + e^2 + e^3) - 3; row 1: -log(1/3). Mean weighted by 3 and 1.
    row0 = math.log(math.e + math.e**2 + math.e**3) - 3
    assert loss == pytest.approx((3 * row0 + 1 * math.log(3)) / 4, rel=1e-14)
    p0 = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(dscores, [3 / 4 * (p0 - [0, 0, 1]), 1 / 4 * (np.full(3, 1 / 3) - [1, 0, 0])], rtol=1e-13)


def test_weighted_squared_error_equals_the_hand_computation():
    loss, dscores = soft_squared_error(np.array([[1.0, 0.0], [0.0, 2.0]]), np.eye(2)[[1, 1]], np.array([1.0, 3.0]))
    # 0.5 * ||(1, -1)||^2 = 1 and 0.5 * ||(0, 1)||^2 = 0.5, weighted 1 and 3 over 4.
    assert loss == pytest.approx((1 * 1.0 + 3 * 0.5) / 4)
    np.testing.assert_allclose(dscores, [[0.25, -0.25], [0.0, 0.75]])


@pytest.mark.parametrize("name", list(SOFT_LOSSES))
def test_weighted_soft_loss_gradient_matches_numerical_in_float64(name):
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((6, 4)) * 2
    targets = rng.dirichlet(np.ones(4), size=6)
    weights = rng.uniform(0, 3, size=6)
    loss_fn = SOFT_LOSSES[name]
    _, dscores = loss_fn(scores.copy(), targets, weights)
    numeric = numerical_gradient(lambda: loss_fn(scores, targets, weights)[0], scores)
    assert relative_error(dscores, numeric) < 1e-7


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_unweighted_one_hot_targets_give_the_plain_losses(smoothing):
    rng = np.random.default_rng(4)
    scores = rng.standard_normal((5, 3))
    labels = rng.integers(0, 3, size=5)
    targets = smoothed_targets(labels, 3, smoothing, np.float64)
    plain = softmax_cross_entropy(scores, labels, smoothing)
    for weights in (None, np.full(5, 2.5)):  # equal weights: the mean is unchanged
        soft = soft_cross_entropy(scores, targets, weights)
        assert soft[0] == pytest.approx(plain[0], rel=1e-12)
        np.testing.assert_allclose(soft[1], plain[1], rtol=1e-12, atol=1e-15)
    if not smoothing:
        np.testing.assert_allclose(soft_squared_error(scores, targets)[1], squared_error(scores, labels)[1])


def test_a_zero_weight_row_does_not_count_and_an_all_zero_batch_has_no_gradient():
    scores = np.array([[0.0, 5.0], [1.0, -1.0]])
    targets = np.eye(2)[[0, 0]]
    loss, dscores = soft_cross_entropy(scores, targets, np.array([0.0, 2.0]))
    assert loss == pytest.approx(soft_cross_entropy(scores[1:], targets[1:])[0])
    assert not dscores[0].any()
    loss, dscores = soft_cross_entropy(scores, targets, np.zeros(2))
    assert loss == 0.0 and not dscores.any()


def test_float32_scores_give_float32_gradients_and_inputs_are_untouched():
    scores = np.array([[1e4, 0.0, -1e4]], dtype=np.float32)
    targets = smoothed_targets(np.array([1]), 3, 0.0, np.float32)
    kept = scores.copy(), targets.copy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dscores = soft_cross_entropy(scores, targets, np.array([2.0]))
    assert loss == pytest.approx(1e4) and dscores.dtype == np.float32
    assert np.array_equal(scores, kept[0]) and np.array_equal(targets, kept[1])
