"""The fully connected layer and the layer contract: gradchecks, shapes, dtypes, overwrite."""

import weakref

import numpy as np
import pytest

from mlpcli.nn import Layer, Linear
from mlpcli.nn.gradcheck import check_layer

TOLERANCE = 1e-7


def random_linear(n_in, n_out, bias, rng, dtype="float64"):
    layer = Linear(n_in, n_out, bias=bias, dtype=dtype)
    layer.params["W"][...] = rng.standard_normal((n_in, n_out))
    if bias:
        layer.params["b"][...] = rng.standard_normal(n_out)
    return layer


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(bias):
    rng = np.random.default_rng(0)
    layer = random_linear(5, 3, bias, rng)
    errors = check_layer(layer, rng.standard_normal((4, 5)), rng)
    assert set(errors) == ({"x", "W", "b"} if bias else {"x", "W"})
    assert max(errors.values()) < TOLERANCE, errors


def test_linear_forward_is_x_at_W_plus_b():
    layer = Linear(2, 3, dtype="float64")
    layer.params["W"][...] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    layer.params["b"][...] = [0.5, -0.5, 1.0]
    out = layer.forward(np.array([[1.0, -1.0]]))
    np.testing.assert_array_equal(out, [[-2.5, -3.5, -2.0]])


def test_linear_backward_hand_worked():
    layer = Linear(2, 1, dtype="float64")
    layer.params["W"][...] = [[2.0], [-3.0]]
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    layer.forward(x)
    dx = layer.backward(np.array([[1.0], [10.0]]))
    # dW = x^T dout = [1*1 + 3*10, 2*1 + 4*10]; db = sum of dout; dx = dout W^T
    np.testing.assert_array_equal(layer.grads["W"], [[31.0], [42.0]])
    np.testing.assert_array_equal(layer.grads["b"], [11.0])
    np.testing.assert_array_equal(dx, [[2.0, -3.0], [20.0, -30.0]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients_have_the_shape_and_dtype_of_their_variable(dtype, bias):
    rng = np.random.default_rng(1)
    layer = random_linear(6, 4, bias, rng, dtype)
    x = rng.standard_normal((3, 6)).astype(dtype)
    out = layer.forward(x)
    assert out.shape == (3, 4) and out.dtype == np.dtype(dtype)
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == x.shape and dx.dtype == x.dtype
    assert set(layer.grads) == set(layer.params)
    for name, value in layer.params.items():
        assert layer.grads[name].shape == value.shape
        assert layer.grads[name].dtype == value.dtype


def test_linear_backward_overwrites_grads_never_accumulates():
    rng = np.random.default_rng(2)
    layer = random_linear(3, 2, True, rng)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer.forward(x)
    layer.backward(dout)
    first = {name: grad.copy() for name, grad in layer.grads.items()}
    layer.forward(x)
    layer.backward(dout)
    for name in first:
        np.testing.assert_array_equal(layer.grads[name], first[name])
    np.testing.assert_allclose(layer.grads["W"], x.T @ dout)


def test_linear_without_input_grad_still_fills_grads():
    rng = np.random.default_rng(3)
    layer = random_linear(3, 2, True, rng)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer.needs_input_grad = False
    layer.forward(x)
    assert layer.backward(dout) is None
    np.testing.assert_allclose(layer.grads["W"], x.T @ dout)
    np.testing.assert_allclose(layer.grads["b"], dout.sum(axis=0))


def test_linear_shapes_and_spec():
    layer = Linear(7, 2, bias=False, dtype="float64")
    assert layer.params["W"].shape == (7, 2) and "b" not in layer.params
    assert layer.decayed == ("W",)
    assert layer.spec() == {"type": "Linear", "n_in": 7, "n_out": 2, "bias": False, "dtype": "float64"}
    assert Linear(**{k: v for k, v in layer.spec().items() if k != "type"}).spec() == layer.spec()


def test_base_layer_passes_through():
    layer = Layer()
    x = np.arange(6.0).reshape(2, 3)
    assert layer.forward(x) is x
    assert layer.backward(x) is x
    assert layer.params == {} and layer.grads == {} and layer.decayed == ()


def test_linear_scoring_keeps_no_reference_to_its_input():
    """Scoring (training=False) must not keep x for a backward that never comes: x is a whole
    chunk of standardized rows, and it stayed alive beside the next chunk (issue 23: the
    validation peak grew by one chunk, 33 MB, once the validation rows were over one chunk).
    Watched failing with ``self._x = x`` kept unconditionally."""
    layer = Linear(4, 2)
    x = np.ones((3, 4), np.float32)
    alive = weakref.ref(x)
    layer.forward(x, training=False)
    del x
    assert alive() is None
    kept = np.ones((3, 4), np.float32)
    layer.forward(kept)  # training keeps it: backward needs it
    layer.backward(np.ones((3, 2), np.float32))
