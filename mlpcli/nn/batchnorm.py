"""Batch normalization (Ioffe & Szegedy, 2015): each feature standardized over the batch.

One class for both layouts: the statistics are taken over every axis but the last, so rows
``(n_samples, n_features)`` are normalized per feature and channels-last images
``(n_images, height, width, n_features)`` per channel, over the images and their pixels.
"""

from __future__ import annotations

import numpy as np

from .layers import Layer, register


@register
class BatchNorm(Layer):
    """out = gamma * (x - mean) / sqrt(var + eps) + beta, per feature; gamma, beta (n_features,).

    Training uses the batch's mean and (biased) variance and updates the buffers
    ``running_mean`` and ``running_var`` as running <- (1 - momentum) running + momentum batch,
    with the unbiased batch variance (PyTorch's convention). Prediction (``training=False``)
    uses the running statistics, so it is deterministic and per sample. gamma starts at 1, beta
    at 0; neither is weight-decayed (``decayed`` is empty): they are scales and shifts, not
    weights whose size measures a model's capacity.
    """

    def __init__(self, n_features: int, momentum: float = 0.1, eps: float = 1e-5, dtype="float32") -> None:
        super().__init__()
        if int(n_features) < 1 or not 0 < momentum <= 1 or not eps > 0:
            raise ValueError(f"BatchNorm needs n_features >= 1, momentum in (0, 1] and eps > 0, "
                             f"got {n_features}, {momentum}, {eps}")
        self.n_features, self.momentum, self.eps = int(n_features), float(momentum), float(eps)
        self.dtype = np.dtype(dtype)
        self.params["gamma"] = np.ones(self.n_features, self.dtype)
        self.params["beta"] = np.zeros(self.n_features, self.dtype)
        self.buffers["running_mean"] = np.zeros(self.n_features, self.dtype)
        self.buffers["running_var"] = np.ones(self.n_features, self.dtype)
        self.allocate_grads()
        self._xhat: np.ndarray | None = None
        self._inv_std: np.ndarray | None = None
        self._ones = np.ones(0, self.dtype)

    def forward(self, x, training=True):
        if x.shape[-1] != self.n_features:
            raise ValueError(f"BatchNorm expects {self.n_features} features on the last axis, got shape {x.shape}")
        rows = x.reshape(-1, self.n_features)
        if not training:
            scale = self.params["gamma"] / np.sqrt(self.buffers["running_var"] + self.eps)
            shift = self.params["beta"] - self.buffers["running_mean"] * scale
            return (rows * scale + shift).reshape(x.shape)
        if len(rows) < 2:
            raise ValueError("BatchNorm needs at least 2 values per feature in a training batch, got 1; "
                             "use a larger batch, or drop a last batch of one sample")
        mean, centered, var = self._statistics(rows)
        self._update_running(mean, var, len(rows))
        self._inv_std = 1 / np.sqrt(var + self.eps)
        self._xhat = np.multiply(centered, self._inv_std, out=centered)
        return (self._xhat * self.params["gamma"] + self.params["beta"]).reshape(x.shape)

    def backward(self, dout):
        """dgamma = sum(dout xhat), dbeta = sum(dout) and, over the n rows of each feature,
        dx = gamma / std * (dout - (dbeta + xhat dgamma) / n): the mean and variance depend on
        every x of the batch, which adds the two subtracted terms to the plain gamma / std."""
        rows = dout.reshape(-1, self.n_features)
        ones = self._ones_for(rows)
        np.matmul(ones, rows, out=self.grads["beta"])
        np.matmul(ones, rows * self._xhat, out=self.grads["gamma"])
        if not self.needs_input_grad:
            return None
        n = len(rows)
        dx = self._xhat * (self.grads["gamma"] / n)
        dx += self.grads["beta"] / n
        np.subtract(rows, dx, out=dx)
        dx *= self.params["gamma"] * self._inv_std
        return dx.reshape(dout.shape)

    def spec(self):
        return {"type": "BatchNorm", "n_features": self.n_features, "momentum": self.momentum,
                "eps": self.eps, "dtype": self.dtype.name}

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) not in (1, 3) or shape[-1] != self.n_features:
            raise ValueError(f"takes rows ({self.n_features},) or images (height, width, {self.n_features}) "
                             f"but receives {tuple(shape)}")
        return tuple(shape)

    @classmethod
    def n_parameters(cls, **kwargs) -> int:
        """gamma, beta and the two running statistics: 4 values per feature."""
        return 4 * int(kwargs.get("n_features", 1))

    def _statistics(self, rows):
        """(mean, rows - mean, biased variance) per feature; column sums as ones @ rows, a BLAS
        gemv, several times faster than a sum over axis 0 of rows of a few features."""
        ones = self._ones_for(rows)
        mean = (ones @ rows) / len(rows)
        centered = rows - mean
        var = (ones @ np.square(centered)) / len(rows)
        return mean, centered, var

    def _update_running(self, mean, var, n) -> None:
        keep = 1 - self.momentum
        self.buffers["running_mean"] *= keep
        self.buffers["running_mean"] += self.momentum * mean
        self.buffers["running_var"] *= keep
        self.buffers["running_var"] += (self.momentum * n / (n - 1)) * var

    def _ones_for(self, rows):
        if self._ones.shape[0] != len(rows) or self._ones.dtype != rows.dtype:
            self._ones = np.ones(len(rows), rows.dtype)
        return self._ones
