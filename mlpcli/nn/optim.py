"""Stochastic gradient descent: parameter_new = parameter_old - lr * gradient, with momentum.

The network owns its weights; the optimizer keeps only its velocities, keyed by parameter path.
Convention (as in PyTorch): v <- momentum * v + g, then W <- W - lr * v;
Nesterov looks ahead: W <- W - lr * (g + momentum * v).
"""

from __future__ import annotations

import numpy as np


class SGD:
    def __init__(self, momentum: float = 0.0, nesterov: bool = False) -> None:
        if nesterov and momentum <= 0:
            raise ValueError("nesterov needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.velocity: dict[str, np.ndarray] = {}

    def step(self, network, lr: float) -> None:
        """Update every trainable parameter of ``network`` in place from its ``grads``."""
        for path, layer, name in network.named_parameters(trainable_only=True):
            weights, grad = layer.params[name], layer.grads[name]
            if self.momentum == 0:
                weights -= lr * grad
                continue
            velocity = self.velocity.get(path)
            if velocity is None:
                velocity = self.velocity[path] = np.zeros_like(weights)
            velocity *= self.momentum
            velocity += grad
            if self.nesterov:
                weights -= lr * (grad + self.momentum * velocity)
            else:
                weights -= lr * velocity

    def state_dict(self) -> dict[str, np.ndarray]:
        return dict(self.velocity)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.velocity = {path: np.array(value) for path, value in state.items()}
