"""Numerical gradient checks: centred differences against the analytic backward pass.

Shared by the tests and ``mlpcli gradcheck``. Run in float64: float32 rounding alone exceeds the
1e-7 tolerance these checks use.

Kinks. ReLU and max-pooling are piecewise: at a kink (an input at 0, two inputs of a window
tied) the function has no derivative, and a centred difference whose step crosses one estimates
the average of the two sides, not the derivative the backward pass rightly returns. A network
whose first layer is perturbed moves every value after it, so among thousands of ReLU inputs and
pool windows a step of 1e-5 crosses a kink now and then: that made ``gradcheck`` fail correct
end-to-end networks with batch norm (issue 21). So the checks ask each layer which piece it was
on (``Layer.kink_pattern``) before and after each step: an entry whose steps change it is
retried with steps 10 and 100 times smaller, and one that still crosses is left out of the
error and counted apart. A check left with fewer than half its entries compares them all: a
pattern that always changes must not make a check pass by leaving everything out.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

from .optim import SGD, Optimizer

#: Steps tried for an entry, as fractions of h: smaller ones only when a larger one crossed a kink.
STEPS = (1.0, 0.1, 0.01)


def numerical_gradient(
    f: Callable[[], float], x: np.ndarray, h: float = 1e-5, indices: np.ndarray | None = None
) -> np.ndarray:
    """dF/dx by (f(x + h) - f(x - h)) / 2h per element; ``x`` is perturbed in place and restored.

    With ``indices`` (into the flattened x) only those entries are computed; the rest stay 0.
    """
    return smooth_numerical_gradient(f, x, lambda: [], h, indices)[0]


def smooth_numerical_gradient(
    f: Callable[[], float],
    x: np.ndarray,
    pattern: Callable[[], list],
    h: float = 1e-5,
    indices: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``numerical_gradient`` with steps that cross no kink, and a bool mask like x of the
    entries whose every step (``STEPS``) crossed one (their difference is the one at h).

    ``pattern()``, called right after ``f()``, returns the kink patterns of the pass f made.
    """
    grad, crossed = np.zeros_like(x, dtype=np.float64), np.zeros(x.shape, bool)
    flat, flat_grad, flat_crossed = x.reshape(-1), grad.reshape(-1), crossed.reshape(-1)
    f()
    base = pattern()
    for i in range(flat.size) if indices is None else indices:
        flat_grad[i], flat_crossed[i] = _smooth_difference(f, flat, i, h, pattern, base)
    return grad, crossed


def _smooth_difference(f, flat, i, h, pattern, base) -> tuple[float, bool]:
    """The difference at the largest of ``STEPS`` that crosses no kink, False; else the one at
    h, True."""
    slopes = []
    for fraction in STEPS:
        slope, smooth = _difference(f, flat, i, h * fraction, pattern, base)
        if smooth:
            return slope, False
        slopes.append(slope)
    return slopes[0], True


def _difference(f, flat, i, h, pattern, base) -> tuple[float, bool]:
    """(f(x + h e_i) - f(x - h e_i)) / 2h, and whether both passes stayed on ``base``'s pieces."""
    original = flat[i]
    flat[i] = original + h
    plus, plus_pattern = f(), pattern()
    flat[i] = original - h
    minus, minus_pattern = f(), pattern()
    flat[i] = original
    smooth = _same(plus_pattern, base) and _same(minus_pattern, base)
    return (plus - minus) / (2 * h), smooth


def _same(patterns, others) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(patterns, others, strict=True))


def network_pattern(layers) -> Callable[[], list]:
    """``pattern()`` for ``smooth_numerical_gradient``: the kink patterns of ``layers``' last pass."""
    return lambda: [pattern for pattern in (layer.kink_pattern() for layer in layers) if pattern is not None]


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / (||a|| + ||n||), 0 when both are 0: scale-free, unlike an absolute difference."""
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / denominator)


def check_layer(layer, x: np.ndarray, rng: np.random.Generator, h: float = 1e-5) -> dict[str, float]:
    """Relative errors for ``dx`` and each parameter of a standalone layer, in training mode.

    The scalar checked is sum(forward(x) * r) for a fixed random r, whose upstream gradient is r.
    Randomness is held fixed and kinks are stepped around as in ``check_network``.
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
        pattern = network_pattern([layer])
        errors = {"x": _compare(dx, x, objective, pattern, h)[0]}
        for name, value in layer.params.items():
            errors[name] = _compare(analytic[name], value, objective, pattern, h)[0]
    return errors


def check_network(
    network,
    x: np.ndarray,
    labels: np.ndarray,
    loss_fn,
    optimizer: Optimizer | None = None,
    h: float = 1e-5,
    max_entries: int | None = None,
    rng: np.random.Generator | None = None,
    kinks: dict[str, int] | None = None,
) -> dict[str, float]:
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
    which keeps a check of a full-size network to seconds. Entries whose every step crosses a
    kink are left out (see the module); ``kinks``, if given, receives their number per path.
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
            return loss + 0.5 * decay * sum(
                float(np.sum(layer.params[name] ** 2))
                for layer in network.layers
                if layer.trainable
                for name in layer.decayed
            )

        reset()
        _, dscores = loss_fn(network.forward(x, training=True), labels)
        network.backward(dscores)
        analytic = optimizer.gradients(network)
        pattern, errors = network_pattern(network.layers), {}
        for path, layer, name in network.named_parameters(trainable_only=True):
            value = layer.params[name]
            picked = (
                None
                if max_entries is None or value.size <= max_entries
                else rng.choice(value.size, size=max_entries, replace=False)
            )
            errors[path], crossed = _compare(analytic[path], value, total_loss, pattern, h, picked)
            if kinks is not None:
                kinks[path] = crossed
        return errors


def _compare(analytic, value, loss, pattern, h, picked=None) -> tuple[float, int]:
    """relative_error of ``analytic`` against dloss/dvalue on the entries ``picked`` (all if
    None) that cross no kink, and the number that do. If they are more than half, all entries
    are compared: a check that sees mostly kinks cannot vouch for the gradient."""
    numeric, crossed = smooth_numerical_gradient(loss, value, pattern, h, picked)
    picked = np.arange(value.size) if picked is None else picked
    analytic, numeric, crossed = (a.reshape(-1)[picked] for a in (analytic, numeric, crossed))
    n_crossed = int(np.count_nonzero(crossed))
    kept = ~crossed if 2 * n_crossed <= len(crossed) else np.ones_like(crossed)
    return relative_error(analytic[kept], numeric[kept]), n_crossed


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
