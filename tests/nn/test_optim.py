"""SGD against hand-worked steps (PyTorch's momentum convention), freezing and state round trips."""

import numpy as np
import pytest

from mlpcli.nn import SGD, Linear, Sequential


def one_layer(W=(1.0, -2.0), b=(0.0, 0.0)):
    """A Linear(1, 2): W (1, 2), b (2,), with gradients we set by hand."""
    network = Sequential([Linear(1, 2, dtype="float64")])
    network.layers[0].params["W"][...] = [W]
    network.layers[0].params["b"][...] = b
    return network


def step(optimizer, network, lr, gW, gb):
    layer = network.layers[0]
    layer.grads["W"][...] = [gW]
    layer.grads["b"][...] = gb
    optimizer.step(network, lr)
    return layer.params["W"][0].tolist(), layer.params["b"].tolist()


def test_plain_sgd_step():
    # W <- W - lr g: [1, -2] - 0.1 * [0.5, 1] = [0.95, -2.1]; b: [0, 0] - 0.1 * [1, -1]
    network, optimizer = one_layer(), SGD()
    W, b = step(optimizer, network, 0.1, [0.5, 1.0], [1.0, -1.0])
    assert W == pytest.approx([0.95, -2.1], abs=1e-15)
    assert b == pytest.approx([-0.1, 0.1], abs=1e-15)
    assert optimizer.state_dict() == {}  # no momentum, no state
    # Second step is independent of the first: [0.95, -2.1] - 0.1 * [0.25, -1] = [0.925, -2.0]
    W, b = step(optimizer, network, 0.1, [0.25, -1.0], [1.0, -1.0])
    assert W == pytest.approx([0.925, -2.0], abs=1e-15)
    assert b == pytest.approx([-0.2, 0.2], abs=1e-15)


def test_momentum_two_steps_by_hand():
    # lr = 0.1, mu = 0.9; v <- mu v + g; W <- W - lr v.
    # Step 1: v_W = [0.5, 1];                        W = [1, -2] - 0.1 [0.5, 1]       = [0.95, -2.1]
    #         v_b = [1, -1];                         b = [0, 0] - 0.1 [1, -1]         = [-0.1, 0.1]
    # Step 2: v_W = 0.9 [0.5, 1] + [0.25, -1] = [0.7, -0.1];  W = [0.95 - 0.07, -2.1 + 0.01] = [0.88, -2.09]
    #         v_b = 0.9 [1, -1] + [1, -1] = [1.9, -1.9];       b = [-0.1 - 0.19, 0.1 + 0.19] = [-0.29, 0.29]
    network, optimizer = one_layer(), SGD(momentum=0.9)
    W, b = step(optimizer, network, 0.1, [0.5, 1.0], [1.0, -1.0])
    assert W == pytest.approx([0.95, -2.1], abs=1e-14)
    assert b == pytest.approx([-0.1, 0.1], abs=1e-14)
    W, b = step(optimizer, network, 0.1, [0.25, -1.0], [1.0, -1.0])
    assert W == pytest.approx([0.88, -2.09], abs=1e-14)
    assert b == pytest.approx([-0.29, 0.29], abs=1e-14)
    state = optimizer.state_dict()
    assert set(state) == {"0.W", "0.b"}
    np.testing.assert_allclose(state["0.W"], [[0.7, -0.1]], atol=1e-15)
    np.testing.assert_allclose(state["0.b"], [1.9, -1.9], atol=1e-15)


