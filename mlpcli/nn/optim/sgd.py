"""Stochastic gradient descent: parameter_new = parameter_old - lr * gradient, with momentum.

Convention (as in PyTorch): v <- momentum * v + g, then W <- W - lr * v;
Nesterov looks ahead: W <- W - lr * (g + momentum * v).
With ``weight_decay``, g is the gradient of the data loss plus the L2 penalty's
``weight_decay * W`` (``Optimizer.regularized_gradient``), for the weights each layer lists in
``decayed`` (never biases). The update as the lecture writes it, on whole arrays:
``nn.reference.sgd_step``.
"""

from __future__ import annotations

import numpy as np

from .base import Optimizer, for_blocks


class SGD(Optimizer):
    def __init__(self, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> None:
        if nesterov and momentum <= 0:
            raise ValueError("nesterov needs momentum > 0")
        super().__init__(weight_decay)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.velocity: dict[str, np.ndarray] = {}

    def _update_parameter(self, path, weights, grad, lr, decay) -> None:
        velocity = None
        if self.momentum != 0:
            velocity = self.velocity.get(path)
            if velocity is None:
                velocity = self.velocity[path] = np.zeros_like(weights)
        for_blocks(lambda w, g, v: self._update(w, g, v, lr, decay), weights, grad, velocity)

    def _update(self, weights, grad, velocity, lr: float, decay: float) -> None:
        """One block, in place, without temporaries: the decayed gradient and ``lr * v`` go to a
        reused scratch buffer (the same one: the gradient is used up before ``lr * v`` is written)."""
        step = self._scratch.like(weights)
        grad = self.regularized_gradient(weights, grad, decay, out=step)
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
        """Copy the velocities in. Keys are parameter paths; Adam's ``m/<path>`` keys are refused."""
        foreign = [key for key in state if "/" in key]
        if foreign:
            raise ValueError(f"not an SGD state (keys {foreign[:3]}); it was saved by another optimizer")
        self.velocity = {path: np.array(value) for path, value in state.items()}
