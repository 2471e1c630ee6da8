"""Numerical gradient checks: centred differences against the analytic backward pass.

Shared by the tests and ``mlpcli gradcheck``. Run in float64: float32 rounding alone exceeds the
1e-7 tolerance these checks use.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


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
    """Relative errors for ``dx`` and each parameter of a standalone layer.

    The scalar checked is sum(forward(x) * r) for a fixed random r, whose upstream gradient is r.
    """
    upstream = rng.standard_normal(layer.forward(x.copy()).shape)

    def objective() -> float:
        return float(np.sum(layer.forward(x.copy()) * upstream))

    layer.needs_input_grad = True
    layer.forward(x.copy())
    dx = layer.backward(upstream.copy())
    analytic = {name: grad.copy() for name, grad in layer.grads.items()}
    errors = {"x": relative_error(dx, numerical_gradient(objective, x, h))}
    for name, value in layer.params.items():
        errors[name] = relative_error(analytic[name], numerical_gradient(objective, value, h))
    return errors


def check_network(network, x: np.ndarray, labels: np.ndarray, loss_fn, weight_decay: float = 0.0,
                  h: float = 1e-5, max_entries: int | None = None,
                  rng: np.random.Generator | None = None) -> dict[str, float]:
    """Relative error per trainable parameter path of the total loss (data loss + L2 penalty).

    ``max_entries`` checks only that many randomly chosen entries of each larger parameter array,
    which keeps a check of a full-size network to seconds.
    """

    def total_loss() -> float:
        loss, _ = loss_fn(network.forward(x, training=True), labels)
        return loss + 0.5 * weight_decay * sum(
            float(np.sum(layer.params[name] ** 2))
            for layer in network.layers if layer.trainable for name in layer.decayed)

    _, dscores = loss_fn(network.forward(x, training=True), labels)
    network.backward(dscores)
    network.l2_penalty(weight_decay)
    analytic = {path: layer.grads[name].copy()
                for path, layer, name in network.named_parameters(trainable_only=True)}
    rng = rng if rng is not None else np.random.default_rng(0)
    errors = {}
    for path, layer, name in network.named_parameters(trainable_only=True):
        value = layer.params[name]
        if max_entries is None or value.size <= max_entries:
            errors[path] = relative_error(analytic[path], numerical_gradient(total_loss, value, h))
            continue
        picked = rng.choice(value.size, size=max_entries, replace=False)
        numeric = numerical_gradient(total_loss, value, h, picked).reshape(-1)[picked]
        errors[path] = relative_error(analytic[path].reshape(-1)[picked], numeric)
    return errors
