"""The gradient checker itself: it must pass correct gradients and catch wrong ones."""

import numpy as np
import pytest

from mlpcli.nn import Linear, Sequential, build_mlp, softmax_cross_entropy
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


def test_check_network_catches_wrong_gradients_and_a_wrong_penalty():
    rng = np.random.default_rng(1)
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    errors = check_network(Sequential([random_linear(WrongLinear, rng)]), x, labels, softmax_cross_entropy)
    assert errors["0.W"] > 0.1 and errors["0.b"] < 1e-7
    network = build_mlp(4, 3, [5], "tanh", rng=rng, dtype="float64")
    network.l2_penalty = lambda weight_decay: 0.0  # forgets to add weight_decay * W
    errors = check_network(network, x, labels, softmax_cross_entropy, weight_decay=1.0)
    assert errors["0.W"] > 1e-3 and errors["2.W"] > 1e-3


def test_check_network_catches_a_wrong_loss_gradient():
    rng = np.random.default_rng(2)
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)

    def loss_with_sum_gradient(scores, labels):
        loss, dscores = softmax_cross_entropy(scores, labels)
        return loss, dscores * len(scores)  # gradient of the sum while the loss is the mean

    errors = check_network(build_mlp(4, 3, [], rng=rng, dtype="float64"), x, labels, loss_with_sum_gradient)
    assert min(errors.values()) > 0.1
