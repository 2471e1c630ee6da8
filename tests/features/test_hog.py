"""HOG: equality with scikit-image, the length formula, dtypes, errors and batch independence."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpcli.features import hog as hog_module
from mlpcli.features.hog import BLOCK_NORMS, extract, hog, hog_length, n_features, rgb_to_gray

SIZES = [(32, 32), (33, 47), (40, 24), (17, 29)]
PARAMS = [
    dict(orientations=9, cell=8, block=2, block_norm="L2-Hys"),
    dict(orientations=6, cell=4, block=3, block_norm="L1"),
    dict(orientations=9, cell=5, block=1, block_norm="L2"),
    dict(orientations=4, cell=3, block=2, block_norm="L1-sqrt"),
    dict(orientations=7, cell=6, block=2, block_norm="L2"),
]


def random_images(n_images, height, width, seed=0):
    """Random uint8 images whose top half is posterized: flat areas, zero and axis-aligned
    gradients, i.e. the angles that sit exactly on bin edges."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_images, height, width, 3), dtype=np.uint8)
    images[:, : height // 2] = images[:, : height // 2] // 85 * 85
    return images


def skimage_hog(gray, orientations, cell, block, block_norm):
    """scikit-image called the way its users call it: one 2-D float64 image at a time. Only the
    tests that compare with it skip when scikit-image (a test extra) is missing."""
    skimage_feature = pytest.importorskip("skimage.feature")
    return np.stack(
        [
            skimage_feature.hog(
                image.astype(np.float64),
                orientations=orientations,
                pixels_per_cell=(cell, cell),
                cells_per_block=(block, block),
                block_norm=block_norm,
                feature_vector=True,
            )
            for image in gray
        ]
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: "-".join(map(str, p.values())))
def test_matches_skimage_float64(size, params):
    gray = rgb_to_gray(random_images(4, *size), dtype="float64")
    np.testing.assert_allclose(hog(gray, **params), skimage_hog(gray, **params), rtol=0, atol=1e-6)


@pytest.mark.parametrize("params", PARAMS[:2], ids=lambda p: "-".join(map(str, p.values())))
def test_extract_float32_matches_skimage_on_the_same_gray_values(params):
    images = random_images(6, 33, 47, seed=1)
    expected = skimage_hog(rgb_to_gray(images, dtype="float32"), **params)
    features = extract(images, dtype="float32", **params)
    assert features.dtype == np.float32
    np.testing.assert_allclose(features, expected, rtol=0, atol=1e-6)


def test_float32_bins_like_skimage_at_bin_edges():
    # Ramps whose gradient angle sits within float32 rounding of a bin edge: a float32-only
    # binning puts many pixels in the neighbouring bin; the result must still match float64.
    rng = np.random.default_rng(2)
    rows, cols = np.mgrid[0:16, 0:16]
    angles = np.deg2rad(20.0 * rng.integers(0, 9, 30) + rng.normal(0, 1e-5, 30))
    gray = np.stack([0.3 + 0.01 * (rows * np.sin(a) + cols * np.cos(a)) for a in angles]).astype(np.float32)
    expected = skimage_hog(gray, 9, 4, 1, "L1")
    np.testing.assert_allclose(hog(gray, 9, 4, 1, "L1"), expected, rtol=0, atol=1e-6)


def test_none_with_block_1_is_skimage_cell_histograms():
    # scikit-image's private histogram stage, fed its own gradients: the honest reference for
    # un-normalized cells, which its public hog() cannot return.
    hoghistogram = pytest.importorskip("skimage.feature._hoghistogram")
    channel_gradient = pytest.importorskip("skimage.feature._hog")._hog_channel_gradient
    gray = rgb_to_gray(random_images(3, 33, 47, seed=3), dtype="float64")
    orientations, cell = 6, 5
    cells = hog(gray, orientations, cell, 1, "none").reshape(3, 33 // cell, 47 // cell, orientations)
    for image, ours in zip(gray, cells):
        g_row, g_col = channel_gradient(image)
        expected = np.zeros_like(ours)
        hoghistogram.hog_histograms(g_col, g_row, cell, cell, 47, 33, 47 // cell, 33 // cell, orientations, expected)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)


def test_none_by_hand():
    # A vertical ramp: only the middle row has a gradient, (g_row, g_col) = (1, 0), i.e. 90
    # degrees, bin 4 of 9 (80..100); three pixels of magnitude 1 in a 3x3 cell -> 3 / 9.
    ramp = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]])
    expected = np.zeros(9)
    expected[4] = 1 / 3
    np.testing.assert_allclose(hog(ramp[None], 9, 3, 1, "none")[0], expected)
    # Its transpose is a horizontal ramp: 0 degrees, bin 0.
    np.testing.assert_allclose(hog(ramp.T[None], 9, 3, 1, "none")[0], np.roll(expected, -4))