def test_nesterov_two_steps_by_hand():
    # lr = 0.1, mu = 0.9; v <- mu v + g; W <- W - lr (g + mu v).
    # Step 1: v = [0.5, 1]; g + mu v = [0.95, 1.9]; W = [1 - 0.095, -2 - 0.19] = [0.905, -2.19]
    # Step 2: v = [0.7, -0.1]; g + mu v = [0.25 + 0.63, -1 - 0.09] = [0.88, -1.09];
    #         W = [0.905 - 0.088, -2.19 + 0.109] = [0.817, -2.081]
    # b: step 1 v = [1, -1], g + mu v = [1.9, -1.9], b = [-0.19, 0.19];
    #    step 2 v = [1.9, -1.9], g + mu v = [2.71, -2.71], b = [-0.461, 0.461]
    network, optimizer = one_layer(), SGD(momentum=0.9, nesterov=True)
    W, b = step(optimizer, network, 0.1, [0.5, 1.0], [1.0, -1.0])
    assert W == pytest.approx([0.905, -2.19], abs=1e-14)
    assert b == pytest.approx([-0.19, 0.19], abs=1e-14)
    W, b = step(optimizer, network, 0.1, [0.25, -1.0], [1.0, -1.0])
    assert W == pytest.approx([0.817, -2.081], abs=1e-14)
    assert b == pytest.approx([-0.461, 0.461], abs=1e-14)


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=0.0, nesterov=True)


def test_frozen_layer_does_not_change_and_keeps_no_state():
    network = Sequential([Linear(2, 3, dtype="float64"), Linear(3, 2, dtype="float64")])
    rng = np.random.default_rng(0)
    for layer in network.layers:
        for name in layer.params:
            layer.params[name][...] = rng.standard_normal(layer.params[name].shape)
            layer.grads[name][...] = rng.standard_normal(layer.params[name].shape)
    network.layers[0].trainable = False
    before = {path: value.copy() for path, value in network.state_dict().items()}
    optimizer = SGD(momentum=0.9, nesterov=True)
    optimizer.step(network, 0.5)
    optimizer.step(network, 0.5)
    for path in ("0.W", "0.b"):
        np.testing.assert_array_equal(network.state_dict()[path], before[path])
    for path in ("1.W", "1.b"):
        assert not np.array_equal(network.state_dict()[path], before[path])
    assert set(optimizer.state_dict()) == {"1.W", "1.b"}


def run_steps(optimizer, network, gradients, lr=0.1):
    for gW, gb in gradients:
        step(optimizer, network, lr, gW, gb)
    return network.layers[0].params["W"].copy(), network.layers[0].params["b"].copy()


@pytest.mark.parametrize("nesterov", [False, True])
def test_optimizer_state_dict_round_trips(nesterov):
    gradients = [([0.5, 1.0], [1.0, -1.0]), ([0.25, -1.0], [1.0, -1.0]), ([-2.0, 0.5], [0.0, 3.0])]
    # Reference: three steps with one optimizer.
    reference = run_steps(SGD(0.9, nesterov), one_layer(), gradients)
    # Resume: two steps, save (as arrays on disk would be: copies), fresh optimizer, load, third step.
    first, network = SGD(0.9, nesterov), one_layer()
    run_steps(first, network, gradients[:2])
    saved = {path: np.array(value) for path, value in first.state_dict().items()}
    resumed = SGD(0.9, nesterov)
    resumed.load_state_dict(saved)
    saved["0.W"] += 100.0  # loading copied the arrays
    result = run_steps(resumed, network, gradients[2:])
    for got, want in zip(result, reference):
        np.testing.assert_allclose(got, want, rtol=1e-15)
    # Without the loaded velocities the third step differs, so the comparison above has teeth.
    network = one_layer()
    run_steps(SGD(0.9, nesterov), network, gradients[:2])
    fresh = run_steps(SGD(0.9, nesterov), network, gradients[2:])
    assert not np.allclose(fresh[0], reference[0])


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_step_keeps_float32_weights_and_state(momentum, nesterov):
    network = Sequential([Linear(3, 2, dtype="float32")])
    layer = network.layers[0]
    layer.grads["W"][...] = 1.0
    layer.grads["b"][...] = -1.0
    optimizer = SGD(momentum, nesterov)
    optimizer.step(network, np.float64(0.01))
    assert layer.params["W"].dtype == layer.params["b"].dtype == np.float32
    np.testing.assert_allclose(layer.params["W"], -0.01 * (1 + momentum * nesterov), rtol=1e-6)
    assert all(v.dtype == np.float32 for v in optimizer.state_dict().values())
