"""The gradient checker itself: it must pass correct gradients and catch wrong ones."""

import numpy as np
import pytest

from mlpcli.nn import SGD, Linear, Optimizer, Sequential, build_mlp, softmax_cross_entropy
from mlpcli.nn.gradcheck import (
    check_layer,
    check_network,
    network_pattern,
    numerical_gradient,
    relative_error,
    smooth_numerical_gradient,
)


def test_numerical_gradient_of_a_known_function_and_restores_x():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    original = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * original**2, rtol=1e-9)
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


def relu_net(offset):
    """Linear(1, 1) -> ReLU -> Linear(1, 1) whose ReLU input for the one sample is ``offset``:
    x = 1, W = 1, b = offset - 1. Its true gradients (offset > 0): db = W2 = 2, dW2 = offset."""
    from mlpcli.nn import ReLU

    first, second = Linear(1, 1, dtype="float64"), Linear(1, 1, dtype="float64")
    first.params["W"][...] = 1.0
    first.params["b"][...] = offset - 1.0
    second.params["W"][...] = 2.0
    return Sequential([first, ReLU(), second]), np.ones((1, 1))


def identity_loss(scores, labels):
    return float(scores.sum()), np.ones_like(scores)


def test_a_step_across_a_relu_kink_is_retried_smaller():
    """The ReLU input is 3e-6: a step of h = 1e-5 crosses 0 and measures half the slope (the
    check failed before the retry; verified by setting STEPS = (1.0,)); a step of 1e-6 does not."""
    network, x = relu_net(3e-6)
    kinks = {}
    errors = check_network(network, x, None, identity_loss, h=1e-5, kinks=kinks)
    assert max(errors.values()) < 1e-7, errors
    assert kinks == {"0.W": 0, "0.b": 0, "2.W": 0, "2.b": 0}


def test_an_entry_on_a_kink_is_left_out_and_counted():
    """ReLU input exactly 0: every step crosses; the entry is counted apart, not compared."""
    network, x = relu_net(0.0)
    numeric, crossed = smooth_numerical_gradient(
        lambda: identity_loss(network.forward(x), None)[0],
        network.layers[0].params["b"],
        network_pattern(network.layers),
    )
    assert crossed.all() and numeric[0] == pytest.approx(1.0)  # half of W2: the two sides averaged
    kinks = {}
    check_network(network, x, None, identity_loss, kinks=kinks)
    assert kinks["0.b"] == 1 and kinks["2.b"] == 0


def test_a_check_that_sees_mostly_kinks_compares_everything(monkeypatch):
    """A pattern that changes on every pass must not make a wrong gradient pass by leaving
    every entry out."""
    from mlpcli.nn import ReLU

    counter = iter(range(10**9))
    monkeypatch.setattr(ReLU, "kink_pattern", lambda self: np.array(next(counter)))
    rng = np.random.default_rng(7)
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    head = Linear(3, 3, dtype="float64")
    head.params["W"][...] = rng.standard_normal((3, 3))
    network = Sequential([random_linear(WrongLinear, rng), ReLU(), head])
    kinks = {}
    errors = check_network(network, x, labels, softmax_cross_entropy, kinks=kinks)
    assert kinks["0.W"] == 12 and errors["0.W"] > 0.1, (kinks, errors)
