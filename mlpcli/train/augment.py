"""Training-time augmentation of images, drawn from a seeded generator.

Images here are float ``(n_images, height, width, 3)`` in [0, 1] pixel space, before
standardization: the raw rows of a minibatch reshaped (``mode: end_to_end`` and ``features:
[raw]``), or decoded images scaled to [0, 1] for the cached augmented copies of the fixed features
(``train.augment.copies``, see ``train.copies``). Every transform draws the random numbers of the
whole batch at once, in a fixed order, on the calling thread: the result depends only on the
generator's state, never on the thread count, and a checkpoint of that state resumes mid-epoch.
"""

from __future__ import annotations

import numpy as np

#: Gray level (in [0, 1]) of an erased rectangle: about the mean of natural images, so an erased
#: patch carries no color cue (as timm's constant mode, which fills with the mean after
#: standardization).
ERASE_FILL = 0.5
#: Random erasing (Zhong et al. 2017): the rectangle covers this fraction of the image ...
ERASE_AREA = (0.02, 0.4)
#: ... with an aspect ratio (height / width) log-uniform in this range.
ERASE_RATIO = (0.3, 1 / 0.3)


def active(augment) -> bool:
    """Whether the ``train.augment`` section asks for any change to the images."""
    return bool(augment.flip or augment.crop_padding or augment.brightness or augment.contrast or augment.erase)


def augment_images(images: np.ndarray, augment, rng: np.random.Generator) -> np.ndarray:
    """Apply the ``train.augment`` section to float ``images (n_images, height, width, 3)`` in
    [0, 1]: flip, crop, brightness and contrast jitter, erasing, in that order. Returns a new
    array of the same shape and dtype (``images`` is not changed)."""
    n, height, width, _ = images.shape
    images = np.array(images)
    if augment.flip:
        images = flip(images, rng.random((n,)) < 0.5)
    if augment.crop_padding:
        pad = augment.crop_padding
        offsets = rng.integers(0, 2 * pad + 1, size=n), rng.integers(0, 2 * pad + 1, size=n)
        images = crop(images, pad, *offsets)
    if augment.brightness or augment.contrast:
        brightness = rng.uniform(1 - augment.brightness, 1 + augment.brightness, size=n)
        contrast = rng.uniform(1 - augment.contrast, 1 + augment.contrast, size=n)
        images = jitter(images, brightness, contrast)
    if augment.erase:
        erased = rng.random(n) < augment.erase
        images = erase(images, erased, erase_boxes(n, height, width, rng))
    return images


def flip(images: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """``images`` with the images where ``mirrored (n_images,) bool`` is set mirrored left-right
    (columns reversed), in place."""
    images[mirrored] = images[mirrored, :, ::-1]
    return images


def crop(images: np.ndarray, pad: int, row0: np.ndarray, col0: np.ndarray) -> np.ndarray:
    """Each image zero-padded (black) by ``pad`` on every side, and its height x width window at
    ``(row0, col0) (n_images,) int`` (0 .. 2 * pad: pad is the unshifted image) cut back out."""
    height, width = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.empty_like(images)
    # One slice copy per offset, not per image: (2 pad + 1)^2 copies of whole groups of images,
    # several times faster than one fancy-indexing gather of every pixel.
    for row in range(2 * pad + 1):
        for col in range(2 * pad + 1):
            chosen = np.flatnonzero((row0 == row) & (col0 == col))
            out[chosen] = padded[chosen, row : row + height, col : col + width]
    return out


def jitter(images: np.ndarray, brightness: np.ndarray, contrast: np.ndarray) -> np.ndarray:
    """Brightness then contrast, per image, clipped to [0, 1], in place.

    brightness, contrast (n_images,) factors: each pixel value is multiplied by the brightness
    factor; then its deviation from the image's mean value (over pixels and channels) is
    multiplied by the contrast factor (1: unchanged; 0: a flat image of that mean).
    """
    shape = (-1, 1, 1, 1)
    images *= brightness.astype(images.dtype).reshape(shape)
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    images -= mean
    images *= contrast.astype(images.dtype).reshape(shape)
    images += mean
    return np.clip(images, 0, 1, out=images)


def erase_boxes(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """(n_images, 4) int (row0, col0, rows, cols): one random rectangle per image, of an area
    fraction uniform in ``ERASE_AREA`` and an aspect ratio log-uniform in ``ERASE_RATIO``, shrunk
    to fit the image, placed uniformly inside it."""
    area = rng.uniform(*ERASE_AREA, size=n) * height * width
    low, high = np.log(ERASE_RATIO)
    ratio = np.exp(rng.uniform(low, high, size=n))
    rows = np.clip(np.rint(np.sqrt(area * ratio)), 1, height).astype(np.int64)
    cols = np.clip(np.rint(np.sqrt(area / ratio)), 1, width).astype(np.int64)
    # floor(u * (k + 1)) is uniform over 0..k for each image's own k.
    row0 = (rng.random(n) * (height - rows + 1)).astype(np.int64)
    col0 = (rng.random(n) * (width - cols + 1)).astype(np.int64)
    return np.stack([row0, col0, rows, cols], axis=1)


def erase(images: np.ndarray, erased: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Fill the rectangle ``boxes (n_images, 4)`` (row0, col0, rows, cols) of each image where
    ``erased (n_images,) bool`` is set with ``ERASE_FILL``, in place."""
    height, width = images.shape[1:3]
    row0, col0, rows, cols = (boxes[:, i, None] for i in range(4))
    in_rows = (np.arange(height) >= row0) & (np.arange(height) < row0 + rows)
    in_cols = (np.arange(width) >= col0) & (np.arange(width) < col0 + cols)
    mask = in_rows[:, :, None] & in_cols[:, None, :] & erased[:, None, None]
    images[mask] = ERASE_FILL
    return images


def augment_rows(rows: np.ndarray, image_shape: tuple[int, int, int], augment, rng: np.random.Generator) -> np.ndarray:
    """Raw-pixel rows (n_samples, height * width * 3), in (row, col, channel) order and [0, 1],
    augmented: a new array of the same shape and dtype."""
    images = rows.reshape(len(rows), *image_shape)
    return augment_images(images, augment, rng).reshape(len(rows), -1)
