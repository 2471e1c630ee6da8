"""The gradient checker itself: it must pass correct gradients and catch wrong ones."""

import numpy as np
import pytest

from mlpcli.nn import SGD, Linear, Optimizer, Sequential, build_mlp, softmax_cross_entropy
from mlpcli.nn.gradcheck import check_layer, check_network, numerical_gradient, relative_error


def test_numerical_gradient_of_a_known_function_and_restores_x():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    original = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(x ** 3)), x)
    np.testing.assert_allclose(grad, 3 * original ** 2, rtol=1e-9)
    np.testing.assert_array_equal(x, original)
    assert grad.dtype == np.float64


def test_relative_error():
    a = np.array([1.0, 2.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0
    assert relative_error(a, -a) == 1.0
    assert relative_error(a, 1.01 * a) == pytest.approx(0.01 / 2.01)


class WrongLinear(Linear):
    """dx off by a factor and dW with a sign error: a checker that passes this is broken."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] *= -1
        return None if dx is None else 1.5 * dx


def random_linear(cls, rng):
    layer = cls(4, 3, dtype="float64")
    layer.params["W"][...] = rng.standard_normal((4, 3))
    layer.params["b"][...] = rng.standard_normal(3)
    return layer


def test_check_layer_catches_wrong_gradients():
    rng = np.random.default_rng(0)
    errors = check_layer(random_linear(WrongLinear, rng), rng.standard_normal((5, 4)), rng)
    assert errors["x"] > 0.1 and errors["W"] > 0.1
    assert errors["b"] < 1e-7  # the bias gradient is still right


def test_check_network_catches_wrong_gradients():
    rng = np.random.default_rng(1)
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    errors = check_network(Sequential([random_linear(WrongLinear, rng)]), x, labels, softmax_cross_entropy)
    assert errors["0.W"] > 0.1 and errors["0.b"] < 1e-7


def test_check_network_catches_a_wrong_loss_gradient():
    rng = np.random.default_rng(2)
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)

    def loss_with_sum_gradient(scores, labels):
        loss, dscores = softmax_cross_entropy(scores, labels)
        return loss, dscores * len(scores)  # gradient of the sum while the loss is the mean

    errors = check_network(build_mlp(4, 3, [], rng=rng, dtype="float64"), x, labels, loss_with_sum_gradient)
    assert min(errors.values()) > 0.1


def half_decay(self, weights, grad, decay, out):
    """grad + decay * W with half the decay: a bug a check of a separate penalty would miss."""
    return grad + 0.5 * decay * weights


class HalfDecaySGD(SGD):
    regularized_gradient = half_decay


def decayed_problem(seed=3):
    rng = np.random.default_rng(seed)
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    return build_mlp(4, 3, [5], "tanh", rng=rng, dtype="float64"), x, labels


def test_check_network_checks_the_decay_the_optimizer_applies():
    network, x, labels = decayed_problem()
    right = check_network(network, x, labels, softmax_cross_entropy, SGD(weight_decay=1.0))
    assert max(right.values()) < 1e-7, right
    wrong = check_network(network, x, labels, softmax_cross_entropy, HalfDecaySGD(weight_decay=1.0))
    assert wrong["0.W"] > 1e-2 and wrong["2.W"] > 1e-2, wrong
    assert wrong["0.b"] < 1e-7 and wrong["2.b"] < 1e-7  # biases are not decayed either way


def test_a_wrong_decay_in_the_shared_implementation_breaks_training_and_the_check(monkeypatch):
    """Every optimizer and the check call one decay function: break it, and both change."""
    network, x, labels = decayed_problem()
    layer = network.layers[0]
    layer.allocate_grads()  # zero data gradient: only the decay moves W
    W = layer.params["W"].copy()
    monkeypatch.setattr(Optimizer, "regularized_gradient", half_decay)
    SGD(weight_decay=0.5).step(network, 0.1)
    assert not np.allclose(layer.params["W"], W * (1 - 0.1 * 0.5))  # training took the broken decay
    errors = check_network(network, x, labels, softmax_cross_entropy, SGD(weight_decay=1.0))
    assert errors["0.W"] > 1e-2 and errors["2.W"] > 1e-2, errors


def test_check_network_refuses_a_number_for_the_optimizer():
    network, x, labels = decayed_problem()
    with pytest.raises(TypeError, match="optimizer"):
        check_network(network, x, labels, softmax_cross_entropy, 0.1)
