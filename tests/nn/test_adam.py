"""Adam and AdamW against the published update rules, written out in float64, and their state."""

import io

import numpy as np
import pytest

from mlpcli.nn import OPTIMIZERS, SGD, Adam, AdamW, Linear, Sequential, build_mlp, softmax_cross_entropy
from mlpcli.nn.gradcheck import check_network
from mlpcli.nn.optim import BLOCK
from mlpcli.nn.reference import adam_step

GRADIENTS = [([0.5, 1.0], [1.0, -1.0]), ([0.25, -3.0], [0.5, -1.0]), ([-2.0, 0.5], [0.0, 3.0])]


def one_layer(W=(1.0, -2.0), b=(0.5, 0.0), dtype="float64"):
    """A Linear(1, 2): W (1, 2), b (2,), with gradients we set by hand."""
    network = Sequential([Linear(1, 2, dtype=dtype)])
    network.layers[0].params["W"][...] = [W]
    network.layers[0].params["b"][...] = b
    return network


def run(optimizer, network, gradients, lr=0.1, scale=1.0):
    layer = network.layers[0]
    for gW, gb in gradients:
        layer.grads["W"][...] = np.multiply([gW], scale)
        layer.grads["b"][...] = np.multiply(gb, scale)
        optimizer.step(network, lr)
    return layer.params["W"][0].copy(), layer.params["b"].copy()


def published(W, gradients, lr, betas=(0.9, 0.999), eps=1e-8, l2=0.0, decoupled=0.0, scale=1.0):
    """``reference.adam_step`` (Kingma & Ba, Algorithm 1) with L2 decay in the gradient (``l2``)
    or Loshchilov & Hutter's decoupled decay (``decoupled``), one parameter array, float64."""
    W = np.array(W, dtype=np.float64)
    m, v = np.zeros_like(W), np.zeros_like(W)
    for t, g in enumerate(gradients, start=1):
        W, m, v = adam_step(W, scale * np.array(g), m, v, t, lr, betas, eps, l2 or decoupled, bool(decoupled))
    return W


def test_the_first_step_by_hand():
    # Step 1: m_hat = g and v_hat = g^2, so W <- W - lr g / (|g| + eps), about lr sign(g).
    W, b = run(Adam(), one_layer(), GRADIENTS[:1], lr=0.1)
    np.testing.assert_allclose(W, [1.0 - 0.1, -2.0 - 0.1], atol=1e-8)
    np.testing.assert_allclose(b, [0.5 - 0.1, 0.0 + 0.1], atol=1e-8)
    # AdamW, wd 0.1: W <- W - lr wd W - lr sign(g) = [1 - 0.01 - 0.1, -2 + 0.02 - 0.1]; b not decayed.
    W, b = run(AdamW(weight_decay=0.1), one_layer(), GRADIENTS[:1], lr=0.1)
    np.testing.assert_allclose(W, [0.89, -2.08], atol=1e-8)
    np.testing.assert_allclose(b, [0.4, 0.1], atol=1e-8)


