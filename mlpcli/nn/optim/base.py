"""What every optimizer shares: weight decay and the blocked in-place loop (with ``parallel.Scratch``).

The network owns its weights; an optimizer keeps only its own state (velocities, moments), keyed
by parameter path ``"<layer index>.<name>"``. Weight decay is owned here and nowhere else: the
update each optimizer runs and the gradient ``check_network`` verifies both come from
``Optimizer.regularized_gradient``, so a wrong decay in training cannot pass the check.
"""

from __future__ import annotations

import numpy as np

from .. import parallel
from ..parallel import Scratch

# Elements per block of an update. An update reads W, g and its state and writes them back: done
# one block at a time, the arrays are read from memory once and the later passes hit the L2
# cache, instead of several full passes over arrays of several MB each.
BLOCK = 32768
# Elements per block when the blocks run side by side: each of a block's ufunc calls takes the
# GIL to start, and with blocks of BLOCK the threads spent more time handing the GIL to each
# other than computing (an SGD update of 3072 x 512 weights on 2 threads took 1.6 ms against
# 1.2 ms on one; with blocks of this size, 0.8 ms). Still small enough for a block's arrays to
# stay in a core's L2 or L3 cache between its passes.
THREADED_BLOCK = 1 << 18


class Optimizer:
    """Base class: ``step(network, lr)`` updates every trainable parameter in place.

    ``weight_decay`` applies to the names each layer lists in ``decayed`` (weights, never biases),
    in trainable layers only. Subclasses implement ``_update_parameter`` and their state.
    """

    #: True when the decay is L2 regularization: ``weight_decay * W`` is added to the gradient of
    #: the data loss, the gradient of ``0.5 * weight_decay * sum(W^2)``. False when the optimizer
    #: shrinks the weights outside the gradient (decoupled decay, AdamW).
    decay_in_gradient = True

    def __init__(self, weight_decay: float = 0.0) -> None:
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        # Python floats: a NumPy float64 scalar would run the float32 update in float64.
        self.weight_decay = float(weight_decay)
        self._scratch = Scratch()

    def decay(self, layer, name: str) -> float:
        """The weight decay of ``layer.params[name]``: ``weight_decay`` if the layer decays it, else 0."""
        return self.weight_decay if name in layer.decayed else 0.0

    def step(self, network, lr: float) -> None:
        """Update every trainable parameter of ``network`` in place from its ``grads``."""
        lr = float(lr)
        for path, layer, name in network.named_parameters(trainable_only=True):
            self._update_parameter(path, layer.params[name], layer.grads[name], lr, self.decay(layer, name))

    def _update_parameter(self, path: str, weights: np.ndarray, grad: np.ndarray, lr: float, decay: float) -> None:
        raise NotImplementedError

    def regularized_gradient(self, weights: np.ndarray, grad: np.ndarray, decay: float, out: np.ndarray) -> np.ndarray:
        """``grad + decay * weights`` in ``out`` (same shape), or ``grad`` itself when decay is 0.

        The gradient of data loss + ``0.5 * decay * sum(W^2)``: the only implementation of L2
        weight decay, called block by block inside the updates and by ``gradients``.
        """
        if not decay:
            return grad
        np.multiply(weights, decay, out=out)
        return np.add(out, grad, out=out)

    def gradients(self, network) -> dict[str, np.ndarray]:
        """The gradient this optimizer's step takes for each trainable parameter path (copies).

        The data gradient in ``grads`` plus, when ``decay_in_gradient``, the decay term, computed
        block by block by the same ``regularized_gradient`` the update runs. ``check_network``
        compares these with numerical gradients.
        """
        applied = {}
        for path, layer, name in network.named_parameters(trainable_only=True):
            weights, grad = layer.params[name], layer.grads[name]
            decay = self.decay(layer, name) if self.decay_in_gradient else 0.0
            result = np.empty_like(grad)

            def block(w, g, target, decay=decay):
                target[...] = self.regularized_gradient(w, g, decay, self._scratch.like(w))

            for_blocks(block, weights, grad, result)
            applied[path] = result
        return applied

    def state_dict(self) -> dict[str, np.ndarray]:
        """The optimizer's state as plain arrays (no pickle), keyed by parameter path."""
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def for_blocks(fn, *arrays) -> None:
    """``fn(*views)`` for every tuple of ``blocks(*arrays)``, the blocks side by side on the
    threads of ``parallel`` when there are enough of them to pay. Blocks are disjoint and the
    updates element-wise, so the result is the same bytes whatever the thread count."""
    present = [a for a in arrays if a is not None]
    if present[0].size < parallel.MIN_ELEMENTS or parallel.threads() <= 1:
        for views in blocks(*arrays):
            fn(*views)
        return
    views = list(blocks(*arrays, size=max(BLOCK, THREADED_BLOCK)))
    parallel.run(lambda index: fn(*views[index]), len(views))


def blocks(*arrays, size: int | None = None):
    """Tuples of views of at most ``size`` (default BLOCK) elements, one view per array (None
    stays None), that together cover the arrays: all same-shaped, cut along their flattened
    elements when all are C-contiguous, else one block of the whole arrays."""
    size = BLOCK if size is None else size
    present = [a for a in arrays if a is not None]
    total = present[0].size
    if total <= size or not all(a.flags.c_contiguous for a in present):
        yield arrays
        return
    flat = [None if a is None else a.reshape(-1) for a in arrays]
    for start in range(0, total, size):
        yield tuple(None if a is None else a[start : start + size] for a in flat)
