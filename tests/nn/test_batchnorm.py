"""BatchNorm: batch statistics at training, running statistics at prediction, gradient checks in
float64 for rows and channels-last images, whole networks with Dropout and weight decay."""

import json

import numpy as np
import pytest
from conftest import assert_same_up_to_batch_rounding

from mlpcli.nn import (
    SGD,
    Adam,
    AdamW,
    BatchNorm,
    Conv2D,
    Dropout,
    Flatten,
    ImageReshape,
    Linear,
    MaxPool2D,
    ReLU,
    Sequential,
    network_from_spec,
    softmax,
    softmax_cross_entropy,
)
from mlpcli.nn.gradcheck import check_layer, check_network

SHAPES = {"rows": (7, 4), "images": (2, 3, 5, 4)}


def batchnorm(n_features=4, dtype="float64", seed=0, **kwargs):
    layer = BatchNorm(n_features, dtype=dtype, **kwargs)
    rng = np.random.default_rng(seed)
    layer.params["gamma"][...] = rng.uniform(0.5, 2.0, n_features)
    layer.params["beta"][...] = rng.standard_normal(n_features)
    return layer


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("layout", SHAPES)
def test_gradcheck_in_training_mode(layout, chunked, monkeypatch):
    if chunked:  # several row ranges of a wide view, as a large batch takes
        from mlpcli.nn import batchnorm as module

        monkeypatch.setattr(module, "CHUNK_VALUES", 6)
        monkeypatch.setattr(module, "WIDTH", 8)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(SHAPES[layout]) * 3 + 1
    errors = check_layer(batchnorm(), x, rng)
    assert set(errors) == {"x", "gamma", "beta"}
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("layout", SHAPES)
def test_training_normalizes_each_feature_over_every_other_axis(layout):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(SHAPES[layout]) * np.array([1.0, 5.0, 0.1, 2.0]) + np.array([3.0, -1.0, 0.0, 10.0])
    layer = batchnorm()
    out = layer.forward(x)
    axes = tuple(range(x.ndim - 1))
    xhat = (out - layer.params["beta"]) / layer.params["gamma"]
    np.testing.assert_allclose(xhat.mean(axis=axes), 0.0, atol=1e-12)
    expected_std = np.sqrt(x.var(axis=axes) / (x.var(axis=axes) + 1e-5))  # eps shrinks it slightly
    np.testing.assert_allclose(xhat.std(axis=axes), expected_std, rtol=1e-12)
    # Running statistics: (1 - 0.1) * (0, 1) + 0.1 * (batch mean, unbiased batch variance).
    n = x.size // 4
    np.testing.assert_allclose(layer.buffers["running_mean"], 0.1 * x.mean(axis=axes), rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_var"], 0.9 + 0.1 * x.var(axis=axes) * n / (n - 1), rtol=1e-12)


@pytest.mark.parametrize("layout", SHAPES)
def test_prediction_uses_the_running_statistics_per_sample(layout):
    layer = batchnorm(momentum=0.5)
    layer.buffers["running_mean"][...] = [1.0, -2.0, 0.5, 0.0]
    layer.buffers["running_var"][...] = [4.0, 0.25, 1.0, 9.0]
    x = np.random.default_rng(3).standard_normal(SHAPES[layout])
    out = layer.forward(x, training=False)
    gamma, beta = layer.params["gamma"], layer.params["beta"]
    expected = gamma * (x - layer.buffers["running_mean"]) / np.sqrt(layer.buffers["running_var"] + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    np.testing.assert_allclose(layer.forward(x[:1], training=False), expected[:1], rtol=1e-13)
    np.testing.assert_array_equal(layer.buffers["running_mean"], [1.0, -2.0, 0.5, 0.0])  # not updated


def test_a_training_batch_of_one_value_per_feature_is_refused():
    with pytest.raises(ValueError, match="at least 2 values"):
        batchnorm().forward(np.ones((1, 4)))
    batchnorm().forward(np.ones((1, 2, 1, 4)))  # one image, two pixels per channel: fine


def test_float32_stays_float32():
    layer = batchnorm(dtype="float32")
    x = np.random.default_rng(4).standard_normal((6, 4)).astype(np.float32)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32
    assert all(a.dtype == np.float32 for a in (*layer.grads.values(), *layer.buffers.values()))


def test_spec_shape_parameters_and_refused_arguments():
    layer = BatchNorm(8, momentum=0.05, eps=1e-3)
    spec = json.loads(json.dumps(layer.spec()))
    assert spec == {"type": "BatchNorm", "n_features": 8, "momentum": 0.05, "eps": 1e-3, "dtype": "float32"}
    rebuilt = network_from_spec([spec]).layers[0]
    assert rebuilt.spec() == spec
    assert (
        BatchNorm.n_parameters(n_features=8)
        == 32
        == sum(a.size for a in (*rebuilt.params.values(), *rebuilt.buffers.values()))
    )
    assert layer.output_shape((8,)) == (8,) and layer.output_shape((5, 6, 8)) == (5, 6, 8)
    for shape in [(7,), (5, 8), (5, 6, 7)]:
        with pytest.raises(ValueError, match="receives"):
            layer.output_shape(shape)
    for key, value in [("momentum", 0.0), ("momentum", 1.5), ("eps", 0.0), ("eps", float("nan"))]:
        with pytest.raises(ValueError, match=key):
            network_from_spec([{**spec, key: value}])


def mlp_with_batchnorm_and_dropout(dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    # No bias before BatchNorm: the normalization subtracts it again, so its gradient is exactly
    # zero (and its relative error meaningless); see test_a_bias_before_batchnorm_gets_no_gradient.
    layers = [
        Linear(5, 6, bias=False, dtype=dtype),
        BatchNorm(6, dtype=dtype),
        ReLU(),
        Dropout(0.3),
        Linear(6, 3, dtype=dtype),
    ]
    for layer in layers:
        for name, value in layer.params.items():
            value[...] = rng.standard_normal(value.shape) * (0.3 if name == "gamma" else 1) + (name == "gamma")
    layers[3].rng = np.random.default_rng(seed + 1)
    return Sequential(layers)


@pytest.mark.parametrize(
    "optimizer",
    [SGD(), SGD(weight_decay=0.3), Adam(weight_decay=0.3), AdamW(weight_decay=0.3)],
    ids=["plain", "sgd-decay", "adam-decay", "adamw-decay"],
)
def test_whole_mlp_gradcheck_with_batchnorm_dropout_and_weight_decay(optimizer):
    network = mlp_with_batchnorm_and_dropout()
    rng = np.random.default_rng(5)
    x, labels = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    errors = check_network(network, x, labels, softmax_cross_entropy, optimizer)
    assert set(errors) == {"0.W", "1.gamma", "1.beta", "4.W", "4.b"}
    assert max(errors.values()) < 1e-7, errors


def test_whole_conv_network_gradcheck_with_per_channel_batchnorm():
    rng = np.random.default_rng(6)
    conv = Conv2D(3, 4, 3, padding=1, bias=False, dtype="float64")
    conv.params["W"][...] = rng.standard_normal(conv.params["W"].shape) * 0.5
    dropout = Dropout(0.25)
    dropout.rng = np.random.default_rng(7)
    head = Linear(2 * 2 * 4, 3, dtype="float64")
    head.params["W"][...] = rng.standard_normal(head.params["W"].shape)
    network = Sequential(
        [
            ImageReshape(4, 5, 3),
            conv,
            BatchNorm(4, dtype="float64"),
            ReLU(),
            MaxPool2D(2),
            Flatten(),
            Dropout(0.0),
            dropout,
            head,
        ]
    )
    x, labels = rng.standard_normal((3, 4 * 5 * 3)), rng.integers(0, 3, 3)
    errors = check_network(network, x, labels, softmax_cross_entropy, SGD(weight_decay=0.2))
    assert {"1.W", "2.gamma", "2.beta", "8.W", "8.b"} == set(errors)
    assert max(errors.values()) < 1e-7, errors


def test_saved_and_loaded_network_predicts_the_same_probabilities():
    network = mlp_with_batchnorm_and_dropout(dtype="float32")
    rng = np.random.default_rng(8)
    x, labels = rng.standard_normal((16, 5)).astype(np.float32), rng.integers(0, 3, 16)
    optimizer = Adam()
    for _ in range(3):
        network.backward(softmax_cross_entropy(network.forward(x), labels)[1])
        optimizer.step(network, 0.01)
    assert "1.running_mean" in network.state_dict() and "1.running_var" in network.state_dict()
    assert not np.array_equal(network.state_dict()["1.running_mean"], 0)
    rebuilt = network_from_spec(json.loads(json.dumps(network.spec())))
    rebuilt.load_state_dict({path: value.copy() for path, value in network.state_dict().items()})
    expected = softmax(network.forward(x, training=False))
    np.testing.assert_array_equal(softmax(rebuilt.forward(x, training=False)), expected)
    # Prediction is deterministic and dropout-free: the same again, and per sample.
    np.testing.assert_array_equal(softmax(network.forward(x, training=False)), expected)
    assert_same_up_to_batch_rounding(softmax(rebuilt.forward(x[:1], training=False)), expected[:1])


def test_a_bias_before_batchnorm_gets_no_gradient():
    """BatchNorm subtracts each feature's batch mean, and with it any bias added before it."""
    rng = np.random.default_rng(9)
    linear = Linear(5, 4, dtype="float64")
    linear.params["W"][...] = rng.standard_normal((5, 4))
    network = Sequential([linear, batchnorm(), ReLU(), Linear(4, 3, dtype="float64")])
    network.layers[3].params["W"][...] = rng.standard_normal((4, 3))
    x, labels = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    network.backward(softmax_cross_entropy(network.forward(x), labels)[1])
    assert np.abs(linear.grads["b"]).max() < 1e-15 < np.abs(linear.grads["W"]).max()
