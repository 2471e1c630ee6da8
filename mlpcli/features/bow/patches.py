"""Square image patches: the grid of positions, strided views, random samples, and contrast normalization.

A patch is ``patch x patch`` pixels at every ``stride``-th row and column where it fits, flattened
in (row, col, channel) order to ``patch * patch * 3`` values on the 0..255 scale.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Added to each patch's variance before dividing by its square root (0..255 scale, Coates et
#: al. 2011): flat patches are not blown up into noise.
CONTRAST_EPS = 10.0

_GATHER_BYTES = 16 << 20  # uint8 patches gathered at a time


def grid(height: int, width: int, patch: int, stride: int) -> tuple[int, int]:
    """(patch rows, patch cols): how many patch positions fit down and across an image."""
    if patch > height or patch > width:
        raise ValueError(f"bow patch {patch} does not fit in {height}x{width} images; use a smaller features patch")
    return (height - patch) // stride + 1, (width - patch) // stride + 1


def view(images: np.ndarray, patch: int, stride: int) -> np.ndarray:
    """(n_images, height, width, 3) uint8 -> (n_images, rows, cols, patch, patch, 3), a view (no copy)."""
    windows = sliding_window_view(images, (patch, patch), axis=(1, 2))  # (n, r, c, 3, p, p)
    return windows[:, ::stride, ::stride].transpose(0, 1, 2, 4, 5, 3)


def positions(images_shape: tuple, patch: int, stride: int) -> int:
    """How many patches the images of ``images_shape = (n_images, height, width, 3)`` hold."""
    rows, cols = grid(images_shape[1], images_shape[2], patch, stride)
    return images_shape[0] * rows * cols


def sample(images: np.ndarray, count: int, patch: int, stride: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` patches at random (image, row, col) positions, drawn uniformly with replacement;
    every position once, in order, when ``count`` is the number of positions (the cap
    ``bow.sample_count`` puts on it: drawn with replacement, a third of them would be missed).

    images (n_images, height, width, 3) uint8 -> (count, patch * patch * 3) float32 on 0..255.
    """
    rows, cols = grid(images.shape[1], images.shape[2], patch, stride)
    total = len(images) * rows * cols
    flat = np.arange(total) if count == total else rng.integers(total, size=count)
    out = np.empty((len(flat), patch * patch * 3), np.float32)
    step = max(1, _GATHER_BYTES // (patch * patch * 3))
    for start in range(0, len(flat), step):  # chunks: the uint8 gather never holds the whole sample
        out[start : start + step] = _gather(images, flat[start : start + step], cols, patch, stride)
    return out


def _gather(images: np.ndarray, flat: np.ndarray, cols: int, patch: int, stride: int) -> np.ndarray:
    """The patches at flat positions (image * rows * cols + row * cols + col) -> (len(flat),
    patch * patch * 3) uint8."""
    rows = (images.shape[1] - patch) // stride + 1
    image, position = np.divmod(flat, rows * cols)
    row, col = np.divmod(position, cols)
    offsets = np.arange(patch)
    # Fancy indexing gathers every patch in one call: (count, patch, 1) rows x (count, 1, patch) cols.
    pixel_rows = (row * stride)[:, None, None] + offsets[None, :, None]
    pixel_cols = (col * stride)[:, None, None] + offsets[None, None, :]
    return images[image[:, None, None], pixel_rows, pixel_cols].reshape(len(flat), -1)


def normalize(patches: np.ndarray) -> np.ndarray:
    """Brightness and contrast normalization of each row, in place; returns ``patches``.

    patches (n_patches, patch_values) on 0..255: each row minus its mean, divided by
    ``sqrt(variance + CONTRAST_EPS)`` (population variance over the row's values).
    """
    size = patches.shape[1]
    patches -= (patches.sum(axis=1, keepdims=True) / size).astype(patches.dtype, copy=False)
    variance = np.einsum("ij,ij->i", patches, patches) / size
    patches *= (1 / np.sqrt(variance + CONTRAST_EPS))[:, None].astype(patches.dtype, copy=False)
    return patches
