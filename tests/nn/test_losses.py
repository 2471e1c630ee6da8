"""Losses: numerical dscores, stability at logits of 1e4, hand-worked values, mean reduction."""

import math

import numpy as np
import pytest

from mlpcli.nn import LOSSES, softmax, softmax_cross_entropy, squared_error
from mlpcli.nn.gradcheck import numerical_gradient, relative_error

LOSS_FNS = [softmax_cross_entropy, squared_error]


@pytest.mark.parametrize("loss_fn", LOSS_FNS)
def test_dscores_matches_numerical_gradient(loss_fn):
    rng = np.random.default_rng(20)
    scores = rng.standard_normal((7, 4)) * 2
    labels = rng.integers(0, 4, size=7)
    loss, dscores = loss_fn(scores.copy(), labels)
    numeric = numerical_gradient(lambda: loss_fn(scores, labels)[0], scores)
    assert relative_error(dscores, numeric) < 1e-7
    assert isinstance(loss, float)


def test_softmax_cross_entropy_is_stable_for_logits_of_1e4():
    scores = np.array([[1e4, 0.0, -1e4]] * 3)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for label, expected in [(0, 0.0), (1, 1e4), (2, 2e4)]:
            loss, dscores = softmax_cross_entropy(scores, np.array([label] * 3))
            assert loss == pytest.approx(expected, abs=1e-9)
            assert np.all(np.isfinite(dscores))
    # Gradient (p - onehot) / n with p = [1, 0, 0]: the true class is pushed up, class 0 down.
    np.testing.assert_allclose(dscores, np.array([[1.0, 0.0, -1.0]] * 3) / 3, atol=1e-12)


