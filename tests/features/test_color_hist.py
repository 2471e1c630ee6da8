"""Color histograms: known colors in known bins, normalization, length, invariances, errors."""

import colorsys

import numpy as np
import pytest

from mlpcli.features import color_hist as color_hist_module
from mlpcli.features.color_hist import SPACES, color_hist, extract, n_features, rgb_to_hue

RED, GREEN, BLUE, GRAY = (255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128)


def solid(color, height=4, width=6):
    return np.broadcast_to(np.array(color, dtype=np.uint8), (1, height, width, 3)).copy()


def random_images(n_images=5, height=9, width=13, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n_images, height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "color, bins, expected_bin",
    [
        (RED, 10, 0),
        (GREEN, 10, 3),
        (BLUE, 10, 6),
        (GRAY, 10, 0),
        # Hues exactly on a bin edge go to the upper bin: green is 1/3, yellow 1/6, magenta 5/6.
        (GREEN, 3, 1),
        (BLUE, 3, 2),
        ((255, 255, 0), 6, 1),
        ((255, 0, 255), 6, 5),
        ((0, 0, 0), 4, 0),
    ],
)
def test_hsv_known_colors(color, bins, expected_bin):
    expected = np.zeros((1, bins))
    expected[0, expected_bin] = 1
    np.testing.assert_array_equal(color_hist(solid(color), "hsv", bins), expected)


@pytest.mark.parametrize(
    "color, expected_bin",
    [
        (RED, (1 * 2 + 0) * 2 + 0),
        (GREEN, 2),
        (BLUE, 1),
        ((0, 0, 0), 0),
        ((127, 127, 127), 0),
        (GRAY, 7),
        ((255, 255, 255), 7),
    ],
)
def test_rgb_known_colors(color, expected_bin):
    expected = np.zeros((1, 8))
    expected[0, expected_bin] = 1
    np.testing.assert_array_equal(color_hist(solid(color), "rgb", 2), expected)


def test_mixed_image_splits_by_area():
    image = solid(RED, 4, 6)
    image[0, :, :2] = BLUE  # a third of the pixels
    np.testing.assert_allclose(color_hist(image, "hsv", 3), [[2 / 3, 0, 1 / 3]])


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("bins", [1, 4, 10])
def test_rows_sum_to_one_and_length_formula(space, bins):
    for height, width in [(9, 13), (32, 32), (1, 5)]:
        features = extract(random_images(4, height, width), space=space, bins=bins)
        assert features.shape == (4, n_features(height, width, space=space, bins=bins))
        assert n_features(height, width, space=space, bins=bins) == (bins if space == "hsv" else bins**3)
        np.testing.assert_allclose(features.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("space", SPACES)
def test_invariant_to_flips_and_pixel_permutations(space):
    images = random_images()
    expected = color_hist(images, space, 5)
    np.testing.assert_array_equal(color_hist(images[:, ::-1], space, 5), expected)
    np.testing.assert_array_equal(color_hist(images[:, :, ::-1], space, 5), expected)
    n_images, height, width, _ = images.shape
    order = np.random.default_rng(1).permutation(height * width)
    shuffled = images.reshape(n_images, -1, 3)[:, order].reshape(images.shape)
    np.testing.assert_array_equal(color_hist(shuffled, space, 5), expected)


def test_hue_agrees_with_colorsys():
    images = random_images(2, 20, 30, seed=2)
    images[0, 0, :4] = [RED, GRAY, (200, 200, 10), (10, 200, 200)]  # gray and tied maxima
    expected = np.array([colorsys.rgb_to_hsv(*(pixel / 255))[0] for pixel in images.reshape(-1, 3)])
    np.testing.assert_allclose(rgb_to_hue(images, dtype="float64").reshape(-1), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rgb_to_hue(images).reshape(-1), expected, rtol=0, atol=1e-6)
    assert rgb_to_hue(images).min() >= 0 and rgb_to_hue(images).max() < 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    images = random_images()
    for space in SPACES:
        assert color_hist(images, space, dtype=dtype).dtype == dtype
        assert extract(images, dtype=dtype, space=space).dtype == dtype
    assert rgb_to_hue(images, dtype=dtype).dtype == dtype


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(bins=0), "bins"),
        (dict(bins=2.5), "bins"),
        (dict(bins=True), "bins"),
        (dict(space="lab"), "space"),
        (dict(space=None), "space"),
    ],
)
def test_bad_parameters_raise(params, name):
    with pytest.raises(ValueError, match=name) as error:
        extract(random_images(), **params)
    if name == "space":
        assert all(allowed in str(error.value) for allowed in SPACES)
    with pytest.raises(ValueError, match=name):
        n_features(32, 32, **params)


def test_bad_dtype_raises():
    with pytest.raises(ValueError, match="dtype"):
        color_hist(random_images(), dtype="int32")


def test_bad_images_raise():
    with pytest.raises(ValueError, match="uint8"):
        color_hist(random_images().astype(np.float32))
    with pytest.raises(ValueError, match="n_images, height, width, 3"):
        rgb_to_hue(random_images()[0])


def test_chunked_extract_equals_one_batch(monkeypatch):
    monkeypatch.setattr(color_hist_module, "_CHUNK_PIXELS", 2 * 9 * 13)
    images = random_images(7)
    for space in SPACES:
        np.testing.assert_array_equal(extract(images, space=space, bins=4), color_hist(images, space, 4))
    assert extract(images[:0]).shape == (0, 10)
