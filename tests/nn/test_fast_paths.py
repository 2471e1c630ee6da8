"""The speed-ups keep the numbers: blocked SGD, fused weight decay, Linear's bias gradient, the loss."""

import numpy as np
import pytest

from mlpcli.nn import SGD, Linear, Sequential, build_mlp, softmax, softmax_cross_entropy
from mlpcli.nn.optim import BLOCK, blocks
from mlpcli.nn.reference import sgd_step


def big_network(seed=0, dtype="float32"):
    """Linear(300, 250): W has 75,000 entries, more than two blocks of the update."""
    rng = np.random.default_rng(seed)
    network = Sequential([Linear(300, 250, dtype=dtype)])
    layer = network.layers[0]
    for name in layer.params:
        layer.params[name][...] = rng.standard_normal(layer.params[name].shape)
    return network, layer, rng


def set_grads(layer, rng):
    for name in layer.grads:
        layer.grads[name][...] = rng.standard_normal(layer.grads[name].shape)


def naive_steps(W, grads, lr, momentum, nesterov, decay=0.0):
    """``reference.sgd_step`` on whole arrays, step after step. With Python-float hyperparameters
    NumPy keeps float32 arrays in float32, and the blocked update makes the same operations, so
    the two agree bit for bit."""
    v = np.zeros_like(W)
    for g in grads:
        W, v = sgd_step(W, g, v, lr, momentum, nesterov, decay)
    return W


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("decay", [0.0, 1e-3])
def test_blocked_update_equals_the_whole_array_formula_bit_for_bit(momentum, nesterov, decay):
    network, layer, rng = big_network()
    assert layer.params["W"].size > 2 * BLOCK
    W0 = layer.params["W"].copy()
    optimizer = SGD(momentum, nesterov, weight_decay=decay)
    grads = []
    for _ in range(3):
        set_grads(layer, rng)
        grads.append(layer.grads["W"].copy())
        optimizer.step(network, 0.05)
    np.testing.assert_array_equal(layer.params["W"], naive_steps(W0, grads, 0.05, momentum, nesterov, decay))


@pytest.mark.parametrize("nesterov", [False, True])
def test_optimizer_weight_decay_equals_its_decayed_gradients(nesterov):
    """Stepping with decay = stepping without decay along ``gradients()``: the gradient the
    check verifies is the gradient the update takes, bit for bit."""
    fused, layer_fused, rng = big_network(1)
    separate, layer_separate, _ = big_network(1)
    fused_sgd, separate_sgd = SGD(0.9, nesterov, weight_decay=5e-4), SGD(0.9, nesterov)
    for _ in range(3):
        set_grads(layer_fused, rng)
        for name in layer_fused.grads:
            layer_separate.grads[name][...] = layer_fused.grads[name]
        fused_sgd.step(fused, 0.1)
        for path, applied in fused_sgd.gradients(separate).items():
            layer_separate.grads[path.split(".")[1]][...] = applied
        separate_sgd.step(separate, 0.1)
    for name in ("W", "b"):
        np.testing.assert_array_equal(layer_fused.params[name], layer_separate.params[name])


def test_optimizer_weight_decay_skips_biases_and_frozen_layers():
    network = Sequential([Linear(2, 2, dtype="float64"), Linear(2, 2, dtype="float64")])
    for layer in network.layers:
        layer.params["W"][...] = 1.0
        layer.params["b"][...] = 1.0
        layer.allocate_grads()  # zero gradients: only the decay moves anything
    network.layers[0].trainable = False
    SGD(weight_decay=0.5).step(network, 0.1)
    np.testing.assert_array_equal(network.layers[0].params["W"], 1.0)
    np.testing.assert_allclose(network.layers[1].params["W"], 1.0 - 0.1 * 0.5)
    np.testing.assert_array_equal(network.layers[1].params["b"], 1.0)


def test_negative_weight_decay_is_rejected():
    with pytest.raises(ValueError, match="weight_decay"):
        SGD(0.9, weight_decay=-1.0)


def test_float64_scalars_keep_float32_and_the_float32_result():
    network, layer, rng = big_network(2)
    twin, twin_layer, _ = big_network(2)
    set_grads(layer, rng)
    for name in layer.grads:
        twin_layer.grads[name][...] = layer.grads[name]
    SGD(0.9, weight_decay=np.float64(1e-3)).step(network, np.float64(0.01))
    SGD(0.9, weight_decay=1e-3).step(twin, 0.01)
    assert layer.params["W"].dtype == np.float32
    np.testing.assert_array_equal(layer.params["W"], twin_layer.params["W"])


def test_gradients_add_the_decay_to_weights_only_and_leave_grads_alone():
    network = build_mlp(20, 3, [8], rng=np.random.default_rng(3), dtype="float64")
    rng = np.random.default_rng(4)
    for layer in network.layers:
        set_grads(layer, rng)
    before = {path: layer.grads[name].copy() for path, layer, name in network.named_parameters()}
    applied = SGD(weight_decay=0.1).gradients(network)
    for path, layer, name in network.named_parameters():
        np.testing.assert_array_equal(layer.grads[name], before[path])
        expected = before[path] + 0.1 * layer.params[name] if name == "W" else before[path]
        np.testing.assert_allclose(applied[path], expected, rtol=1e-15)


def test_blocks_cover_contiguous_arrays_and_pass_others_whole():
    a = np.arange(2 * BLOCK + 5, dtype=np.float32)
    parts = list(blocks(a, a.copy(), None))
    assert sum(p[0].size for p in parts) == a.size and all(p[2] is None for p in parts)
    assert all(np.shares_memory(p[0], a) for p in parts)
    strided = np.zeros((2 * BLOCK, 2), np.float32)[:, 0]
    assert len(list(blocks(strided, strided))) == 1


def test_linear_bias_gradient_follows_the_batch_size():
    layer = Linear(4, 3, dtype="float64")
    rng = np.random.default_rng(5)
    for n in (5, 3, 5):
        layer.forward(rng.standard_normal((n, 4)))
        dout = rng.standard_normal((n, 3))
        layer.backward(dout)
        np.testing.assert_allclose(layer.grads["b"], dout.sum(axis=0), rtol=1e-14)


@pytest.mark.parametrize("shape", [(200, 10), (3, 100), (1, 2)])
def test_softmax_cross_entropy_matches_the_direct_formula_in_float32(shape):
    rng = np.random.default_rng(6)
    scores = (rng.standard_normal(shape) * 4).astype(np.float32)
    labels = rng.integers(0, shape[1], shape[0])
    loss, dscores = softmax_cross_entropy(scores, labels)
    reference = scores.astype(np.float64)
    p = np.exp(reference - reference.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(shape[0]), labels])), rel=1e-5)
    p[np.arange(shape[0]), labels] -= 1
    np.testing.assert_allclose(dscores, p / shape[0], atol=1e-7)
    assert dscores.dtype == np.float32 and dscores.flags.c_contiguous
    np.testing.assert_allclose(softmax(scores).sum(axis=1), 1.0, rtol=1e-6)
