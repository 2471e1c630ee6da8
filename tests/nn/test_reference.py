"""Each optimized layer and optimizer against its naive reference in ``mlpcli.nn.reference``.

Everything in float64. The two sides compute the same sums in different orders (BLAS blocks,
im2col, the fused batch-norm backward), so they agree to rounding, not bit for bit: rtol 1e-10
with atol 1e-12 for values of order 1, some 10^5 times float64's epsilon, far below any real
mistake (a wrong term is off by order 1). Max-pooling only selects values: it must agree exactly,
but where windows overlap its dx adds gradients in another order, so there the tolerance holds.
"""

import numpy as np
import pytest

from mlpcli.nn import SGD, Adam, AdamW, BatchNorm, Conv2D, Linear, MaxPool2D, Sequential
from mlpcli.nn import reference as ref

TOLERANCE = {"rtol": 1e-10, "atol": 1e-12}


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, **TOLERANCE)


def randomized(layer, rng):
    for value in layer.params.values():
        value[...] = rng.standard_normal(value.shape)
    return layer


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_the_formulas(bias):
    rng = np.random.default_rng(0)
    layer = randomized(Linear(5, 3, bias=bias, dtype="float64"), rng)
    x, dout = rng.standard_normal((7, 5)), rng.standard_normal((7, 3))
    close(layer.forward(x), ref.linear_forward(x, layer.params["W"], layer.params.get("b")))
    dx = layer.backward(dout)
    expected_dx, expected_dW, expected_db = ref.linear_backward(dout, x, layer.params["W"])
    close(dx, expected_dx)
    close(layer.grads["W"], expected_dW)
    if bias:
        close(layer.grads["b"], expected_db)


# (kernel, stride, padding): stride 1 with padding < kernel takes the transposed-convolution
# path for dx, the others im2col's col2im; (2, 1, 3) pads wider than the kernel.
GEOMETRIES = [(3, 1, 1), (3, 1, 0), (3, 2, 1), (2, 1, 3), (4, 3, 2), (1, 1, 0)]


@pytest.mark.parametrize("kernel, stride, padding", GEOMETRIES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_the_loops(kernel, stride, padding, bias):
    rng = np.random.default_rng(1)
    layer = randomized(Conv2D(2, 3, kernel, stride, padding, bias=bias, dtype="float64"), rng)
    x = rng.standard_normal((2, 7, 6, 2))  # non-square on purpose
    W, b = layer.params["W"], layer.params.get("b")
    out = layer.forward(x)
    close(out, ref.conv2d_forward(x, W, b, stride, padding))
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    expected_dx, expected_dW, expected_db = ref.conv2d_backward(dout, x, W, stride, padding)
    close(dx, expected_dx)
    close(layer.grads["W"], expected_dW)
    if bias:
        close(layer.grads["b"], expected_db)


@pytest.mark.parametrize(
    "pool, stride, shape",
    [(2, None, (2, 6, 4, 3)), (2, None, (2, 7, 5, 3)), (3, 1, (1, 5, 6, 2)), (2, 3, (1, 7, 8, 2))],
)
def test_maxpool2d_matches_the_loops_even_with_ties(pool, stride, shape):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, shape).astype(np.float64)  # few values: many ties
    layer = MaxPool2D(pool, stride)
    out = layer.forward(x)
    np.testing.assert_array_equal(out, ref.maxpool2d_forward(x, pool, stride))
    dout = rng.standard_normal(out.shape)
    dx, expected = layer.backward(dout), ref.maxpool2d_backward(dout, x, pool, stride)
    if layer.stride >= pool:
        np.testing.assert_array_equal(dx, expected)
    else:
        close(dx, expected)


@pytest.mark.parametrize("shape", [(7, 4), (2, 3, 5, 4)])
@pytest.mark.parametrize("chunked", [False, True])
def test_batchnorm_matches_the_staged_graph(shape, chunked, monkeypatch):
    if chunked:  # several row ranges of a wide view, as a large batch takes
        from mlpcli.nn import batchnorm as module

        monkeypatch.setattr(module, "CHUNK_VALUES", 6)
        monkeypatch.setattr(module, "WIDTH", 8)
    rng = np.random.default_rng(3)
    layer = BatchNorm(4, momentum=0.3, dtype="float64")
    layer.params["gamma"][...] = rng.uniform(0.5, 2.0, 4)
    layer.params["beta"][...] = rng.standard_normal(4)
    gamma, beta = layer.params["gamma"], layer.params["beta"]
    x, dout = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(shape)
    running = ref.batchnorm_running(layer.buffers["running_mean"], layer.buffers["running_var"], x, 0.3)
    out, cache = ref.batchnorm_forward(x, gamma, beta, layer.eps)
    close(layer.forward(x), out)
    dx, dgamma, dbeta = ref.batchnorm_backward(dout, cache)
    close(layer.backward(dout), dx)
    close(layer.grads["gamma"], dgamma)
    close(layer.grads["beta"], dbeta)
    close(layer.buffers["running_mean"], running[0])
    close(layer.buffers["running_var"], running[1])
    expected = ref.batchnorm_predict(x, gamma, beta, *running, layer.eps)
    close(layer.forward(x, training=False), expected)


def stepped(optimizer, steps, rng):
    """A Linear(3, 2) (W decayed, b not) stepped ``steps`` times along random gradients.
    Returns the start, the gradients and the network."""
    network = Sequential([randomized(Linear(3, 2, dtype="float64"), rng)])
    layer = network.layers[0]
    start = {name: value.copy() for name, value in layer.params.items()}
    gradients = []
    for _ in range(steps):
        for name in layer.grads:
            layer.grads[name][...] = rng.standard_normal(layer.grads[name].shape)
        gradients.append({name: grad.copy() for name, grad in layer.grads.items()})
        optimizer.step(network, 0.05)
    return start, gradients, layer


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_sgd_follows_the_update_rule_over_several_steps(momentum, nesterov, decay):
    start, gradients, layer = stepped(SGD(momentum, nesterov, weight_decay=decay), 4, np.random.default_rng(4))
    for name, W in start.items():
        v = np.zeros_like(W)
        for grads in gradients:
            W, v = ref.sgd_step(W, grads[name], v, 0.05, momentum, nesterov, decay if name == "W" else 0.0)
        close(layer.params[name], W)


@pytest.mark.parametrize("optimizer_class", [Adam, AdamW])
@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_adam_follows_the_paper_over_several_steps(optimizer_class, decay):
    betas = (0.8, 0.99)
    optimizer = optimizer_class(betas, 1e-6, weight_decay=decay)
    start, gradients, layer = stepped(optimizer, 4, np.random.default_rng(5))
    for name, W in start.items():
        m, v = np.zeros_like(W), np.zeros_like(W)
        for t, grads in enumerate(gradients, start=1):
            W, m, v = ref.adam_step(
                W, grads[name], m, v, t, 0.05, betas, 1e-6, decay if name == "W" else 0.0, optimizer_class is AdamW
            )
        close(layer.params[name], W)
        # The optimizer keeps the undamped sums M = m / (1 - beta1), V = v / (1 - beta2).
        close(optimizer.m[f"0.{name}"] * (1 - betas[0]), m)
        close(optimizer.v[f"0.{name}"] * (1 - betas[1]), v)
