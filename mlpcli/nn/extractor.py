"""The end-to-end extractor: convolution -> ReLU -> max-pool blocks in front of the MLP.

It takes the standardized raw-pixel feature row, so the network is
``ImageReshape -> [Conv2D -> ReLU -> MaxPool2D] per block -> Flatten -> MLP`` and the
classification loss trains the extractor too. Each block is built as Conv2D -> MaxPool2D -> ReLU:
ReLU is monotone, so max(relu(x)) = relu(max(x)) and the gradients agree too, but the ReLU then
runs on a pool**2 times smaller tensor. Images are channels-last (see ``conv``); the two
reshaping layers that convert between feature rows and that layout live here.
"""

from __future__ import annotations

import numpy as np

from .activations import ReLU
from .batchnorm import BatchNorm
from .conv import Conv2D
from .init import he
from .layers import Layer, register
from .pooling import MaxPool2D

#: ``gradient``: the first block starts as oriented derivative filters (a learnable HOG at
#: step 0), other filters He; ``random``: He everywhere.
EXTRACTOR_INITS = ("gradient", "random")

#: Oriented filters in the first block: 8 directions over 180 degrees (0, 22.5, ..., 157.5),
#: each with both signs, so 16 filters cover the full circle in 22.5-degree steps.
N_ORIENTATIONS = 8

#: ITU-R 601 luma weights: the gradient filters look at brightness, not at one colour.
LUMINANCE = (0.299, 0.587, 0.114)

_REQUIRED, _OPTIONAL = ("filters", "kernel", "pool"), ("stride", "padding")


@register
class Flatten(Layer):
    """(n_samples, ...) -> (n_samples, prod(...)): image features into rows for the MLP."""

    def forward(self, x, training=True):
        self._shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dout):
        return dout.reshape(self._shape)

    def output_shape(self, shape):
        return (int(np.prod(shape)),)


@register
class ImageReshape(Layer):
    """Feature rows (n_images, height * width * channels) -> images (n_images, height, width,
    channels), a view. The first layer of an end-to-end network, whose input is standardized
    raw pixels flattened in row, col, channel order."""

    def __init__(self, height: int, width: int, channels: int) -> None:
        super().__init__()
        self.height, self.width, self.channels = int(height), int(width), int(channels)

    def forward(self, x, training=True):
        expected = self.height * self.width * self.channels
        if x.ndim != 2 or x.shape[1] != expected:
            raise ValueError(
                f"ImageReshape expects rows of {expected} values "
                f"({self.height}x{self.width}x{self.channels} images), got shape {x.shape}"
            )
        return x.reshape(len(x), self.height, self.width, self.channels)

    def backward(self, dout):
        return dout.reshape(len(dout), -1)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.height, self.width, self.channels

    def output_shape(self, shape):
        if shape != (int(np.prod(self.image_shape)),):
            raise ValueError(f"reshapes to {self.image_shape} but receives {shape}")
        return self.image_shape

    def spec(self):
        return {"type": "ImageReshape", "height": self.height, "width": self.width, "channels": self.channels}


def build_extractor(
    blocks: list[dict],
    image_shape: tuple[int, int, int],
    init: str = "gradient",
    trainable: bool = True,
    rng: np.random.Generator | None = None,
    dtype="float32",
    batchnorm: bool = False,
    norm_after_pool: bool = False,
) -> tuple[list[Layer], int]:
    """Layers for images of ``image_shape = (height, width, channels)``, and n_features.

    Each block is ``{filters, kernel, pool}`` with optional ``stride`` (default 1) and
    ``padding`` (default kernel // 2, "same" for odd kernels). Returns the initialized layers and
    the length of the rows they output, the MLP's n_features. ``trainable=False`` freezes every
    extractor layer: only the MLP after it learns. ``batchnorm=True`` normalizes each
    convolution's output per channel (``Conv2D -> BatchNorm -> MaxPool2D -> ReLU``; the
    convolution then has no bias, which BatchNorm's mean subtraction would cancel).
    ``norm_after_pool=True`` moves it behind the pool (``Conv2D -> MaxPool2D -> BatchNorm ->
    ReLU``): another model, not a reordering of the same one, whose statistics come from the
    pooled maps; it makes pool**2 fewer values pass through the normalization, the largest
    element-wise cost of a step (benchmarks/conv_speed.py times both orders).
    """
    if init not in EXTRACTOR_INITS:
        raise ValueError(f"extractor init must be one of {', '.join(EXTRACTOR_INITS)}, got {init!r}")
    rng = rng if rng is not None else np.random.default_rng(0)
    height, width, channels = (int(size) for size in image_shape)
    layers: list[Layer] = [ImageReshape(height, width, channels)]
    for number, block in enumerate(blocks, start=1):
        conv, pool, (height, width) = _block_layers(number, block, height, width, channels, dtype, bias=not batchnorm)
        _initialize(conv, rng, oriented=init == "gradient" and number == 1)
        norm = [BatchNorm(conv.filters, dtype=dtype)] if batchnorm else []
        layers += [conv, pool, *norm] if norm_after_pool else [conv, *norm, pool]
        layers.append(ReLU(inplace=True))
        channels = conv.filters
    layers.append(Flatten())
    for layer in layers:
        layer.trainable = bool(trainable)
    return layers, height * width * channels


