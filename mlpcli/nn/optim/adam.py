"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019).

Adam, Algorithm 1 of the paper, per parameter, with t its number of steps (from 1):
    m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
    W <- W - lr * m_hat / (sqrt(v_hat) + eps),   m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)

The state keeps the moments as undamped sums, as SGD keeps its velocity (v <- momentum v + g):
    M <- beta1 M + g;   V <- beta2 V + g^2,   so m = (1 - beta1) M and v = (1 - beta2) V,
and the update is W <- W - step_size * M / (sqrt(V) + eps_hat) with r = sqrt((1 - beta2) /
(1 - beta2^t)), step_size = lr (1 - beta1) / ((1 - beta1^t) r) and eps_hat = eps / r: the paper's
numbers in exact arithmetic, with the constant factors moved out of the per-element work (10
passes over each block instead of 13; the update is the part of an Adam step that SGD does not pay).

Weight decay (weights each layer lists in ``decayed``, never biases):
- Adam: L2 regularization, g = gradient + weight_decay * W (as ``torch.optim.Adam``). The decay is
  then divided by sqrt(v_hat) like the rest of g, so heavily updated weights are decayed less.
- AdamW: decoupled, W <- W - lr * weight_decay * W before the Adam step, g the data gradient
  alone (as ``torch.optim.AdamW``: lr includes the schedule), so every weight shrinks by the same
  fraction whatever its gradients.

The paper's Algorithm 1 as printed, on whole arrays: ``nn.reference.adam_step``.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Optimizer, for_blocks

_STATE_KINDS = ("m", "v", "step")


class Adam(Optimizer):
    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(weight_decay)
        if len(betas) != 2 or not all(0 <= beta < 1 for beta in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self.steps: dict[str, int] = {}

    def _update_parameter(self, path, weights, grad, lr, decay) -> None:
        if path not in self.m:
            self.m[path], self.v[path], self.steps[path] = np.zeros_like(weights), np.zeros_like(weights), 0
        t = self.steps[path] = self.steps[path] + 1
        beta1, beta2 = self.betas
        r = math.sqrt((1 - beta2) / (1 - beta2**t))
        step_size, eps_hat = lr * (1 - beta1) / ((1 - beta1**t) * r), self.eps / r
        shrink = 1.0 if self.decay_in_gradient else 1.0 - lr * decay
        l2 = decay if self.decay_in_gradient else 0.0
        for_blocks(
            lambda w, g, m, v: self._update(w, g, m, v, l2, shrink, step_size, eps_hat),
            weights,
            grad,
            self.m[path],
            self.v[path],
        )

    def _update(self, weights, grad, m, v, l2: float, shrink: float, step_size: float, eps_hat: float) -> None:
        """One block, in place; temporaries live in two reused scratch buffers."""
        beta1, beta2 = self.betas
        grad = self.regularized_gradient(weights, grad, l2, out=self._scratch.like(weights))
        part = self._scratch.like(weights, slot=1)
        np.multiply(m, beta1, out=m)
        np.add(m, grad, out=m)
        np.square(grad, out=part)  # a unary pass: twice as fast as grad * grad
        np.multiply(v, beta2, out=v)
        np.add(v, part, out=v)
        if shrink != 1.0:
            np.multiply(weights, shrink, out=weights)
        np.sqrt(v, out=part)
        np.add(part, eps_hat, out=part)
        np.divide(m, part, out=part)
        np.multiply(part, step_size, out=part)
        np.subtract(weights, part, out=weights)

    def state_dict(self) -> dict[str, np.ndarray]:
        """``m/<path>``, ``v/<path>`` (the undamped sums M and V, arrays like the parameter) and
        ``step/<path>`` (t, an int64 scalar)."""
        state = {}
        for path in self.m:
            state[f"m/{path}"], state[f"v/{path}"] = self.m[path], self.v[path]
            state[f"step/{path}"] = np.array(self.steps[path], dtype=np.int64)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy the moments and step counts in; ValueError if the state is not a complete Adam state."""
        parts: dict[str, dict[str, np.ndarray]] = {kind: {} for kind in _STATE_KINDS}
        for key, value in state.items():
            kind, _, path = key.partition("/")
            if kind not in parts or not path:
                raise ValueError(f"not an {type(self).__name__} state: unexpected key {key!r}")
            parts[kind][path] = value
        if not set(parts["m"]) == set(parts["v"]) == set(parts["step"]):
            raise ValueError(f"incomplete {type(self).__name__} state: m, v and step name different parameters")
        self.m = {path: np.array(value) for path, value in parts["m"].items()}
        self.v = {path: np.array(value) for path, value in parts["v"].items()}
        self.steps = {path: int(value) for path, value in parts["step"].items()}


class AdamW(Adam):
    """Adam with decoupled weight decay: the decay is not part of the gradient (see the module)."""

    decay_in_gradient = False
