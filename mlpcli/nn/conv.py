"""The convolution layer of the end-to-end extractor.

Layout: images are channels-last, ``(n_images, height, width, channels)``, the layout the data
layer stores them in; every image layer (Conv2D, MaxPool2D) takes and returns that layout.
``ImageReshape`` (in ``extractor``) turns a feature row (pixels flattened in row, col, channel
order, i.e. ``images.reshape(n_images, -1)``) into that layout and ``Flatten`` turns it back into
rows for the MLP.

Conv2D weights are stored ``(kernel, kernel, in_channels, filters)`` and applied as a
cross-correlation (no kernel flip, as in every deep-learning library). Its passes are matrix
products over the whole batch: im2col copies each receptive field into one row of
``cols (n_images * out_height * out_width, kernel * kernel * in_channels)``, after which the layer
is a Linear layer on those rows: ``cols @ W.reshape(-1, filters) + b``.

The copies between the products (padding, im2col, the transposed convolution's windows and its
accumulation, col2im) run over chunks of images side by side on the threads of ``parallel``;
each image's values are computed in the same order whatever the chunking, so the bytes do not
depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import parallel, products
from .layers import Layer, register


@register
class Conv2D(Layer):
    """2-D convolution with zero padding.

    x (n_images, height, width, in_channels) -> out (n_images, out_height, out_width, filters),
    out_height = (height + 2 * padding - kernel) // stride + 1, likewise out_width.
    W (kernel, kernel, in_channels, filters); b (filters,). Parameters start at zero: the
    extractor builder initializes them. Naive reference (loops): ``reference.conv2d_forward``
    and ``conv2d_backward``.
    """

    decayed = ("W",)

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        dtype="float32",
    ) -> None:
        super().__init__()
        self.in_channels, self.filters = _positive("in_channels", in_channels), _positive("filters", filters)
        self.kernel, self.stride = _positive("kernel", kernel), _positive("stride", stride)
        if int(padding) < 0:
            raise ValueError(f"Conv2D padding must be >= 0, got {padding}")
        self.padding, self.bias, self.dtype = int(padding), bool(bias), np.dtype(dtype)
        self.params["W"] = np.zeros((self.kernel, self.kernel, self.in_channels, self.filters), self.dtype)
        if self.bias:
            self.params["b"] = np.zeros(self.filters, self.dtype)
        self.allocate_grads()
        self._cols: np.ndarray | None = None
        self._x_shape: tuple[int, ...] | None = None
        # Scratch memory reused from batch to batch (im2col alone is ~40 MB per pass at batch
        # 128). Nothing handed out of the layer lives here: outputs and dx are always fresh.
        self._scratch: dict[str, np.ndarray] = {}

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        span = 2 * self.padding - self.kernel
        return (height + span) // self.stride + 1, (width + span) // self.stride + 1

    def forward(self, x, training=True):
        n_images, height, width, channels = x.shape
        if channels != self.in_channels:
            raise ValueError(f"Conv2D expects {self.in_channels} input channels, got {channels}")
        out_height, out_width = self.output_size(height, width)
        if out_height < 1 or out_width < 1:
            raise ValueError(
                f"Conv2D kernel {self.kernel} (padding {self.padding}) does not fit a {height}x{width} image"
            )
        cols = self._im2col(x, out_height, out_width, reuse=training)
        out = products.matmul(cols, self._weights(with_bias=True))
        self._cols, self._x_shape = (cols, x.shape) if training else (None, None)
        return out.reshape(n_images, out_height, out_width, self.filters)

    def backward(self, dout):
        rows = dout.reshape(-1, self.filters)
        # dW = cols^T dout, as in Linear. The column of ones in cols makes the last row db.
        grads = products.matmul(self._cols.T, rows)
        n_weights = self.kernel**2 * self.in_channels
        self.grads["W"].reshape(n_weights, self.filters)[...] = grads[:n_weights]
        if self.bias:
            self.grads["b"][...] = grads[n_weights]
        self._cols = None
        if not self.needs_input_grad:
            return None
        if self.stride == 1 and self.padding < self.kernel:
            return self._transposed_conv(dout)
        dcols = self._buffer("dcols", (len(rows), n_weights))
        products.matmul(rows, self._weights(with_bias=False).T, out=dcols)
        return self._col2im(dcols, dout.shape)

    def spec(self):
        return {
            "type": "Conv2D",
            "in_channels": self.in_channels,
            "filters": self.filters,
            "kernel": self.kernel,
            "stride": self.stride,
            "padding": self.padding,
            "bias": self.bias,
            "dtype": self.dtype.name,
        }

    def output_shape(self, shape):
        if len(shape) != 3:
            raise ValueError(f"takes images (height, width, channels) but receives {shape}")
        height, width, channels = shape
        if channels != self.in_channels:
            raise ValueError(f"takes {self.in_channels} channels but receives {shape}")
        if self.padding >= self.kernel:
            raise ValueError(f"padding {self.padding} must be smaller than the kernel {self.kernel}")
        out = (*self.output_size(height, width), self.filters)
        if min(out) < 1:
            raise ValueError(f"does not fit the {height}x{width} image it receives")
        return out

    def working_values(self, shape):
        """The im2col rows of one image."""
        out_height, out_width = self.output_size(*shape[:2])
        return out_height * out_width * (self.kernel**2 * self.in_channels + self.bias)

    @classmethod
    def n_parameters(cls, in_channels=1, filters=1, kernel=1, bias=True, **kwargs):
        return kernel**2 * in_channels * filters + (filters if bias else 0)

    def _weights(self, with_bias):
        """W as (k * k * channels, filters); with_bias appends b as a last row."""
        weights = self.params["W"].reshape(-1, self.filters)
        return np.vstack([weights, self.params["b"]]) if with_bias and self.bias else weights

    def _im2col(self, x, out_height, out_width, reuse):
        """x (n_images, height, width, channels) -> cols (n_rows, k * k * channels [+ 1]),
        n_rows = n_images * out_height * out_width. With a bias, cols end with a column of ones,
        so that ``cols @ [W; b]`` adds the bias inside the product and dW's product yields db:
        each saves a pass over the output."""
        padded = self._padded("input", x, self.padding, self.padding)
        windows = _windows(padded, out_height, out_width, self.kernel, self.stride)
        n_weights = self.kernel**2 * self.in_channels
        cols = self._cols_memory(len(x) * out_height * out_width, reuse)
        # A view, not a copy: the reshape only splits the row axis and the column axis.
        _copy_images(cols[:, :n_weights].reshape(windows.shape), windows)
        return cols

    def _cols_memory(self, n_rows, reuse):
        """(n_rows, k * k * channels [+ 1]) for im2col. The ones column is written when the
        memory is allocated and by nothing else, so reused memory keeps it."""
        cols = self._scratch.get("cols") if reuse else None
        if cols is None or len(cols) < n_rows:
            cols = np.empty((n_rows, self.kernel**2 * self.in_channels + self.bias), self.dtype)
            if self.bias:
                cols[:, -1] = 1
            if reuse:
                self._scratch["cols"] = cols
        return cols[:n_rows]

    def _transposed_conv(self, dout):
        """dx for stride 1: dx[row, col] = sum over i, j of dout[row + p - i, col + p - j] W[i, j]^T.

        The sum over j is a transposed convolution along cols, done for every kernel row i by one
        product: dout windows along cols (n_rows, kernel * filters), after padding the cols by
        kernel - 1 - padding, times the col-flipped kernel (kernel * filters, kernel * channels).
        The sum over i is then kernel shifted accumulations over rows. This moves less memory
        than dcols + col2im (k accumulations instead of k * k), the slowest pass otherwise.
        """
        n_images, height, width, channels = self._x_shape
        _, out_height, _, filters = dout.shape
        k = self.kernel
        padded = self._padded("dout", dout, 0, k - 1 - self.padding)
        s_image, s_row, s_col, s_filter = padded.strides
        windows = as_strided(
            padded, (n_images, out_height, width, k, filters), (s_image, s_row, s_col, s_col, s_filter), writeable=False
        )
        cols = self._buffer("dcols", (n_images * out_height * width, k * filters))
        _copy_images(cols.reshape(windows.shape), windows)
        flipped = self.params["W"][:, ::-1].transpose(1, 3, 0, 2).reshape(k * filters, k * channels)
        partial = self._buffer("partial", (len(cols), k * channels))
        products.matmul(cols, flipped, out=partial)
        partial = partial.reshape(n_images, out_height, width, k, channels)
        dx = np.empty(self._x_shape, self.dtype)
        overlaps = [_overlap(row, height, out_height, 1, self.padding) for row in range(k)]

        def accumulate(start, stop):  # zeroed and summed chunk by chunk, while it is in cache
            dx[start:stop] = 0
            for row, (out_rows, in_rows) in enumerate(overlaps):
                dx[start:stop, in_rows] += partial[start:stop, out_rows, :, row]

        parallel.for_rows(accumulate, n_images, partial.size + dx.size)
        return dx

    def _col2im(self, dcols, dout_shape):
        """Sum each row of dcols back onto the pixels of its receptive field: one strided
        accumulation per kernel offset, each over the whole batch."""
        n_images, height, width, channels = self._x_shape
        _, out_height, out_width, _ = dout_shape
        k = self.kernel
        dcols = dcols.reshape(n_images, out_height, out_width, k, k, channels)
        dx = np.empty(self._x_shape, self.dtype)
        rows = [_overlap(row, height, out_height, self.stride, self.padding) for row in range(k)]
        cols = [_overlap(col, width, out_width, self.stride, self.padding) for col in range(k)]

        def accumulate(start, stop):
            dx[start:stop] = 0
            for row, (out_rows, in_rows) in enumerate(rows):
                for col, (out_cols, in_cols) in enumerate(cols):
                    dx[start:stop, in_rows, in_cols, :] += dcols[start:stop, out_rows, out_cols, row, col, :]

        parallel.for_rows(accumulate, n_images, dcols.size)
        return dx

    def _padded(self, name, x, rows, cols):
        """x with ``rows`` zeros above and below and ``cols`` zeros left and right, in a reused
        buffer whose border is zeroed once and never written."""
        if rows == cols == 0:
            return x
        n_images, height, width, channels = x.shape
        shape = (n_images, height + 2 * rows, width + 2 * cols, channels)
        buffer = self._scratch.get(name)
        if buffer is None or buffer.shape != shape:
            buffer = self._scratch[name] = np.zeros(shape, self.dtype)
        _copy_images(buffer[:, rows : rows + height, cols : cols + width, :], x)
        return buffer

    def _buffer(self, name, shape):
        size = int(np.prod(shape))
        buffer = self._scratch.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._scratch[name] = np.empty(size, self.dtype)
        return buffer[:size].reshape(shape)


def _copy_images(target, source):
    """``target[...] = source`` for arrays of images (same first axis), by chunks of images on
    the threads of ``parallel``."""

    def copy(start, stop):
        np.copyto(target[start:stop], source[start:stop])

    parallel.for_rows(copy, len(target), target.size)


def _windows(padded, out_height, out_width, kernel, stride):
    """Read-only view (n_images, out_height, out_width, kernel, kernel, channels): the receptive
    field of every output pixel, without copying."""
    n_images, _, _, channels = padded.shape
    s_image, s_row, s_col, s_channel = padded.strides
    return as_strided(
        padded,
        (n_images, out_height, out_width, kernel, kernel, channels),
        (s_image, stride * s_row, stride * s_col, s_row, s_col, s_channel),
        writeable=False,
    )


def _overlap(offset, size, out_size, stride, padding):
    """Slices (outputs, inputs) of the outputs whose kernel ``offset`` lands inside the image
    (not on padding), and the input rows (or cols) they land on."""
    first = max(0, -((offset - padding) // stride))  # ceil((padding - offset) / stride)
    stop = min(out_size, (size - 1 + padding - offset) // stride + 1)
    if stop <= first:
        return slice(0, 0), slice(0, 0)
    start = first * stride + offset - padding
    return slice(first, stop), slice(start, (stop - 1) * stride + offset - padding + 1, stride)


def _positive(name, value):
    if int(value) < 1:
        raise ValueError(f"Conv2D {name} must be >= 1, got {value}")
    return int(value)