def test_none_with_blocks_is_the_unnormalized_blocks():
    gray = rgb_to_gray(random_images(2, 40, 24, seed=4), dtype="float64")
    orientations, cell, block = 9, 4, 3
    n_cells_row, n_cells_col = 40 // cell, 24 // cell
    n_blocks_row, n_blocks_col = n_cells_row - block + 1, n_cells_col - block + 1
    cells = hog(gray, orientations, cell, 1, "none").reshape(2, n_cells_row, n_cells_col, orientations)
    blocks = hog(gray, orientations, cell, block, "none").reshape(
        2, n_blocks_row, n_blocks_col, block, block, orientations
    )
    # Each block holds its cells' raw histograms ...
    np.testing.assert_array_equal(blocks[:, 2, 1], cells[:, 2 : 2 + block, 1 : 1 + block])
    # ... and normalizing them with scikit-image's L1 formula gives scikit-image's L1 output.
    l1 = blocks / (blocks.sum(axis=(3, 4, 5), keepdims=True) + 1e-5)
    np.testing.assert_allclose(l1.reshape(2, -1), skimage_hog(gray, orientations, cell, block, "L1"), rtol=0, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 50),
    width=st.integers(1, 50),
    orientations=st.integers(1, 12),
    cell=st.integers(1, 9),
    block=st.integers(1, 4),
)
def test_length_formula(height, width, orientations, cell, block):
    gray = np.random.default_rng(0).random((2, height, width))
    if height // cell < block or width // cell < block:
        with pytest.raises(ValueError, match="too small"):
            hog_length(height, width, orientations, cell, block)
        return
    length = hog_length(height, width, orientations, cell, block)
    assert length == n_features(height, width, orientations=orientations, cell=cell, block=block)
    assert hog(gray, orientations, cell, block).shape == (2, length)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_length_on_odd_and_non_square_sizes(size):
    images = random_images(1, *size)
    for params in PARAMS:
        assert extract(images, **params).shape == (1, n_features(*size, **params))
    assert hog_length(17, 29) == 1 * 2 * 2 * 2 * 9  # 2x3 cells of 8 -> 1x2 blocks of 2x2 cells


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    images = random_images(3, 32, 32)
    gray = rgb_to_gray(images, dtype=dtype)
    assert gray.dtype == dtype
    for block_norm in BLOCK_NORMS:
        assert hog(gray, block_norm=block_norm).dtype == dtype
    assert extract(images, dtype=dtype).dtype == dtype


