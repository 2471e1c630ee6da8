"""Numerical gradient checks: centred differences against the analytic backward pass.

Shared by the tests and ``mlpcli gradcheck``. Run in float64: float32 rounding alone exceeds the
1e-7 tolerance these checks use.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import numpy as np

from .optim import SGD, Optimizer


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-5,
                       indices: np.ndarray | None = None) -> np.ndarray:
    """dF/dx by (f(x + h) - f(x - h)) / 2h per element; ``x`` is perturbed in place and restored.

    With ``indices`` (into the flattened x) only those entries are computed; the rest stay 0.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size) if indices is None else indices:
        original = flat[i]
        flat[i] = original + h
        plus = f()
        flat[i] = original - h
        minus = f()
        flat[i] = original
        flat_grad[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / (||a|| + ||n||), 0 when both are 0: scale-free, unlike an absolute difference."""
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / denominator)


def check_layer(layer, x: np.ndarray, rng: np.random.Generator, h: float = 1e-5) -> dict[str, float]:
    """Relative errors for ``dx`` and each parameter of a standalone layer, in training mode.

    The scalar checked is sum(forward(x) * r) for a fixed random r, whose upstream gradient is r.
    Randomness is held fixed as in ``check_network``.
    """
    with _fixed_randomness([layer]) as reset:
        upstream = rng.standard_normal(layer.forward(x.copy()).shape)

        def objective() -> float:
            reset()
            return float(np.sum(layer.forward(x.copy()) * upstream))

        layer.needs_input_grad = True
        objective()
        dx = layer.backward(upstream.copy())
        analytic = {name: grad.copy() for name, grad in layer.grads.items()}
        errors = {"x": relative_error(dx, numerical_gradient(objective, x, h))}
        for name, value in layer.params.items():
            errors[name] = relative_error(analytic[name], numerical_gradient(objective, value, h))
    return errors


def check_network(network, x: np.ndarray, labels: np.ndarray, loss_fn, optimizer: Optimizer | None = None,
                  h: float = 1e-5, max_entries: int | None = None,
                  rng: np.random.Generator | None = None) -> dict[str, float]:
    """Relative error per trainable parameter path between the gradient ``optimizer`` steps
    along and the numerical gradient of the loss it minimizes, in training mode.

    The analytic side is ``optimizer.gradients(network)``: the optimizer's own code, the code
    training runs, weight decay included. The numerical side differentiates the loss written out
    here: data loss + 0.5 * weight_decay * sum(W^2) over the ``decayed`` weights of trainable
    layers. ``optimizer=None`` checks the data gradient alone. AdamW's decay is decoupled (the
    weights shrink outside the gradient), so for it the penalty is left out and the check
    covers the data gradient; its decay is checked against hand-computed steps in the tests.

    Each layer's random generator (Dropout's ``rng``) is reset before every forward pass, so
    every pass draws the same mask; buffers (BatchNorm's running statistics) are restored after.
    ``max_entries`` checks only that many randomly chosen entries of each larger parameter array,
    which keeps a check of a full-size network to seconds.
    """
    if isinstance(optimizer, (int, float)):  # the old signature took weight_decay here
        raise TypeError("check_network takes an optimizer, e.g. SGD(weight_decay=...), not a number")
    optimizer = optimizer if optimizer is not None else SGD()
    decay = optimizer.weight_decay if optimizer.decay_in_gradient else 0.0
    rng = rng if rng is not None else np.random.default_rng(0)
    with _fixed_randomness(network.layers) as reset:

        def total_loss() -> float:
            reset()
            loss, _ = loss_fn(network.forward(x, training=True), labels)
            return loss + 0.5 * decay * sum(float(np.sum(layer.params[name] ** 2))
                                            for layer in network.layers if layer.trainable
                                            for name in layer.decayed)

        reset()
        _, dscores = loss_fn(network.forward(x, training=True), labels)
        network.backward(dscores)
        analytic = optimizer.gradients(network)
        return {path: _compare(analytic[path], layer.params[name], total_loss, h, max_entries, rng)
                for path, layer, name in network.named_parameters(trainable_only=True)}


def _compare(analytic, value, loss, h, max_entries, rng) -> float:
    """relative_error of ``analytic`` against dloss/dvalue, on at most ``max_entries`` entries."""
    if max_entries is None or value.size <= max_entries:
        return relative_error(analytic, numerical_gradient(loss, value, h))
    picked = rng.choice(value.size, size=max_entries, replace=False)
    numeric = numerical_gradient(loss, value, h, picked).reshape(-1)[picked]
    return relative_error(analytic.reshape(-1)[picked], numeric)


@contextmanager
def _fixed_randomness(layers):
    """Yield ``reset()``, which puts every layer's ``rng`` back in its state at entry; at exit the
    generators and the buffers are as they were at entry."""
    generators = [layer.rng for layer in layers if getattr(layer, "rng", None) is not None]
    states = [generator.bit_generator.state for generator in generators]
    buffers = [(array, array.copy()) for layer in layers for array in layer.buffers.values()]

    def reset() -> None:
        for generator, state in zip(generators, states):
            generator.bit_generator.state = state

    try:
        yield reset
    finally:
        reset()
        for array, saved in buffers:
            array[...] = saved
