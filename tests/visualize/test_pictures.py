"""Pillow-only pictures: template tiles, HOG strokes, color bars and ``features show``."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mlpcli.commands import run_features_show
from mlpcli.config import from_dict
from mlpcli.errors import ConfigError
from mlpcli.features import FeatureConfig, raw
from mlpcli.features import hog as hog_module
from mlpcli.features.standardize import Standardizer
from mlpcli.nn import build_mlp
from mlpcli.predictor import Predictor
from mlpcli.visualize.features_picture import bar_colors, draw_bars
from mlpcli.visualize.strokes import cell_histograms, draw_strokes, stroke_ends
from mlpcli.visualize.tiles import LABEL_HEIGHT, PAD, grid_size, labelled_grid, save_png, to_uint8
from mlpcli.visualize.weights import conv_filter_tiles, pixel_templates, weight_picture

HEIGHT, WIDTH = 6, 5  # non-square, so a row/col mix-up cannot pass


def _flat_index(row, col, channel):
    return (row * WIDTH + col) * 3 + channel


def test_templates_are_the_inverse_of_the_raw_flattening():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((HEIGHT * WIDTH * 3, 3))
    images = rng.integers(0, 256, size=(7, HEIGHT, WIDTH, 3), dtype=np.uint8)
    templates = pixel_templates(W, np.ones(len(W)), (HEIGHT, WIDTH))
    # Scoring with W on raw features equals matching each template against the image.
    np.testing.assert_allclose(
        raw.extract(images, dtype="float64") @ W, np.einsum("nrcd,krcd->nk", images / 255, templates)
    )


def test_hand_built_template_lights_its_pixel():
    W = np.zeros((HEIGHT * WIDTH * 3, 2))
    W[_flat_index(2, 3, 0), 0] = 1.0  # class 0 wants red at row 2, col 3
    W[_flat_index(4, 1, 2), 0] = 3.0  # a larger weight on a feature with a larger spread
    std = np.ones(len(W))
    std[_flat_index(4, 1, 2)] = 6.0  # ... is 0.5 per unit of pixel: weaker in pixel space
    templates = pixel_templates(W, std, (HEIGHT, WIDTH))
    assert np.unravel_index(np.argmax(templates[0]), templates[0].shape) == (2, 3, 0)
    scale = 4
    picture = np.asarray(labelled_grid(list(templates), ["red", "none"], scale, columns=10))
    assert picture.shape[:2] == grid_size(2, (HEIGHT * scale, WIDTH * scale), 10)
    tile = picture[PAD : PAD + HEIGHT * scale, PAD : PAD + WIDTH * scale]
    brightest = np.unravel_index(np.argmax(tile[..., 0].astype(int) - tile[..., 1:].max(axis=-1)), tile.shape[:2])
    assert (brightest[0] // scale, brightest[1] // scale) == (2, 3)
    assert tuple(tile[2 * scale, 3 * scale]) == (255, 0, 0)
    second = picture[PAD : PAD + HEIGHT * scale, 2 * PAD + WIDTH * scale : 2 * PAD + 2 * WIDTH * scale]
    assert (second == 128).all()  # an all-zero template is drawn flat gray


def test_to_uint8_scales_min_to_0_and_max_to_255():
    tile = np.array([[-2.0, 0.0], [1.0, 2.0]])
    np.testing.assert_array_equal(to_uint8(tile), [[0, 128], [191, 255]])


def test_conv_filter_tiles_put_filters_first():
    W = np.arange(3 * 3 * 3 * 5, dtype=float).reshape(3, 3, 3, 5)
    tiles = conv_filter_tiles(W)
    assert tiles.shape == (5, 3, 3, 3)
    np.testing.assert_array_equal(tiles[2], W[..., 2])


def test_weight_picture_skips_features_that_are_not_pixels():
    features = (FeatureConfig("hog", {"orientations": 9, "cell": 4, "block": 2, "block_norm": "L2-Hys"}),)
    network = build_mlp(36, 4, [])
    predictor = Predictor(network, Standardizer(np.zeros(36), np.ones(36)), "abcd", (8, 8), features)
    note = weight_picture(predictor)
    assert isinstance(note, str) and "hog" in note and "raw" in note


def test_save_png_writes_a_valid_png(tmp_path):
    image = labelled_grid([np.zeros((2, 2, 3))] * 3, ["a", "b", "c"], 5, columns=2)
    path = save_png(image, tmp_path / "sub" / "grid.png")
    with Image.open(path) as stored:
        assert stored.format == "PNG" and stored.size == image.size
    assert image.size[::-1] == (2 * (10 + LABEL_HEIGHT + PAD) + PAD, 2 * (10 + PAD) + PAD)


def _edge_image(height=32, width=32, vertical=True) -> np.ndarray:
    """Dark left half and bright right half (vertical edge), or dark top / bright bottom."""
    image = np.full((height, width, 3), 30, dtype=np.uint8)
    if vertical:
        image[:, width // 2 :] = 220
    else:
        image[height // 2 :] = 220
    return image


def test_cell_histograms_are_hog_per_cell_on_non_square_images():
    image = _edge_image(24, 40)
    hist = cell_histograms(image, orientations=6, cell=8)
    assert hist.shape == (3, 5, 6)
    gray = hog_module.rgb_to_gray(image[None], "float64")
    expected = hog_module.hog(gray, orientations=6, cell=8, block=1, block_norm="none")
    np.testing.assert_array_equal(hist.reshape(-1), expected[0])
    # Brightness changes along cols at col 20: the cells at cols 16..23 see gradients at 0 degrees.
    assert hist[:, 2, 0].min() > 0 and hist[:, 2, 1:].max() == 0 and hist[:, 0].max() == 0


def test_strokes_run_along_edges_perpendicular_to_gradients():
    (row0, col0), (row1, col1) = stroke_ends((10.0, 10.0), 0, 180, 5.0)  # gradient at 0.5 degrees
    assert abs(row1 - row0) > 9.9 and abs(col1 - col0) < 0.2  # a vertical stroke
    (row0, col0), (row1, col1) = stroke_ends((10.0, 10.0), 90, 180, 5.0)  # gradient at 90.5 degrees
    assert abs(col1 - col0) > 9.9 and abs(row1 - row0) < 0.2  # a horizontal stroke


@pytest.mark.parametrize("vertical", [True, False])
def test_drawn_strokes_follow_the_edge(vertical):
    image = _edge_image(vertical=vertical)
    hist = cell_histograms(image, orientations=9, cell=8)
    picture = np.asarray(draw_strokes(hist, cell=8, scale=4, shape=(32, 32)))
    assert picture.shape == (128, 128, 3)
    # The cell just left of (or above) the edge, in the middle of the image.
    cell = picture[32:64, 32:64, 0] if vertical else picture[32:64, 32:64, 0].T
    rows, cols = np.nonzero(cell > 128)
    assert rows.size and np.ptp(rows) > 3 * max(1, np.ptp(cols))
    assert picture[:, :32].max() == 0 if vertical else picture[:32].max() == 0  # flat: no strokes


def test_bar_colors_follow_the_feature_order():
    hsv = bar_colors("hsv", 6)
    assert hsv.shape == (6, 3) and tuple(hsv[0]) == (255, 128, 0)  # hue 1/12: orange
    rgb = bar_colors("rgb", 2)
    assert rgb.shape == (8, 3) and tuple(rgb[1]) == (64, 64, 192) and tuple(rgb[4]) == (192, 64, 64)
    bars = draw_bars(np.array([0.0, 1.0, 0.5]), hsv[:3], 50, 90)
    assert bars.size == (90, 50)


def test_features_show_writes_one_png(tmp_path):
    path = tmp_path / "edge.png"
    Image.fromarray(_edge_image(16, 24)).save(path)
    config = from_dict(
        {
            "data": {"image_size": [16, 24]},
            "features": [{"name": "hog", "cell": 4, "orientations": 6}, {"name": "color_hist", "bins": 5}],
        }
    )
    result = run_features_show(path, config, tmp_path / "out" / "picture.png")
    with Image.open(result["path"]) as picture:
        assert picture.format == "PNG" and list(picture.size[::-1]) == result["picture_size"]
        assert picture.height > 16 * 10  # upscaled so cells are visible
    assert result["hog"] == {"orientations": 6, "cell": 4, "block": 2, "block_norm": "L2-Hys", "from_config": True}
    assert result["color_hist"]["bins"] == 5 and result["notes"] == []
    assert [f["name"] for f in result["features"]] == ["hog", "color_hist"]


def test_features_show_defaults_and_default_out_file(tmp_path, monkeypatch):
    Image.fromarray(_edge_image()).save(tmp_path / "cat.png")
    monkeypatch.chdir(tmp_path)
    result = run_features_show(tmp_path / "cat.png", from_dict({}))
    assert result["path"] == str(tmp_path / "cat-features.png") and (tmp_path / "cat-features.png").is_file()
    assert result["hog"]["from_config"] is False and result["hog"]["cell"] == 8
    assert any("no hog feature" in note for note in result["notes"])


def test_features_show_on_images_smaller_than_a_cell_is_a_config_error(tmp_path):
    Image.fromarray(_edge_image()).save(tmp_path / "small.png")
    config = from_dict({"data": {"image_size": 8}, "features": [{"name": "hog", "cell": 16, "block": 1}]})
    with pytest.raises(ConfigError, match="too small"):
        run_features_show(tmp_path / "small.png", config, tmp_path / "x.png")
