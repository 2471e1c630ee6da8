"""Sequential networks: whole-network gradchecks, weight decay, freezing, state, spec, dtypes."""

import json

import numpy as np
import pytest

from mlpcli.nn import (
    LAYERS,
    LOSSES,
    SGD,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    build_mlp,
    network_from_spec,
    softmax_cross_entropy,
    squared_error,
)
from mlpcli.nn.gradcheck import check_network

TOLERANCE = 1e-7
N_SAMPLES, N_FEATURES, N_CLASSES = 8, 5, 4


def data(seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N_SAMPLES, N_FEATURES)).astype(dtype)
    return x, rng.integers(0, N_CLASSES, size=N_SAMPLES)


def randomize_biases(network, rng):
    """build_mlp starts biases at 0; random ones make the bias gradient checks meaningful."""
    for layer in network.layers:
        if "b" in layer.params:
            layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)


def mlp(hidden, activation="relu", seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    network = build_mlp(N_FEATURES, N_CLASSES, hidden, activation, rng=rng, dtype=dtype)
    randomize_biases(network, rng)
    return network


@pytest.mark.parametrize("loss", ["softmax", "squared"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("hidden", [[], [6], [6, 7, 5]], ids=["depth0", "depth1", "depth3"])
def test_network_gradcheck(hidden, activation, loss):
    network = mlp(hidden, activation)
    x, labels = data()
    errors = check_network(network, x, labels, LOSSES[loss])
    assert len(errors) == 2 * (len(hidden) + 1)  # W and b of every Linear
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("loss", ["softmax", "squared"])
def test_network_gradcheck_with_weight_decay(loss):
    network = mlp([6, 7], "tanh")
    x, labels = data()
    errors = check_network(network, x, labels, LOSSES[loss], SGD(weight_decay=0.3))
    assert max(errors.values()) < TOLERANCE, errors


def test_weight_decay_applies_to_W_not_b():
    network = Sequential([Linear(2, 2, dtype="float64"), ReLU(), Linear(2, 1, dtype="float64")])
    first, last = network.layers[0], network.layers[2]
    first.params["W"][...] = [[1.0, -2.0], [0.5, 0.0]]
    first.params["b"][...] = [10.0, 10.0]
    last.params["W"][...] = [[3.0], [-1.0]]
    last.params["b"][...] = [-7.0]
    for layer in (first, last):
        for grad in layer.grads.values():
            grad[...] = 1.0
    applied = SGD(weight_decay=0.2).gradients(network)
    # grad_W + 0.2 * W; grad_b untouched (decayed biases would give 1 + 0.2 * 10 = 3).
    np.testing.assert_allclose(applied["0.W"], [[1.2, 0.6], [1.1, 1.0]], rtol=1e-14)
    np.testing.assert_allclose(applied["2.W"], [[1.6], [0.8]], rtol=1e-14)
    np.testing.assert_array_equal(applied["0.b"], [1.0, 1.0])
    np.testing.assert_array_equal(applied["2.b"], [1.0])
    # The layers' own gradients stay the data gradients.
    assert all((grad == 1.0).all() for layer in (first, last) for grad in layer.grads.values())


def test_weight_decay_zero_changes_nothing_and_frozen_layers_are_not_decayed():
    network = mlp([3])
    for layer in network.layers:
        for grad in layer.grads.values():
            grad[...] = 0.0
    assert all(not grad.any() for grad in SGD(weight_decay=0.0).gradients(network).values())
    network.layers[0].trainable = False
    applied = SGD(weight_decay=0.5).gradients(network)
    assert set(applied) == {"2.W", "2.b"}
    np.testing.assert_allclose(applied["2.W"], 0.5 * network.layers[2].params["W"], rtol=1e-14)
    assert not applied["2.b"].any()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_gradient_has_the_shape_and_dtype_of_its_variable(dtype):
    network = mlp([6, 3], "sigmoid", dtype=dtype)
    x, labels = data(dtype=dtype)
    scores = network.forward(x)
    assert scores.shape == (N_SAMPLES, N_CLASSES) and scores.dtype == np.dtype(dtype)
    _, dscores = softmax_cross_entropy(scores, labels)
    network.backward(dscores)
    applied = SGD(weight_decay=1e-3).gradients(network)
    for path, layer, name in network.named_parameters():
        assert layer.grads[name].shape == applied[path].shape == layer.params[name].shape, path
        assert layer.grads[name].dtype == applied[path].dtype == layer.params[name].dtype == np.dtype(dtype), path


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("loss_fn", [softmax_cross_entropy, squared_error])
def test_float32_stays_float32_through_a_training_step(loss_fn, momentum, nesterov):
    network = build_mlp(N_FEATURES, N_CLASSES, [6], "relu", rng=np.random.default_rng(0), dtype="float32")
    x, labels = data(dtype="float32")
    optimizer = SGD(momentum, nesterov, weight_decay=np.float64(1e-2))
    before = {path: value.copy() for path, value in network.state_dict().items()}
    for _ in range(2):
        scores = network.forward(x)
        assert scores.dtype == np.float32
        loss, dscores = loss_fn(scores, labels)
        assert dscores.dtype == np.float32
        network.backward(dscores)
        assert all(layer.grads[name].dtype == np.float32 for _, layer, name in network.named_parameters())
        optimizer.step(network, np.float64(0.1))
    for path, value in network.state_dict().items():
        assert value.dtype == np.float32, path
        assert not np.array_equal(value, before[path]), path
    assert all(v.dtype == np.float32 for v in optimizer.state_dict().values())


def test_build_mlp_dtype_and_structure():
    network = build_mlp(N_FEATURES, N_CLASSES, [6, 7], "tanh", dtype="float64")
    assert network.dtype == np.float64
    assert all(value.dtype == np.float64 for value in network.state_dict().values())
    names = [type(layer).__name__ for layer in network.layers]
    assert names == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    shapes = [value.shape for value in network.state_dict().values()]
    assert shapes == [(5, 6), (6,), (6, 7), (7,), (7, 4), (4,)]
    assert build_mlp(3, 2, [], dtype="float32").dtype == np.float32


def test_hidden_empty_is_the_linear_classifier():
    network = build_mlp(N_FEATURES, N_CLASSES, [], dtype="float64")
    assert len(network.layers) == 1 and isinstance(network.layers[0], Linear)
    assert network.layers[0].params["W"].shape == (N_FEATURES, N_CLASSES)
    x, _ = data()
    np.testing.assert_allclose(network.forward(x), x @ network.layers[0].params["W"])


def snapshot(network):
    return {path: value.copy() for path, value in network.state_dict().items()}


def test_state_dict_round_trip():
    network, x = mlp([6]), data()[0]
    saved, expected = snapshot(network), network.forward(x).copy()
    for layer in network.layers:
        for value in layer.params.values():
            value += 1.0
    assert not np.allclose(network.forward(x), expected)
    network.load_state_dict(saved)
    np.testing.assert_array_equal(network.forward(x), expected)
    # Loading copies: later changes to the saved arrays do not reach the network.
    saved["0.W"] += 1.0
    np.testing.assert_array_equal(network.forward(x), expected)
    assert list(network.state_dict()) == ["0.W", "0.b", "2.W", "2.b"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.pop("2.b"),
        lambda s: s.update({"3.W": np.zeros((6, 4))}),
        lambda s: s.update({"2.W": np.zeros((4, 6))}),
        lambda s: s.update({"2.b": np.zeros((1, 4))}),
    ],
    ids=["missing", "extra", "transposed", "extra-axis"],
)
def test_load_state_dict_rejects_wrong_names_and_shapes(mutate):
    network = mlp([6])
    state = {path: np.zeros_like(value) for path, value in network.state_dict().items()}
    mutate(state)
    before = snapshot(network)
    with pytest.raises(ValueError, match="expected"):
        network.load_state_dict(state)
    # A rejected state leaves every parameter as it was (no half-loaded network).
    for path, value in network.state_dict().items():
        np.testing.assert_array_equal(value, before[path])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spec_rebuilds_an_identical_network(dtype):
    network = mlp([6, 3], "sigmoid", dtype=dtype)
    x = data(dtype=dtype)[0]
    specs = json.loads(json.dumps(network.spec()))
    rebuilt = network_from_spec(specs)
    assert rebuilt.spec() == network.spec()
    assert all(not value.any() for value in rebuilt.state_dict().values())  # weights start zeroed
    rebuilt.load_state_dict(snapshot(network))
    assert rebuilt.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(rebuilt.forward(x.copy()), network.forward(x.copy()))


def test_network_from_spec_rejects_unknown_types():
    assert set(LAYERS) >= {"Linear", "ReLU", "Sigmoid", "Tanh"}
    with pytest.raises(ValueError, match="unknown layer type"):
        network_from_spec([{"type": "Dense", "n_in": 2, "n_out": 2}])


class Forbidden(Linear):
    """A Linear whose backward must never run."""

    def backward(self, dout):
        raise AssertionError("backward ran below the first trainable layer")


def test_backward_stops_at_the_first_trainable_layer():
    rng = np.random.default_rng(3)
    frozen = Forbidden(N_FEATURES, 6, dtype="float64")
    frozen.params["W"][...] = rng.standard_normal((N_FEATURES, 6))
    frozen.trainable = False
    network = Sequential(
        [frozen, Sigmoid(inplace=True), Linear(6, 4, dtype="float64"), Sigmoid(), Linear(4, N_CLASSES, dtype="float64")]
    )
    randomize_biases(network, rng)
    for layer in network.layers[2:]:
        if "W" in layer.params:
            layer.params["W"][...] = rng.standard_normal(layer.params["W"].shape)
    x, labels = data()
    before = snapshot(network)
    errors = check_network(network, x, labels, softmax_cross_entropy, SGD(weight_decay=0.1))
    assert set(errors) == {"2.W", "2.b", "4.W", "4.b"}
    assert max(errors.values()) < TOLERANCE, errors
    # The first trainable layer is told not to compute dx; those above it are.
    assert network.layers[2].needs_input_grad is False
    assert network.layers[4].needs_input_grad is True
    optimizer = SGD(momentum=0.9)
    optimizer.step(network, 0.1)
    np.testing.assert_array_equal(frozen.params["W"], before["0.W"])
    assert not np.array_equal(network.layers[2].params["W"], before["2.W"])
    assert set(optimizer.state_dict()) == {"2.W", "2.b", "4.W", "4.b"}


def test_unfreezing_restores_the_full_backward():
    network = mlp([6], "tanh")
    x, labels = data()
    network.layers[0].trainable = False
    network.backward(softmax_cross_entropy(network.forward(x), labels)[1])
    assert network.layers[2].needs_input_grad is False
    network.layers[0].trainable = True
    errors = check_network(network, x, labels, softmax_cross_entropy)
    assert set(errors) == {"0.W", "0.b", "2.W", "2.b"}
    assert max(errors.values()) < TOLERANCE, errors
    assert network.layers[2].needs_input_grad is True


def test_fully_frozen_network_backward_is_a_no_op():
    network = mlp([6])
    for layer in network.layers:
        layer.trainable = False
    x, labels = data()
    before = snapshot(network)
    network.backward(softmax_cross_entropy(network.forward(x), labels)[1])
    assert SGD(weight_decay=0.5).gradients(network) == {}
    SGD(momentum=0.9, weight_decay=0.5).step(network, 1.0)
    for path, value in network.state_dict().items():
        np.testing.assert_array_equal(value, before[path])


class Counter(Linear):
    """A Linear with a buffer: how many training batches it has seen."""

    def __init__(self, n_in, n_out, dtype="float64"):
        super().__init__(n_in, n_out, dtype=dtype)
        self.buffers["seen"] = np.zeros(1, dtype=dtype)

    def forward(self, x, training=True):
        if training:
            self.buffers["seen"] += 1
        return super().forward(x, training)


def test_buffers_are_saved_and_loaded_but_not_trained():
    network = Sequential([Counter(N_FEATURES, 6), ReLU(), Linear(6, N_CLASSES, dtype="float64")])
    x, labels = data()
    network.backward(softmax_cross_entropy(network.forward(x), labels)[1])
    assert [path for path, _, _ in network.named_parameters()] == ["0.W", "0.b", "2.W", "2.b"]
    assert [path for path, _, _ in network.named_buffers()] == ["0.seen"]
    assert list(network.state_dict()) == ["0.W", "0.b", "0.seen", "2.W", "2.b"]
    optimizer = SGD(momentum=0.9, weight_decay=0.1)
    optimizer.step(network, 0.1)
    assert "0.seen" not in optimizer.state_dict() and network.layers[0].buffers["seen"][0] == 1
    saved = snapshot(network)
    network.forward(x)
    assert network.layers[0].buffers["seen"][0] == 2
    network.load_state_dict(saved)
    assert network.layers[0].buffers["seen"][0] == 1
    with pytest.raises(ValueError, match="0.seen"):
        network.load_state_dict({k: v for k, v in saved.items() if k != "0.seen"})


def test_check_network_leaves_buffers_as_they_were():
    network = Sequential([Counter(N_FEATURES, N_CLASSES)])
    x, labels = data()
    errors = check_network(network, x, labels, softmax_cross_entropy)
    assert max(errors.values()) < TOLERANCE
    assert network.layers[0].buffers["seen"][0] == 0
