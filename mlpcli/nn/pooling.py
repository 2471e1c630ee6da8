"""Max pooling over channels-last images ``(n_images, height, width, channels)``.

Max is the lecture's max gate applied per window: the whole upstream gradient goes to the input
that won, zero to the others.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import parallel
from .layers import Layer, register


@register
class MaxPool2D(Layer):
    """Max over ``pool x pool`` windows taken every ``stride`` pixels (default: ``pool``).

    x (n_images, height, width, channels) -> (n_images, out_height, out_width, channels),
    out_height = (height - pool) // stride + 1, likewise out_width: rows and cols that do not
    fill a window are dropped (floor mode) and receive zero gradient.

    Tie rule: first max only. When several inputs of a window share the maximum, the gradient
    goes to the first of them in row-major order (smallest row, then smallest col), as in
    PyTorch and Caffe. The lecture gives it to every tied input instead, but that sends k times
    the upstream gradient through a k-way tie, which is not a (sub)gradient of max and breaks
    the sum rule (the gradients reaching the inputs add up to the gradient leaving the window).
    First-max is one valid subgradient and keeps the sum.

    Both passes run over chunks of images side by side on the threads of ``parallel``; every
    output depends on its own image alone, so the bytes do not depend on the thread count.
    Naive reference (loops): ``reference.maxpool2d_forward`` and ``maxpool2d_backward``.
    """

    def __init__(self, pool: int, stride: int | None = None) -> None:
        super().__init__()
        self.pool = int(pool)
        self.stride = self.pool if stride is None else int(stride)
        if self.pool < 1 or self.stride < 1:
            raise ValueError(f"MaxPool2D pool and stride must be >= 1, got pool={pool}, stride={stride}")
        self._winner: np.ndarray | None = None
        self._x_shape: tuple[int, ...] | None = None

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return (height - self.pool) // self.stride + 1, (width - self.pool) // self.stride + 1

    def forward(self, x, training=True):
        n_images, height, width, channels = x.shape
        out_height, out_width = self.output_size(height, width)
        if out_height < 1 or out_width < 1:
            raise ValueError(f"MaxPool2D pool {self.pool} does not fit a {height}x{width} image")
        windows = self._windows(x, out_height, out_width)
        out = np.empty((n_images, out_height, out_width, channels), x.dtype)
        winner = np.empty(out.shape, np.min_scalar_type(self.pool**2)) if training else None
        parallel.for_rows(
            lambda start, stop: self._max(
                windows[start:stop], out[start:stop], None if winner is None else winner[start:stop]
            ),
            n_images,
            x.size,
        )
        self._winner, self._x_shape = winner, x.shape
        return out

    def backward(self, dout):
        out_height, out_width = dout.shape[1:3]
        covered = self.stride == self.pool and self._x_shape[1:3] == (out_height * self.pool, out_width * self.pool)
        dx = np.empty(self._x_shape, dout.dtype)
        windows = self._windows(dx, out_height, out_width)

        def chunk(start, stop):
            if not covered:
                dx[start:stop] = 0
            self._route(dout[start:stop], self._winner[start:stop], windows[start:stop])

        parallel.for_rows(chunk, len(dx), dx.size)
        return dx

    def _route(self, dout, winner, windows) -> None:
        """Each window's upstream gradient to the input that won it (one chunk of images)."""
        wins = np.empty(dout.shape, bool)
        for index in range(self.pool**2):
            target = windows[:, :, index // self.pool, :, index % self.pool, :]
            np.equal(winner, index, out=wins)
            if self.stride >= self.pool:
                np.multiply(dout, wins, out=target)  # each input is in at most one window
            else:
                target += dout * wins  # overlapping windows share inputs: accumulate

    def kink_pattern(self):
        """Each window's winner: max has a kink wherever the winner changes."""
        return None if self._winner is None else self._winner.copy()

    def output_shape(self, shape):
        if len(shape) != 3:
            raise ValueError(f"takes images (height, width, channels) but receives {shape}")
        out = (*self.output_size(*shape[:2]), shape[2])
        if min(out) < 1:
            raise ValueError(f"does not fit the {shape[0]}x{shape[1]} image it receives")
        return out

    def spec(self):
        return {"type": "MaxPool2D", "pool": self.pool, "stride": self.stride}

    def _windows(self, x, out_height, out_width):
        """View (n_images, out_height, pool, out_width, pool, channels) of every window."""
        s_image, s_row, s_col, s_channel = x.strides
        shape = (len(x), out_height, self.pool, out_width, self.pool, x.shape[3])
        strides = (s_image, self.stride * s_row, s_row, self.stride * s_col, s_col, s_channel)
        return as_strided(x, shape, strides)

    def _max(self, windows, out, winner) -> None:
        """Max over each window into ``out``, one strided pass per window offset, and (when
        ``winner`` is given) the index ``row * pool + col`` of each window's first maximum.

        A candidate strictly greater than every earlier one becomes the winner, and the index
        only grows, so the winner is the largest index that was ever strictly better: a running
        max of index * better (a masked assignment would be several times slower).
        """
        np.copyto(out, windows[:, :, 0, :, 0, :])
        if winner is not None:
            winner[...] = 0
            better, stamp = np.empty(out.shape, bool), np.empty_like(winner)
        for index in range(1, self.pool**2):
            candidate = windows[:, :, index // self.pool, :, index % self.pool, :]
            if winner is not None:
                np.greater(candidate, out, out=better)  # strictly: a later tie never wins
                np.multiply(better, winner.dtype.type(index), out=stamp)
                np.maximum(winner, stamp, out=winner)
            np.maximum(out, candidate, out=out)
