"""Dropout: inverted scaling at training, the identity at prediction, masks from its generator."""

import json

import numpy as np
import pytest

from mlpcli.nn import LAYERS, Dropout, network_from_spec
from mlpcli.nn.gradcheck import check_layer


def dropout(p, seed=0):
    layer = Dropout(p)
    layer.rng = np.random.default_rng(seed)
    return layer


def test_prediction_is_the_identity_and_needs_no_generator():
    x = np.random.default_rng(0).standard_normal((4, 5))
    np.testing.assert_array_equal(Dropout(0.5).forward(x, training=False), x)
    np.testing.assert_array_equal(dropout(0.0).forward(x, training=True), x)


def test_training_drops_a_fraction_p_and_scales_the_rest_by_one_over_keep():
    x = np.full((200, 500), 2.0, dtype=np.float32)
    out = dropout(0.3).forward(x)
    assert out.dtype == np.float32
    kept = out != 0
    assert abs(1 - kept.mean() - 0.3) < 0.005  # 100,000 draws: the standard error is 0.0015
    np.testing.assert_allclose(out[kept], 2.0 / 0.7, rtol=1e-6)
    assert abs(out.mean() - 2.0) < 0.02  # inverted dropout keeps the expected value


def test_the_same_generator_state_draws_the_same_mask():
    x = np.ones((8, 16))
    first, second, other = dropout(0.5, seed=7), dropout(0.5, seed=7), dropout(0.5, seed=8)
    a = first.forward(x)
    np.testing.assert_array_equal(a, second.forward(x))
    assert not np.array_equal(a, other.forward(x))
    assert not np.array_equal(a, first.forward(x))  # the next batch draws a new mask


def test_backward_uses_the_forward_mask():
    layer = dropout(0.4)
    x = np.random.default_rng(1).standard_normal((6, 5))
    out = layer.forward(x)
    dout = np.random.default_rng(2).standard_normal((6, 5))
    np.testing.assert_allclose(layer.backward(dout), dout * (out / x), rtol=1e-14)


@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 4, 3)])
def test_gradcheck_with_a_fixed_mask(shape):
    """check_layer resets the layer's generator before every forward: one mask throughout."""
    rng = np.random.default_rng(3)
    errors = check_layer(dropout(0.5), rng.standard_normal(shape), rng)
    assert errors["x"] < 1e-7, errors


def test_training_without_a_generator_says_how_to_set_one():
    with pytest.raises(RuntimeError, match="layer.rng"):
        Dropout(0.5).forward(np.ones((2, 2)))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_p_out_of_range_is_refused(p):
    with pytest.raises(ValueError, match="p"):
        Dropout(p)
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\)"):
        network_from_spec([{"type": "Dropout", "p": p}])


def test_spec_round_trip_shape_and_parameters():
    spec = json.loads(json.dumps(Dropout(0.25).spec()))
    assert spec == {"type": "Dropout", "p": 0.25}
    assert LAYERS["Dropout"](**{k: v for k, v in spec.items() if k != "type"}).spec() == spec
    assert Dropout(0.25).output_shape((4, 5, 3)) == (4, 5, 3)
    assert Dropout.n_parameters(p=0.25) == 0
    with pytest.raises(ValueError, match="p must be"):
        network_from_spec([{"type": "Dropout", "p": True}])