@pytest.mark.parametrize("betas, eps", [((0.9, 0.999), 1e-8), ((0.5, 0.9), 0.1)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
def test_adam_three_steps_follow_the_paper(weight_decay, betas, eps):
    W, b = run(Adam(betas, eps, weight_decay), one_layer(), GRADIENTS, lr=0.1)
    np.testing.assert_allclose(
        W, published([1.0, -2.0], [g for g, _ in GRADIENTS], 0.1, betas, eps, l2=weight_decay), rtol=1e-14
    )
    # Biases are never decayed.
    np.testing.assert_allclose(
        b, published([0.5, 0.0], [g for _, g in GRADIENTS], 0.1, betas, eps), rtol=1e-14, atol=1e-16
    )


@pytest.mark.parametrize("betas, eps", [((0.9, 0.999), 1e-8), ((0.5, 0.9), 0.1)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
def test_adamw_three_steps_follow_the_paper(weight_decay, betas, eps):
    W, b = run(AdamW(betas, eps, weight_decay), one_layer(), GRADIENTS, lr=0.1)
    np.testing.assert_allclose(
        W, published([1.0, -2.0], [g for g, _ in GRADIENTS], 0.1, betas, eps, decoupled=weight_decay), rtol=1e-14
    )
    np.testing.assert_allclose(
        b, published([0.5, 0.0], [g for _, g in GRADIENTS], 0.1, betas, eps), rtol=1e-14, atol=1e-16
    )


def decay_part(optimizer_class, scale):
    """How far the weight decay moves W over three steps, with the gradients scaled by ``scale``."""
    with_decay = run(optimizer_class(weight_decay=0.3), one_layer(), GRADIENTS, scale=scale)[0]
    without = run(optimizer_class(), one_layer(), GRADIENTS, scale=scale)[0]
    return with_decay - without


def test_adamw_decay_does_not_depend_on_the_gradient_scale():
    np.testing.assert_allclose(decay_part(AdamW, 1000.0), decay_part(AdamW, 1.0), rtol=1e-6)
    assert np.all(np.abs(decay_part(AdamW, 1.0)) > 1e-3)
    # Plain Adam's decay goes through the gradient's normalization: larger gradients drown it.
    assert np.all(np.abs(decay_part(Adam, 1000.0)) < 0.01 * np.abs(decay_part(Adam, 1.0)))


def npz_round_trip(state):
    """The state as a checkpoint stores it: an npz read back without pickle."""
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


@pytest.mark.parametrize("optimizer_class", [Adam, AdamW])
def test_state_dict_round_trip_continues_bit_for_bit(optimizer_class):
    kwargs = {"weight_decay": 0.1}
    reference = run(optimizer_class(**kwargs), one_layer(dtype="float32"), GRADIENTS)
    network, first = one_layer(dtype="float32"), optimizer_class(**kwargs)
    run(first, network, GRADIENTS[:2])
    state = npz_round_trip(first.state_dict())
    assert set(state) == {"m/0.W", "v/0.W", "step/0.W", "m/0.b", "v/0.b", "step/0.b"}
    resumed = optimizer_class(**kwargs)
    resumed.load_state_dict(state)
    state["m/0.W"] += 100.0  # loading copied the arrays
    result = run(resumed, network, GRADIENTS[2:])
    for got, want in zip(result, reference):
        np.testing.assert_array_equal(got, want)
    # Without the loaded moments the third step differs, so the comparison above has teeth.
    network = one_layer(dtype="float32")
    run(optimizer_class(**kwargs), network, GRADIENTS[:2])
    fresh = run(optimizer_class(**kwargs), network, GRADIENTS[2:])
    assert not np.allclose(fresh[0], reference[0])


@pytest.mark.parametrize(
    "state", [{"0.W": np.zeros((1, 2))}, {"m/0.W": np.zeros((1, 2))}], ids=["sgd-state", "incomplete"]
)
def test_load_state_dict_refuses_other_states(state):
    with pytest.raises(ValueError, match="state"):
        Adam().load_state_dict(state)
    with pytest.raises(ValueError, match="another optimizer"):
        SGD(0.9).load_state_dict(Adam().state_dict() | {"m/0.W": np.zeros(2)})


def naive_adam(W, grads, lr, betas, eps, decay, decoupled):
    """The update on whole arrays in the order of operations of ``Adam._update`` (undamped sums)."""
    f = W.dtype.type
    m, v = np.zeros_like(W), np.zeros_like(W)
    for t, g in enumerate(grads, start=1):
        r = np.sqrt((1 - betas[1]) / (1 - betas[1] ** t))
        step_size, eps_hat = lr * (1 - betas[0]) / ((1 - betas[0] ** t) * r), eps / r
        g = g if decoupled or not decay else W * f(decay) + g
        m = m * f(betas[0]) + g
        v = v * f(betas[1]) + g * g
        if decoupled and decay:
            W = W * f(1 - lr * decay)
        W = W - m / (np.sqrt(v) + f(eps_hat)) * f(step_size)
    return W


@pytest.mark.parametrize("optimizer_class", [Adam, AdamW])
@pytest.mark.parametrize("decay", [0.0, 1e-2])
def test_blocked_update_equals_the_whole_array_formula_bit_for_bit(optimizer_class, decay):
    rng = np.random.default_rng(0)
    network = Sequential([Linear(300, 250, dtype="float32")])
    layer = network.layers[0]
    assert layer.params["W"].size > 2 * BLOCK
    layer.params["W"][...] = rng.standard_normal((300, 250))
    W0, grads = layer.params["W"].copy(), []
    optimizer = optimizer_class(weight_decay=decay)
    for _ in range(3):
        layer.grads["W"][...] = rng.standard_normal((300, 250))
        grads.append(layer.grads["W"].copy())
        optimizer.step(network, np.float64(1e-2))
    expected = naive_adam(W0, grads, 1e-2, (0.9, 0.999), 1e-8, decay, optimizer_class is AdamW)
    np.testing.assert_array_equal(layer.params["W"], expected)
    assert layer.params["W"].dtype == np.float32
    assert all(value.dtype in (np.float32, np.int64) for value in optimizer.state_dict().values())


def test_each_parameter_counts_its_own_steps():
    """A layer unfrozen later starts with t = 1: its first step is lr * sign(g), bias-corrected."""
    network = Sequential([Linear(1, 2, dtype="float64"), Linear(2, 2, dtype="float64")])
    for layer in network.layers:
        layer.grads["W"][...] = 0.5
        layer.grads["b"][...] = -0.5
    network.layers[0].trainable = False
    optimizer = Adam()
    optimizer.step(network, 0.1)
    optimizer.step(network, 0.1)
    network.layers[0].trainable = True
    optimizer.step(network, 0.1)
    np.testing.assert_allclose(network.layers[0].params["W"], -0.1, rtol=1e-7)
    assert int(optimizer.state_dict()["step/0.W"]) == 1 and int(optimizer.state_dict()["step/1.W"]) == 3


def test_gradcheck_with_adam_and_adamw():
    rng = np.random.default_rng(4)
    network = build_mlp(4, 3, [5], "tanh", rng=rng, dtype="float64")
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    errors = check_network(network, x, labels, softmax_cross_entropy, Adam(weight_decay=0.5))
    assert max(errors.values()) < 1e-7, errors
    # AdamW's decay is outside the gradient: the check covers the data gradient alone.
    errors = check_network(network, x, labels, softmax_cross_entropy, AdamW(weight_decay=0.5))
    assert max(errors.values()) < 1e-7, errors
    data_gradient = {path: layer.grads[name] for path, layer, name in network.named_parameters()}
    for path, applied in AdamW(weight_decay=0.5).gradients(network).items():
        np.testing.assert_array_equal(applied, data_gradient[path])


@pytest.mark.parametrize("kwargs", [{"betas": (1.0, 0.999)}, {"betas": (0.9,)}, {"eps": 0.0}, {"weight_decay": -1.0}])
def test_invalid_hyperparameters_are_refused(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Adam(**kwargs)


def test_registry():
    assert OPTIMIZERS == {"sgd": SGD, "adam": Adam, "adamw": AdamW}
