"""Dropout (Srivastava et al., 2014), inverted: the scaling happens at training time.

At training each value is zeroed with probability ``p`` and the survivors are multiplied by
1 / (1 - p), so every unit's expected output is its input and prediction needs no rescaling:
with ``training=False`` the layer is the identity.
"""

from __future__ import annotations

import numpy as np

from .layers import Layer, register


@register
class Dropout(Layer):
    """x of any shape -> the same shape; no parameters.

    The mask comes from ``rng``, a ``numpy.random.Generator`` the trainer sets
    (``layer.rng = ...``) from the run's seed tree: the same generator state draws the same mask,
    so runs are reproducible and a resumed run continues bit for bit.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng: np.random.Generator | None = None
        self._mask: np.ndarray | None = None

    def forward(self, x, training=True):
        if not training or self.p == 0:
            self._mask = None
            return x
        self._mask = self._draw_mask(x.shape, x.dtype)
        return x * self._mask

    def backward(self, dout):
        if not self.needs_input_grad:
            return None
        return dout if self._mask is None else dout * self._mask

    def spec(self):
        return {"type": "Dropout", "p": self.p}

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(shape)

    @classmethod
    def n_parameters(cls, **kwargs) -> int:
        return 0

    def _draw_mask(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """0 where dropped, 1 / (1 - p) where kept: uniforms in [0, 1) keep when >= p."""
        if self.rng is None:
            raise RuntimeError(
                "Dropout needs a random generator to train: set "
                "layer.rng = np.random.default_rng(seed) (the trainer does this)"
            )
        mask = self.rng.random(shape, dtype=np.float32 if dtype == np.float32 else np.float64)
        np.greater_equal(mask, self.p, out=mask)  # 1.0 kept, 0.0 dropped, in place
        mask *= 1 / (1 - self.p)
        return mask.astype(dtype, copy=False)
