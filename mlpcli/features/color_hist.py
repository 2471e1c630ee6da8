"""Color histograms: how much of each image falls in each hue (``hsv``) or RGB cube cell (``rgb``).

Histograms count pixels and are divided by the number of pixels, so each row sums to 1 and images
of different sizes compare. They ignore where a pixel is: flips and any shuffle of the pixels
leave them unchanged.

Output length: ``bins`` for ``hsv``; ``bins ** 3`` for ``rgb`` (red-major, then green, then blue).
"""

from __future__ import annotations

import numpy as np

from .images import check_images

SPACES = ("hsv", "rgb")
_CHUNK_PIXELS = 1 << 16  # pixels per chunk in extract(): temporaries stay in cache


def _check_params(space, bins) -> None:
    if space not in SPACES:
        raise ValueError(f"color_hist space must be one of {', '.join(SPACES)}; got {space!r}")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"color_hist bins must be an integer >= 1; got {bins!r}")


def _channel_planes(images: np.ndarray, dtype) -> np.ndarray:
    """(n_images, height, width, 3) -> (3, n_images, height, width) contiguous: per-channel
    arithmetic then runs on contiguous arrays, several times faster than on strided views."""
    return images.transpose(3, 0, 1, 2).astype(dtype, order="C")


def _hue_sixths(images: np.ndarray):
    """Hue as an exact fraction: (numerator, denominator) int16 arrays (n_images, height, width)
    with hue = (numerator / denominator) mod 1 and numerator in [-denominator / 6, denominator);
    gray pixels get 0 / 6.

    The HSV hexcone: the largest channel picks a third of the circle, the other two place the
    hue inside it. Integers keep bin edges exact (pure green is exactly 1/3).
    """
    red, green, blue = _channel_planes(images, np.int16)  # 12 * 255 fits in int16
    top = np.maximum(np.maximum(red, green), blue)
    spread = top - np.minimum(np.minimum(red, green), blue)
    # Pick the sector formula by arithmetic, not np.where (slow on unpredictable masks). On ties
    # the formulas agree (red == green: g - b == 2*spread + b - r), so the order does not matter.
    numerator = 4 * spread + red - green
    numerator += (top == green) * (2 * spread + blue - red - numerator)
    numerator += (top == red) * (green - blue - numerator)
    np.maximum(spread, 1, out=spread)  # gray pixels: numerator 0 over any positive denominator
    spread *= 6
    return numerator, spread


def rgb_to_hue(images: np.ndarray, dtype="float32") -> np.ndarray:
    """(n_images, height, width, 3) uint8 -> (n_images, height, width) hue in [0, 1) of ``dtype``.

    Same values as ``colorsys.rgb_to_hsv`` and matplotlib's ``rgb_to_hsv``; gray pixels get 0.
    """
    numerator, denominator = _hue_sixths(check_images(images))
    return ((numerator % denominator) / denominator).astype(dtype)


def _bin_codes(images: np.ndarray, space: str, bins: int) -> tuple[np.ndarray, int]:
    """(n_images, height, width) int64 code of each pixel's bin, and the number of codes.

    hsv has 2 * bins codes, code c counting for bin c % bins; rgb has bins ** 3 codes.
    """
    if space == "hsv":
        numerator, denominator = _hue_sixths(images)
        # One extra turn makes every hue positive, so truncation is floor(hue * bins) (+ bins).
        # The quotient of small integers is exact enough: one that is not an integer is at least
        # 1 / denominator from the next, far more than float32's rounding while bins <= 4096.
        numerator += denominator
        position = np.multiply(numerator, bins, dtype=np.float32 if bins <= 4096 else np.float64)
        position /= denominator
        return position.astype(np.int64), 2 * bins
    levels = _channel_planes(images, np.int64) * bins
    levels >>= 8  # floor(level * bins / 256), without an integer division
    red, green, blue = levels
    return (red * bins + green) * bins + blue, bins**3


def color_hist(images: np.ndarray, space: str = "hsv", bins: int = 10, dtype="float32") -> np.ndarray:
    """(n_images, height, width, 3) uint8 -> (n_images, n_features) of ``dtype``, rows summing to 1.

    ``hsv``: ``bins`` equal hue bins over [0, 1). ``rgb``: ``bins`` equal bins per channel over
    0..255, joint, ``bins ** 3`` values.
    """
    images = check_images(images)
    _check_params(space, bins)
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"color_hist dtype must be a float type such as float32; got {dtype}")
    n_images, height, width = images.shape[:3]
    if height * width == 0:
        raise ValueError(f"color_hist needs images with at least one pixel; got {height}x{width}")
    codes, n_codes = _bin_codes(images, space, bins)
    # One bincount for the whole batch: each image gets its own range of n_codes codes.
    codes += (np.arange(n_images) * n_codes)[:, None, None]
    counts = np.bincount(codes.reshape(-1), minlength=n_images * n_codes)
    counts = counts.reshape(n_images, -1, n_features(height, width, space=space, bins=bins)).sum(axis=1)
    return (counts / (height * width)).astype(dtype)


def n_features(height: int, width: int, *, space: str = "hsv", bins: int = 10) -> int:
    """``bins`` for ``hsv``, ``bins ** 3`` for ``rgb``; independent of the image size."""
    _check_params(space, bins)
    return bins if space == "hsv" else bins**3


def extract(images: np.ndarray, *, dtype="float32", space: str = "hsv", bins: int = 10) -> np.ndarray:
    """images (n_images, height, width, 3) uint8 -> (n_images, n_features) of ``dtype``,
    ``color_hist`` in chunks so the per-pixel temporaries stay small."""
    images = check_images(images)
    n_images, height, width = images.shape[:3]
    out = np.empty((n_images, n_features(height, width, space=space, bins=bins)), dtype=dtype)
    chunk = max(1, _CHUNK_PIXELS // max(1, height * width))
    for start in range(0, n_images, chunk):
        out[start : start + chunk] = color_hist(images[start : start + chunk], space, bins, dtype)
    return out
