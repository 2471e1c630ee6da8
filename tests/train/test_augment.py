"""Training-time augmentation: what a flip and a random crop do to each image of a batch."""

import numpy as np

from mlpcli.train.augment import augment_batch

SHAPE = (5, 6, 3)  # non-square, so a row/col mix-up cannot pass


def numbered_batch(n: int) -> np.ndarray:
    """(n, 5 * 6 * 3) float32 rows whose every value is distinct and nonzero (zero is the padding)."""
    return np.arange(1, n * np.prod(SHAPE) + 1, dtype=np.float32).reshape(n, -1)


def test_flip_mirrors_left_right_and_only_some_images():
    """Fails if the flip mirrors top-bottom (``images[mirrored, ::-1]``) or flips every image or none."""
    batch = numbered_batch(64)
    images = batch.reshape(-1, *SHAPE)
    out = augment_batch(batch, SHAPE, flip=True, crop_padding=0, rng=np.random.default_rng(0)).reshape(-1, *SHAPE)
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)]
    kept = [np.array_equal(o, i) for o, i in zip(out, images)]
    assert all(m or k for m, k in zip(mirrored, kept))  # each image is itself or its left-right mirror
    assert 10 < sum(mirrored) < 54  # about half of 64 are mirrored
    assert np.array_equal(batch, images.reshape(len(batch), -1))  # the caller's batch is untouched


def window_offset(out: np.ndarray, image: np.ndarray, pad: int) -> tuple[int, int]:
    """The (row, col) of the top-left corner of ``out`` inside ``image`` zero-padded by ``pad``."""
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    height, width, _ = image.shape
    found = [(r, c) for r in range(2 * pad + 1) for c in range(2 * pad + 1)
             if np.array_equal(padded[r:r + height, c:c + width], out)]
    assert len(found) == 1, found
    return found[0]


def test_random_crop_reaches_every_offset_including_both_edges():
    """Fails if the offset is drawn from ``integers(0, 2 * pad)`` (never the bottom/right edge) or
    from ``integers(1, ...)`` (never the top/left edge), or if rows and cols share one draw."""
    pad, batch = 2, numbered_batch(400)
    out = augment_batch(batch, SHAPE, flip=False, crop_padding=pad, rng=np.random.default_rng(1))
    offsets = {window_offset(o, i, pad) for o, i in zip(out.reshape(-1, *SHAPE), batch.reshape(-1, *SHAPE))}
    assert offsets == {(r, c) for r in range(2 * pad + 1) for c in range(2 * pad + 1)}
    assert out.shape == batch.shape and out.dtype == batch.dtype
