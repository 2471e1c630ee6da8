"""Batch normalization (Ioffe & Szegedy, 2015): each feature standardized over the batch.

One class for both layouts: the statistics are taken over every axis but the last, so rows
``(n_samples, n_features)`` are normalized per feature and channels-last images
``(n_images, height, width, n_features)`` per channel, over the images and their pixels.
"""

from __future__ import annotations

import numpy as np

from . import parallel
from .layers import Layer, register
from .parallel import Scratch

#: Values per row range of a training pass. A range's rows and its temporaries stay in a core's
#: cache across the few ufuncs of a pass, so each pass reads the batch from memory once (the
#: whole-array version made about 15 passes, and as many fresh arrays, per step), and the ranges
#: run side by side on the threads of ``parallel``.
CHUNK_VALUES = 1 << 17
#: Values per row of the view the passes run on (see ``_wide``).
WIDTH = 1024


@register
class BatchNorm(Layer):
    """out = gamma * (x - mean) / sqrt(var + eps) + beta, per feature; gamma, beta (n_features,).

    Training uses the batch's mean and (biased) variance and updates the buffers
    ``running_mean`` and ``running_var`` as running <- (1 - momentum) running + momentum batch,
    with the unbiased batch variance (PyTorch's convention). Prediction (``training=False``)
    uses the running statistics, so it is deterministic and per sample. gamma starts at 1, beta
    at 0; neither is weight-decayed (``decayed`` is empty): they are scales and shifts, not
    weights whose size measures a model's capacity. Naive reference (the backward pass staged
    through the graph): ``reference.batchnorm_forward``, ``batchnorm_backward``,
    ``batchnorm_running`` and ``batchnorm_predict``.
    """

    def __init__(self, n_features: int, momentum: float = 0.1, eps: float = 1e-5, dtype="float32") -> None:
        super().__init__()
        if int(n_features) < 1 or not 0 < momentum <= 1 or not eps > 0:
            raise ValueError(
                f"BatchNorm needs n_features >= 1, momentum in (0, 1] and eps > 0, got {n_features}, {momentum}, {eps}"
            )
        self.n_features, self.momentum, self.eps = int(n_features), float(momentum), float(eps)
        self.dtype = np.dtype(dtype)
        self.params["gamma"] = np.ones(self.n_features, self.dtype)
        self.params["beta"] = np.zeros(self.n_features, self.dtype)
        self.buffers["running_mean"] = np.zeros(self.n_features, self.dtype)
        self.buffers["running_var"] = np.ones(self.n_features, self.dtype)
        self.allocate_grads()
        self._x: np.ndarray | None = None
        self._mean = self._inv_std = None
        self._ones = np.ones(0, self.dtype)
        self._scratch = Scratch()

    def forward(self, x, training=True):
        if x.shape[-1] != self.n_features:
            raise ValueError(f"BatchNorm expects {self.n_features} features on the last axis, got shape {x.shape}")
        rows = x.reshape(-1, self.n_features)
        if not training:
            scale = self.params["gamma"] / np.sqrt(self.buffers["running_var"] + self.eps)
            shift = self.params["beta"] - self.buffers["running_mean"] * scale
            return (rows * scale + shift).reshape(x.shape)
        if len(rows) < 2:
            raise ValueError(
                "BatchNorm needs at least 2 values per feature in a training batch, got 1; "
                "use a larger batch, or drop a last batch of one sample"
            )
        n, wide = len(rows), _wide(rows)
        parts, tile = _parts(wide), wide.shape[1] // self.n_features
        mean = self._column_sums(parts, wide, lambda start, stop, scratch: wide[start:stop]) / n
        wide_mean = np.tile(mean, tile)

        def squared_deviations(start, stop, scratch):
            np.subtract(wide[start:stop], wide_mean, out=scratch)
            return np.square(scratch, out=scratch)

        var = self._column_sums(parts, wide, squared_deviations) / n
        self._update_running(mean, var, n)
        self._inv_std = (1 / np.sqrt(var + self.eps)).astype(self.dtype)
        self._x, self._mean = wide, wide_mean  # x is a layer's fresh output: nothing changes it before backward
        scale = self.params["gamma"] * self._inv_std
        out = np.empty_like(wide)
        # out = gamma * (x - mean) / std + beta = x * scale + (beta - mean * scale), per feature.
        self._affine(parts, out, wide, np.tile(scale, tile), np.tile(self.params["beta"] - mean * scale, tile))
        return out.reshape(x.shape)

    def backward(self, dout):
        """dbeta = sum(dout), dgamma = sum(dout xhat) and, over the n rows of each feature,
        dx = gamma / std * (dout - (dbeta + xhat dgamma) / n): the mean and variance depend on
        every x of the batch, which adds the two subtracted terms to the plain gamma / std.
        With xhat = (x - mean) / std that is dout * a + x * b + c per feature, one pass."""
        x, wide_mean, inv_std = self._x, self._mean, self._inv_std
        wide, n = dout.reshape(x.shape), dout.size // self.n_features
        parts, tile = _parts(wide), wide.shape[1] // self.n_features
        mean = wide_mean[: self.n_features]
        self.grads["beta"][...] = self._column_sums(parts, wide, lambda start, stop, scratch: wide[start:stop])

        def centered_products(start, stop, scratch):
            np.subtract(x[start:stop], wide_mean, out=scratch)
            return np.multiply(scratch, wide[start:stop], out=scratch)

        self.grads["gamma"][...] = self._column_sums(parts, wide, centered_products) * inv_std
        self._x = None
        if not self.needs_input_grad:
            return None
        scale = self.params["gamma"] * inv_std
        x_scale = -scale * inv_std * self.grads["gamma"] / n
        shift = -scale * self.grads["beta"] / n - x_scale * mean
        dx = np.empty_like(wide)
        self._affine(parts, dx, x, np.tile(x_scale, tile), np.tile(shift, tile), wide, np.tile(scale, tile))
        return dx.reshape(dout.shape)

    def spec(self):
        return {
            "type": "BatchNorm",
            "n_features": self.n_features,
            "momentum": self.momentum,
            "eps": self.eps,
            "dtype": self.dtype.name,
        }

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) not in (1, 3) or shape[-1] != self.n_features:
            raise ValueError(
                f"takes rows ({self.n_features},) or images (height, width, {self.n_features}) "
                f"but receives {tuple(shape)}"
            )
        return tuple(shape)

    @classmethod
    def n_parameters(cls, **kwargs) -> int:
        """gamma, beta and the two running statistics: 4 values per feature."""
        return 4 * int(kwargs.get("n_features", 1))

    def _column_sums(self, parts, rows, values) -> np.ndarray:
        """Per-feature sums (n_features,) of ``values(start, stop, scratch)`` over the row ranges
        ``parts`` of ``rows`` (a ``_wide`` view); ``scratch`` is per-thread memory shaped like the
        range's rows. Each range is summed as ones @ rows (a BLAS gemv, several times faster than
        a sum over axis 0 of rows of a few features), side by side; the partial sums are added in
        float64 in range order, so the result does not depend on the thread count."""
        partial = np.empty((len(parts), rows.shape[1]), self.dtype)

        def chunk(index):
            start, stop = parts[index]
            block = values(start, stop, self._scratch.like(rows[start:stop]))
            np.matmul(self._ones[: stop - start], block, out=partial[index])

        size = max(stop - start for start, stop in parts)
        if len(self._ones) < size or self._ones.dtype != self.dtype:
            self._ones = np.ones(size, self.dtype)
        parallel.run(chunk, len(parts))
        sums = partial.sum(axis=0, dtype=np.float64).reshape(-1, self.n_features).sum(axis=0)
        return sums.astype(self.dtype)

    def _affine(self, parts, out, x, x_scale, shift, other=None, other_scale=None) -> None:
        """out = x * x_scale + shift [+ other * other_scale], per feature, range by range side by side."""

        def chunk(index):
            start, stop = parts[index]
            target = out[start:stop]
            np.multiply(x[start:stop], x_scale, out=target)
            target += shift
            if other is not None:
                target += np.multiply(other[start:stop], other_scale, out=self._scratch.like(target))

        parallel.run(chunk, len(parts))

    def _update_running(self, mean, var, n) -> None:
        keep = 1 - self.momentum
        self.buffers["running_mean"] *= keep
        self.buffers["running_mean"] += self.momentum * mean
        self.buffers["running_var"] *= keep
        self.buffers["running_var"] += (self.momentum * n / (n - 1)) * var


def _parts(rows: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges of about CHUNK_VALUES values each: from the array's size alone, never from
    the thread count, so sums combined range by range are the same bytes on any thread count."""
    return parallel.ranges(len(rows), -(-rows.size // CHUNK_VALUES))


def _wide(rows: np.ndarray) -> np.ndarray:
    """(n, n_features) rows as (n / k, k * n_features), k a power of two dividing n, up to
    about WIDTH values a row: a per-feature vector tiled k times applies to it unchanged, and
    NumPy's inner loops run over k * n_features values instead of a few channels' worth."""
    n, features = rows.shape
    k = 1
    while (2 * k) * features <= WIDTH and n % (2 * k) == 0:
        k *= 2
    return rows.reshape(n // k, k * features)
