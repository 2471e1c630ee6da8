"""Training-time augmentation of a minibatch of images, drawn from the seeded generator."""

from __future__ import annotations

import numpy as np


def augment_batch(batch: np.ndarray, image_shape: tuple[int, int, int], flip: bool, crop_padding: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Randomly flip and shift a batch of flattened images.

    batch (n_samples, height * width * channels), rows in (row, col, channel) order ->
    a new array of the same shape. ``flip``: each image is mirrored left-right with probability
    1/2. ``crop_padding`` p: each image is zero-padded by p on every side (zero is the mean after
    standardization) and a random height x width window is cut back out.
    """
    n = len(batch)
    images = batch.reshape(n, *image_shape)
    if flip:
        mirrored = rng.random(n) < 0.5
        images = images.copy()
        images[mirrored] = images[mirrored, :, ::-1]
    if crop_padding:
        images = _random_crop(images, crop_padding, rng)
    return images.reshape(n, -1)


def _random_crop(images: np.ndarray, pad: int, rng) -> np.ndarray:
    n, height, width, _ = images.shape
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    row0 = rng.integers(0, 2 * pad + 1, size=n)
    col0 = rng.integers(0, 2 * pad + 1, size=n)
    rows = row0[:, None] + np.arange(height)
    cols = col0[:, None] + np.arange(width)
    # One fancy-indexing gather cuts every image's window at once.
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
