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


def grid(height: int, width: int, patch: int, stride: int) -> tuple[int, int]:
    """(patch rows, patch cols): how many patch positions fit down and across an image."""
    if patch > height or patch > width:
        raise ValueError(f"bow patch {patch} does not fit in {height}x{width} images; "
                         "use a smaller features patch")
    return (height - patch) // stride + 1, (width - patch) // stride + 1


def view(images: np.ndarray, patch: int, stride: int) -> np.ndarray:
    """(n_images, height, width, 3) uint8 -> (n_images, rows, cols, patch, patch, 3), a view (no copy)."""
    windows = sliding_window_view(images, (patch, patch), axis=(1, 2))  # (n, r, c, 3, p, p)
    return windows[:, ::stride, ::stride].transpose(0, 1, 2, 4, 5, 3)


def sample(images: np.ndarray, count: int, patch: int, stride: int,
           rng: np.random.Generator) -> np.ndarray:
    """``count`` patches at random (image, row, col) positions, drawn uniformly with replacement.

    images (n_images, height, width, 3) uint8 -> (count, patch * patch * 3) float32 on 0..255.
    """
    rows, cols = grid(images.shape[1], images.shape[2], patch, stride)
    flat = rng.integers(len(images) * rows * cols, size=count)
    image, position = np.divmod(flat, rows * cols)
    row, col = np.divmod(position, cols)
    offsets = np.arange(patch)
    # Fancy indexing gathers every patch in one call: (count, patch, 1) rows x (count, 1, patch) cols.
    pixel_rows = (row * stride)[:, None, None] + offsets[None, :, None]
    pixel_cols = (col * stride)[:, None, None] + offsets[None, None, :]
    patches = images[image[:, None, None], pixel_rows, pixel_cols]  # (count, patch, patch, 3)
    return patches.reshape(count, -1).astype(np.float32)


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
