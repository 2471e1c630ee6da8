"""Stochastic gradient descent: parameter_new = parameter_old - lr * gradient, with momentum.

The network owns its weights; the optimizer keeps only its velocities, keyed by parameter path.
Convention (as in PyTorch): v <- momentum * v + g, then W <- W - lr * v;
Nesterov looks ahead: W <- W - lr * (g + momentum * v).
With ``weight_decay``, g is the gradient of the data loss plus the L2 penalty's
``weight_decay * W``, for the weights each layer lists in ``decayed`` (never biases).
"""

from __future__ import annotations

import numpy as np

# Elements per block of the update. The update reads W, g and v and writes v and W: done one
# block at a time, the arrays are read from memory once and the later passes hit the L2 cache
# (4 x 128 KB), instead of four full passes over arrays of several MB each.
BLOCK = 32768


class SGD:
    def __init__(self, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> None:
        if nesterov and momentum <= 0:
            raise ValueError("nesterov needs momentum > 0")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self.velocity: dict[str, np.ndarray] = {}
        self._scratch = Scratch()

    def step(self, network, lr: float) -> None:
        """Update every trainable parameter of ``network`` in place from its ``grads``.

        The weight decay is added on the fly, block by block: the same numbers as adding it to
        the gradients first (``Sequential.add_weight_decay``), without a separate pass over them.
        """
        lr = float(lr)  # a NumPy float64 scalar would run the float32 update in float64
        for path, layer, name in network.named_parameters(trainable_only=True):
            weights, grad = layer.params[name], layer.grads[name]
            decay = self.weight_decay if name in layer.decayed else 0.0
            velocity = None
            if self.momentum != 0:
                velocity = self.velocity.get(path)
                if velocity is None:
                    velocity = self.velocity[path] = np.zeros_like(weights)
            for block in blocks(weights, grad, velocity):
                self._update(*block, lr, decay)

    def _update(self, weights, grad, velocity, lr: float, decay: float) -> None:
        """One block, in place, without temporaries: ``lr * v`` goes to a reused scratch buffer."""
        step = self._scratch.like(weights)
        if decay:
            np.multiply(weights, decay, out=step)
            grad = np.add(step, grad, out=step)
        if velocity is None:
            np.multiply(grad, lr, out=step)
        else:
            np.multiply(velocity, self.momentum, out=velocity)
            np.add(velocity, grad, out=velocity)
            if self.nesterov:
                ahead = self._scratch.like(weights, slot=1)
                np.multiply(velocity, self.momentum, out=ahead)
                np.add(ahead, grad, out=ahead)
                np.multiply(ahead, lr, out=step)
            else:
                np.multiply(velocity, lr, out=step)
        np.subtract(weights, step, out=weights)

    def state_dict(self) -> dict[str, np.ndarray]:
        return dict(self.velocity)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.velocity = {path: np.array(value) for path, value in state.items()}


class Scratch:
    """Buffers reused for the temporaries of in-place updates (``lr * v``, ``decay * W``)."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[np.dtype, int], np.ndarray] = {}

    def like(self, block: np.ndarray, slot: int = 0) -> np.ndarray:
        """An uninitialized array of ``block``'s shape and dtype, valid until the next call for
        the same ``slot``; different slots never share memory."""
        key = (block.dtype, slot)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.size < block.size:
            buffer = self._buffers[key] = np.empty(max(block.size, BLOCK), block.dtype)
        return buffer[:block.size].reshape(block.shape)


def blocks(*arrays):
    """Tuples of views of at most BLOCK elements, one view per array (None stays None), that
    together cover the arrays: all same-shaped, cut along their flattened elements when all are
    C-contiguous, else one block of the whole arrays."""
    present = [a for a in arrays if a is not None]
    total = present[0].size
    if total <= BLOCK or not all(a.flags.c_contiguous for a in present):
        yield arrays
        return
    flat = [None if a is None else a.reshape(-1) for a in arrays]
    for start in range(0, total, BLOCK):
        yield tuple(None if a is None else a[start:start + BLOCK] for a in flat)