def extractor_output_size(blocks: list[dict], image_size: tuple[int, int]) -> tuple[int, int]:
    """(height, width) of the last block's output for images of ``image_size = (height, width)``,
    without building a layer; ValueError naming the first block the image is too small for. The
    config checks it at load, so a too-deep extractor is a config error before any data is read."""
    height, width = (int(size) for size in image_size)
    for number, block in enumerate(blocks, start=1):
        height, width = _block_size(f"extractor block {number} {dict(block)}", block, height, width)
    return height, width


def _block_size(described: str, block: dict, height: int, width: int) -> tuple[int, int]:
    """The image size after one block's convolution and pool (the formulas of Conv2D and
    MaxPool2D.output_size), or ValueError if the image is smaller than the kernel or the pool."""
    kernel = int(block["kernel"])
    padding, stride = int(block.get("padding", kernel // 2)), int(block.get("stride", 1))
    if min(height, width) + 2 * padding < kernel:
        raise ValueError(
            f"{described}: the image is {height}x{width} when it reaches this block, "
            f"smaller than its kernel {kernel} (padding {padding}); use fewer blocks, "
            f"smaller kernels or pools, or larger images"
        )
    height, width = ((size + 2 * padding - kernel) // stride + 1 for size in (height, width))
    pool = int(block["pool"])
    if min(height, width) < pool:
        raise ValueError(
            f"{described}: the convolution leaves a {height}x{width} image, smaller "
            f"than its pool {pool}; use fewer blocks, smaller pools or larger images"
        )
    return height // pool, width // pool


def _block_layers(number, block, height, width, channels, dtype, bias=True):
    """Conv2D and MaxPool2D of one block, and the image size after them."""
    described = f"extractor block {number} {dict(block)}"
    missing = [key for key in _REQUIRED if key not in block]
    unknown = [key for key in block if key not in _REQUIRED + _OPTIONAL]
    if missing or unknown:
        raise ValueError(
            f"{described}: missing keys {missing}, unknown keys {unknown}; "
            f"a block has {', '.join(_REQUIRED)} and optionally {', '.join(_OPTIONAL)}"
        )
    size = _block_size(described, block, height, width)
    kernel = int(block["kernel"])
    conv = Conv2D(
        channels,
        block["filters"],
        kernel,
        block.get("stride", 1),
        int(block.get("padding", kernel // 2)),
        bias=bias,
        dtype=dtype,
    )
    return conv, MaxPool2D(block["pool"]), size


def _initialize(conv: Conv2D, rng, oriented: bool) -> None:
    """He init; with ``oriented``, the first filters are then replaced by gradient filters.

    He is drawn for every filter either way, so both inits give the same extra filters.
    """
    k, channels, filters = conv.kernel, conv.in_channels, conv.filters
    weights = he(conv.params["W"].shape, k * k * channels, k * k * filters, rng, conv.dtype)
    n_orientations = min(N_ORIENTATIONS, filters // 2) if k >= 2 else 0
    if oriented and n_orientations:
        weights[..., : 2 * n_orientations] = gradient_filters(k, channels, n_orientations, conv.dtype)
    conv.params["W"][...] = weights


def gradient_filters(kernel: int, channels: int, n_orientations: int, dtype="float32") -> np.ndarray:
    """Derivative-of-Gaussian filters (kernel, kernel, channels, 2 * n_orientations).

    Filter 2m is the derivative of the luminance along the direction at angle
    theta_m = m * 180 / n_orientations degrees, measured from the +col axis towards +row: filter 0
    responds to brightness rising along cols (a vertical edge, dark on the left). Filter 2m + 1
    is its negative, so after the ReLU both polarities survive, like HOG's signed gradients.
    Each filter has norm sqrt(2), the expected norm of a He-initialized filter.
    """
    offsets = np.arange(kernel) - (kernel - 1) / 2
    rows, cols = np.meshgrid(offsets, offsets, indexing="ij")
    # sigma = kernel / 3.5 gives 3x3 diagonal neighbours half the weight of axial ones, as Sobel.
    gauss = np.exp(-(rows**2 + cols**2) / (2 * (kernel / 3.5) ** 2))
    angles = np.pi * np.arange(n_orientations) / n_orientations
    derivative = (cols[..., None] * np.cos(angles) + rows[..., None] * np.sin(angles)) * gauss[..., None]
    signed = np.stack([derivative, -derivative], axis=-1).reshape(kernel, kernel, 2 * n_orientations)
    luminance = np.array(LUMINANCE) if channels == 3 else np.full(channels, 1.0 / channels)
    filters = signed[:, :, None, :] * luminance[None, None, :, None]
    filters *= np.sqrt(2) / np.linalg.norm(filters.reshape(-1, filters.shape[-1]), axis=0)
    return filters.astype(dtype)