def test_rgb_to_gray_weights_on_hand_built_pixels():
    pixels = np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30], [255, 255, 255]]]], dtype=np.uint8)
    expected = [0.299, 0.587, 0.114, (0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255, 1.0]
    np.testing.assert_allclose(rgb_to_gray(pixels, dtype="float64")[0, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(rgb_to_gray(pixels)[0, 0], expected, rtol=1e-6)


def test_too_small_image_raises_a_helpful_error():
    with pytest.raises(ValueError) as error:
        hog(np.zeros((1, 12, 20)), cell=8, block=2)
    message = str(error.value)
    for part in ("12x20", "cell=8", "block=2", "16x16", "lower cell or block"):
        assert part in message
    with pytest.raises(ValueError, match="too small"):
        n_features(12, 20)


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(orientations=0), "orientations"),
        (dict(cell=0), "cell"),
        (dict(block=0), "block"),
        (dict(cell=2.5), "cell"),
        (dict(orientations=True), "orientations"),
        (dict(block_norm="L3"), "block_norm"),
        (dict(block_norm=None), "block_norm"),
    ],
)
def test_bad_parameters_raise(params, name):
    gray = np.zeros((1, 32, 32))
    for call in (lambda: hog(gray, **params), lambda: n_features(32, 32, **params)):
        with pytest.raises(ValueError, match=name) as error:
            call()
        if name == "block_norm":
            assert all(allowed in str(error.value) for allowed in BLOCK_NORMS)
        else:
            assert ">= 1" in str(error.value)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="float32 or float64"):
        hog(np.zeros((32, 32)))
    with pytest.raises(ValueError, match="float32 or float64"):
        hog(np.zeros((1, 32, 32), dtype=np.uint8))
    with pytest.raises(ValueError, match="NaN"):
        hog(np.full((1, 32, 32), np.nan))
    with pytest.raises(ValueError, match="n_images, height, width, 3"):
        extract(np.zeros((32, 32, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        rgb_to_gray(np.zeros((1, 32, 32, 3)))
    with pytest.raises(ValueError, match="dtype"):
        extract(np.zeros((1, 32, 32, 3), dtype=np.uint8), dtype="int32")


def test_batch_equals_images_one_by_one(monkeypatch):
    # Small chunks so the batch crosses chunk boundaries, with a short last chunk.
    monkeypatch.setattr(hog_module, "_CHUNK_PIXELS", 3 * 33 * 47)
    images = random_images(8, 33, 47, seed=5)
    batch = extract(images, orientations=6, cell=4, block=3)
    one_by_one = np.concatenate([extract(image[None], orientations=6, cell=4, block=3) for image in images])
    np.testing.assert_allclose(batch, one_by_one, rtol=0, atol=1e-7)
    # No leakage: changing one image changes only its own row.
    changed = images.copy()
    changed[4] = random_images(1, 33, 47, seed=6)[0]
    difference = np.abs(extract(changed, orientations=6, cell=4, block=3) - batch).max(axis=1)
    assert difference[4] > 0.01 and np.all(np.delete(difference, 4) == 0)


def test_unsigned_orientations_ignore_inversion():
    # Inverting an image flips every gradient by 180 degrees: the same unsigned bins.
    images = random_images(3, 32, 32, seed=7)
    np.testing.assert_allclose(extract(255 - images), extract(images), rtol=0, atol=1e-6)


def test_empty_batch():
    assert extract(np.zeros((0, 32, 32, 3), dtype=np.uint8)).shape == (0, 324)


def test_gray_depends_on_the_exact_luma_alone_whatever_the_batch():
    """Pixels of equal 299 R + 587 G + 114 B get the same bits, alone or in any batch: a float
    weighted sum (the (n_pixels, 3) @ (3,) product it was) rounded them apart on OpenBLAS, which
    adds more than 16,384 pixels in another order, and the bit moved HOG votes between bins."""
    pairs = np.array([[[217, 163, 130], [202, 172, 123]], [[23, 46, 28], [8, 55, 21]], [[216, 44, 22], [201, 53, 15]]])
    assert len({int(v) for v in (pairs.astype(np.int64) @ np.array([299, 587, 114])).ravel()}) == 3
    big = np.broadcast_to(pairs.astype(np.uint8).reshape(3, 1, 2, 3), (3, 6000, 2, 3))  # 36,000 pixels
    for dtype in ("float32", "float64"):
        gray = rgb_to_gray(np.ascontiguousarray(big), dtype)
        assert np.array_equal(gray[..., 0], gray[..., 1])  # equal luma, equal bits
        alone = rgb_to_gray(np.ascontiguousarray(pairs.astype(np.uint8)[:, None]), dtype)
        assert np.array_equal(alone[:, 0], gray[:, 0])
    exact = (pairs.astype(np.float64) @ np.array([0.299, 0.587, 0.114]))[:, 0] / 255
    np.testing.assert_allclose(rgb_to_gray(pairs.astype(np.uint8)[:, None], "float64")[:, 0, 0], exact, rtol=1e-15)