def test_softmax_cross_entropy_is_stable_in_float32():
    scores = np.array([[1e4, 0.0, -1e4]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dscores = softmax_cross_entropy(scores, np.array([1]))
        probabilities = softmax(scores)
    assert loss == pytest.approx(1e4)
    assert dscores.dtype == np.float32 and np.all(np.isfinite(dscores))
    np.testing.assert_array_equal(probabilities, [[1.0, 0.0, 0.0]])


def test_softmax_cross_entropy_hand_worked():
    # -log p[2] = log(e^1 + e^2 + e^3) - 3
    loss, dscores = softmax_cross_entropy(np.array([[1.0, 2.0, 3.0]]), np.array([2]))
    assert loss == pytest.approx(math.log(math.e + math.e**2 + math.e**3) - 3, rel=1e-14)
    p = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(dscores, [p - [0, 0, 1]], rtol=1e-14)


@pytest.mark.parametrize("n_classes", [2, 3, 10, 100])
def test_loss_of_uniform_scores_is_log_n_classes(n_classes):
    scores = np.full((5, n_classes), 3.7)
    labels = np.arange(5) % n_classes
    loss, dscores = softmax_cross_entropy(scores, labels)
    assert loss == pytest.approx(math.log(n_classes), rel=1e-12)
    onehot = np.eye(n_classes)[labels]
    np.testing.assert_allclose(dscores, (1 / n_classes - onehot) / 5, atol=1e-15)


def test_softmax_rows_sum_to_one():
    rng = np.random.default_rng(21)
    scores = rng.standard_normal((6, 5)) * np.array([[1], [10], [100], [1e3], [1e4], [1e-3]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = softmax(scores)
    assert p.shape == scores.shape
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
    # Shift invariance, and the value itself on one row.
    np.testing.assert_allclose(softmax(scores + 50.0), p, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(softmax(np.array([[0.0, math.log(3.0)]])), [[0.25, 0.75]], rtol=1e-14)


def test_softmax_does_not_modify_its_input():
    scores = np.array([[1.0, 2.0], [3.0, -1.0]])
    softmax(scores)
    softmax_cross_entropy(scores, np.array([0, 1]))
    squared_error(scores, np.array([0, 1]))
    np.testing.assert_array_equal(scores, [[1.0, 2.0], [3.0, -1.0]])


def test_squared_error_hand_worked():
    # Row 0: scores - onehot(2) = [0.5, -1, 1]  -> 0.5 * (0.25 + 1 + 1) = 1.125
    # Row 1: scores - onehot(0) = [0, 0, 0]     -> 0
    # Mean over the 2 samples: 0.5625; dscores = (scores - onehot) / 2.
    scores = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, 0.0]])
    loss, dscores = squared_error(scores, np.array([2, 0]))
    assert loss == 0.5625
    np.testing.assert_array_equal(dscores, [[0.25, -0.5, 0.5], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("loss_fn", LOSS_FNS)
def test_both_losses_reduce_by_the_mean(loss_fn):
    rng = np.random.default_rng(22)
    scores = rng.standard_normal((4, 3))
    labels = np.array([0, 2, 1, 2])
    loss, dscores = loss_fn(scores, labels)
    loss2, dscores2 = loss_fn(np.vstack([scores, scores]), np.concatenate([labels, labels]))
    assert loss2 == pytest.approx(loss, rel=1e-14)
    # Each sample's share of the gradient halves when the batch doubles.
    np.testing.assert_allclose(dscores2[:4], dscores / 2, rtol=1e-14)
    np.testing.assert_allclose(dscores2[4:], dscores / 2, rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss_fn", LOSS_FNS)
def test_dscores_have_the_shape_and_dtype_of_scores(loss_fn, dtype):
    scores = np.random.default_rng(23).standard_normal((5, 4)).astype(dtype)
    loss, dscores = loss_fn(scores, np.array([0, 1, 2, 3, 0]))
    assert dscores.shape == scores.shape and dscores.dtype == np.dtype(dtype)
    assert type(loss) is float


def test_registry():
    assert LOSSES == {"softmax": softmax_cross_entropy, "squared": squared_error}


@pytest.mark.parametrize("smoothing", [0.1, 0.5])
def test_label_smoothing_gradcheck_and_value(smoothing):
    rng = np.random.default_rng(21)
    scores = rng.standard_normal((7, 4)) * 2
    labels = rng.integers(0, 4, size=7)
    loss, dscores = softmax_cross_entropy(scores.copy(), labels, label_smoothing=smoothing)
    numeric = numerical_gradient(lambda: softmax_cross_entropy(scores, labels, smoothing)[0], scores)
    assert relative_error(dscores, numeric) < 1e-7
    # The loss against the smoothed target q = (1 - e) onehot + e / 4, written out.
    q = np.full((7, 4), smoothing / 4)
    q[np.arange(7), labels] += 1 - smoothing
    log_p = np.log(softmax(scores.copy()))
    assert loss == pytest.approx(-np.mean(np.sum(q * log_p, axis=1)), rel=1e-12)
    np.testing.assert_allclose(dscores, (np.exp(log_p) - q) / 7, atol=1e-15)


def test_label_smoothing_zero_is_the_plain_loss_and_out_of_range_is_refused():
    rng = np.random.default_rng(22)
    scores, labels = rng.standard_normal((5, 3)).astype(np.float32), rng.integers(0, 3, 5)
    plain, smoothed = softmax_cross_entropy(scores, labels), softmax_cross_entropy(scores, labels, 0.0)
    assert plain[0] == smoothed[0]
    np.testing.assert_array_equal(plain[1], smoothed[1])
    assert softmax_cross_entropy(scores, labels, 0.1)[1].dtype == np.float32
    # A confident right answer costs more with smoothing: the target is no longer one-hot.
    confident = np.array([[20.0, 0.0, 0.0]])
    smoothed = softmax_cross_entropy(confident, np.array([0]), 0.1)
    plain = softmax_cross_entropy(confident, np.array([0]))
    assert smoothed[0] > 1.0 > plain[0]
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="label_smoothing"):
            softmax_cross_entropy(scores, labels, bad)
