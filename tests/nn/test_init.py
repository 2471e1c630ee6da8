"""Initializations: He for ReLU, Xavier for sigmoid/tanh, chosen by init='auto'."""

import numpy as np
import pytest

from mlpcli.nn import AUTO_INIT, INITS, Linear, build_mlp

# 400x400 weights: 160,000 draws estimate a std to within about 0.5%.
N = 400


def weights_of(network):
    return [layer.params["W"] for layer in network.layers if isinstance(layer, Linear)]


def test_auto_picks_he_for_relu():
    W = weights_of(build_mlp(N, N, [N], "relu", "auto", np.random.default_rng(0), "float64"))[0]
    assert W.std() == pytest.approx(np.sqrt(2 / N), rel=0.02)
    assert abs(W.mean()) < 0.02 * np.sqrt(2 / N)
    # Normal, not uniform: some draws land past 3 standard deviations.
    assert np.abs(W).max() > 3.5 * np.sqrt(2 / N)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_auto_picks_xavier_for_sigmoid_and_tanh(activation):
    W = weights_of(build_mlp(N, N, [N], activation, "auto", np.random.default_rng(0), "float64"))[0]
    limit = np.sqrt(6 / (N + N))
    assert np.abs(W).max() <= limit
    assert np.abs(W).max() > 0.999 * limit
    # Uniform on [-limit, limit] has std limit / sqrt(3) (here sqrt(1/N), half He's variance).
    assert W.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)


def test_xavier_limit_uses_fan_in_plus_fan_out():
    layers = weights_of(build_mlp(300, 20, [100], "tanh", "auto", np.random.default_rng(1), "float64"))
    for W in layers:
        fan_in, fan_out = W.shape
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert 0.98 * limit < np.abs(W).max() <= limit


def test_he_std_uses_fan_in():
    W = INITS["he"]((1000, 50), 1000, 50, np.random.default_rng(2), "float64")
    assert W.std() == pytest.approx(np.sqrt(2 / 1000), rel=0.02)


def test_explicit_init_overrides_auto():
    W = weights_of(build_mlp(N, N, [N], "relu", "xavier", np.random.default_rng(0), "float64"))[0]
    assert np.abs(W).max() <= np.sqrt(6 / (2 * N))


@pytest.mark.parametrize("name", ["he", "xavier"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inits_return_requested_shape_and_dtype(name, dtype):
    W = INITS[name]((3, 4), 3, 4, np.random.default_rng(0), dtype)
    assert W.shape == (3, 4) and W.dtype == np.dtype(dtype)


def test_auto_table_and_seeding():
    assert AUTO_INIT == {"relu": "he", "sigmoid": "xavier", "tanh": "xavier"}
    a = build_mlp(5, 3, [4], rng=np.random.default_rng(7), dtype="float64")
    b = build_mlp(5, 3, [4], rng=np.random.default_rng(7), dtype="float64")
    c = build_mlp(5, 3, [4], rng=np.random.default_rng(8), dtype="float64")
    for path, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[path])
    assert not np.array_equal(a.state_dict()["0.W"], c.state_dict()["0.W"])
    # Biases start at zero.
    np.testing.assert_array_equal(a.state_dict()["0.b"], 0)
