"""Element-wise non-linearities. Without them stacked linear layers collapse into one (W2 W1 = W).

Each maps x of any shape to an output of the same shape. With ``inplace=True`` the forward pass
overwrites its input and the backward pass its upstream gradient: safe right after a layer that
allocates a fresh output and keeps only its input (Linear, Conv2D), and it saves a copy per batch.
ReLU's passes over large arrays run by chunks of samples on the threads of ``parallel``.
"""

from __future__ import annotations

import numpy as np

from . import parallel
from .layers import Layer, register


class _Activation(Layer):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace
        self._out: np.ndarray | None = None

    def spec(self):
        return {"type": type(self).__name__, "inplace": self.inplace}


@register
class ReLU(_Activation):
    """max(0, x). The local gradient is 1 where x > 0 and 0 elsewhere, including at exactly 0."""

    def forward(self, x, training=True):
        out = x if self.inplace else np.empty_like(x)
        parallel.for_rows(lambda start, stop: np.maximum(x[start:stop], 0, out=out[start:stop]), len(x), x.size)
        self._out = out
        return out

    def backward(self, dout):
        dx = dout if self.inplace else np.empty_like(dout)

        def chunk(start, stop):  # the mask of each chunk is made and used while in cache
            np.multiply(dout[start:stop], self._out[start:stop] > 0, out=dx[start:stop])

        parallel.for_rows(chunk, len(dout), dout.size)
        return dx

    def kink_pattern(self):
        """Where x > 0: the kink is at 0."""
        return None if self._out is None else self._out > 0


@register
class Sigmoid(_Activation):
    """s(x) = 1 / (1 + exp(-x)); local gradient s(x) (1 - s(x))."""

    def forward(self, x, training=True):
        out = x if self.inplace else np.empty_like(x)
        # tanh form: the same function, but exp never overflows for large |x|.
        np.multiply(x, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1
        out *= 0.5
        self._out = out
        return out

    def backward(self, dout):
        s = self._out
        return np.multiply(dout, s * (1 - s), out=dout if self.inplace else None)


@register
class Tanh(_Activation):
    """tanh(x); local gradient 1 - tanh(x)^2."""

    def forward(self, x, training=True):
        self._out = np.tanh(x, out=x if self.inplace else None)
        return self._out

    def backward(self, dout):
        t = self._out
        return np.multiply(dout, 1 - t * t, out=dout if self.inplace else None)


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}
