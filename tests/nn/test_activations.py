"""Activations: gradchecks in and out of place, ReLU at 0, shapes and dtypes kept."""

import numpy as np
import pytest

from mlpcli.nn import ACTIVATIONS, ReLU, Sigmoid, Tanh
from mlpcli.nn.gradcheck import check_layer

TOLERANCE = 1e-7


def inputs_away_from_zero(rng, shape, margin=0.1):
    """Random values with |x| >= margin, so a 1e-5 finite difference never straddles ReLU's kink."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(margin, 3.0, size=shape)


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("cls", [ReLU, Sigmoid, Tanh])
def test_activation_gradcheck(cls, inplace):
    rng = np.random.default_rng(10)
    x = inputs_away_from_zero(rng, (6, 5))
    errors = check_layer(cls(inplace=inplace), x, rng)
    assert set(errors) == {"x"}
    assert errors["x"] < TOLERANCE, errors


@pytest.mark.parametrize(
    "cls, reference", [(ReLU, lambda x: np.maximum(x, 0)), (Sigmoid, lambda x: 1 / (1 + np.exp(-x))), (Tanh, np.tanh)]
)
@pytest.mark.parametrize("inplace", [False, True])
def test_activation_forward_values_and_inplace_contract(cls, reference, inplace):
    x = np.linspace(-4, 4, 12).reshape(3, 4)
    original = x.copy()
    out = cls(inplace=inplace).forward(x)
    np.testing.assert_allclose(out, reference(original), rtol=1e-14, atol=1e-15)
    # inplace=True overwrites its input (saves a copy); inplace=False must leave it untouched.
    assert np.shares_memory(out, x) is inplace
    if not inplace:
        np.testing.assert_array_equal(x, original)


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("cls", [ReLU, Sigmoid, Tanh])
def test_activation_backward_inplace_contract(cls, inplace):
    layer = cls(inplace=inplace)
    layer.forward(np.linspace(-2, 2, 6).reshape(2, 3))
    dout = np.full((2, 3), 2.0)
    dx = layer.backward(dout)
    assert np.shares_memory(dx, dout) is inplace
    if not inplace:
        np.testing.assert_array_equal(dout, 2.0)


def test_relu_gradient_at_exactly_zero_is_zero():
    layer = ReLU()
    layer.forward(np.array([[-1.0, 0.0, 1.0, -0.0]]))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 4))), [[0.0, 0.0, 1.0, 0.0]])


def test_local_gradients_hand_worked():
    x = np.array([[-1.0, 0.0, 2.0]])
    sigmoid, tanh = Sigmoid(), Tanh()
    s, t = sigmoid.forward(x.copy()), tanh.forward(x.copy())
    np.testing.assert_allclose(sigmoid.backward(np.full((1, 3), 3.0)), 3.0 * s * (1 - s), rtol=1e-14)
    np.testing.assert_allclose(tanh.backward(np.full((1, 3), 3.0)), 3.0 * (1 - t * t), rtol=1e-14)
    assert sigmoid.backward(np.ones((1, 3)))[0, 1] == 0.25
    assert tanh.backward(np.ones((1, 3)))[0, 1] == 1.0


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = Sigmoid().forward(np.array([[-1e4, 1e4]], dtype=np.float32))
    np.testing.assert_array_equal(out, [[0.0, 1.0]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("cls", [ReLU, Sigmoid, Tanh])
def test_activation_keeps_shape_and_dtype(cls, inplace, dtype):
    x = np.random.default_rng(11).standard_normal((2, 3, 4)).astype(dtype)
    layer = cls(inplace=inplace)
    out = layer.forward(x)
    assert out.shape == x.shape and out.dtype == np.dtype(dtype)
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == x.shape and dx.dtype == np.dtype(dtype)


def test_registry_and_spec():
    assert ACTIVATIONS == {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}
    assert Tanh(inplace=True).spec() == {"type": "Tanh", "inplace": True}
    assert ReLU().spec() == {"type": "ReLU", "inplace": False}
