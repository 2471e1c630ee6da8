"""Feature extractors as ONNX operators agree with mlpcli's, and so do whole models built on them."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx_models import images, mlp_predictor  # noqa: E402  (after the importorskip above)
from test_onnx_networks import check_agreement  # noqa: E402  (after the importorskip above)

from mlpcli.export.features import FEATURE_NODES  # noqa: E402  (after the importorskip above)
from mlpcli.export.graph import Graph, make_model  # noqa: E402  (after the importorskip above)
from mlpcli.features import FEATURES, validate_feature  # noqa: E402  (after the importorskip above)


def onnx_features(tmp_path, feature, data, state=None):
    """The rows the exported extractor ``feature`` (a FeatureConfig) gives for ``data``."""
    import onnxruntime
    from onnx import TensorProto, helper

    graph = Graph()
    out = FEATURE_NODES[feature.name](graph, "images", *data.shape[1:3], feature.params, state)
    graph.op("Identity", out, name="rows")
    model = make_model(
        graph,
        [helper.make_tensor_value_info("images", TensorProto.UINT8, [None, *data.shape[1:]])],
        [helper.make_tensor_value_info("rows", TensorProto.FLOAT, [None, None])],
        {},
    )
    onnx.checker.check_model(model, full_check=True)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["rows"], {"images": data})[0]


def special_pixels() -> np.ndarray:
    """Grays, pure hues and ties between channels: the hue formula's edge cases."""
    values = np.array([0, 1, 127, 128, 200, 254, 255], np.uint8)
    grid = np.stack(np.meshgrid(values, values, values, indexing="ij"), axis=-1).reshape(1, 7, 49, 3)
    return np.concatenate([grid, grid[:, ::-1]])


@pytest.mark.parametrize(
    "params",
    [
        {"space": "hsv", "bins": 10},
        {"space": "hsv", "bins": 7},
        {"space": "rgb", "bins": 4},
        {"space": "rgb", "bins": 3},
    ],
)
def test_color_hist_bins_every_pixel_as_mlpcli(tmp_path, params):
    feature = validate_feature({"name": "color_hist", **params}, "features")
    for data in (images(50, seed=3), special_pixels()):
        expected = FEATURES["color_hist"].extract(data, dtype="float32", **feature.params)
        # Counts are exact, so only the final division may round differently.
        np.testing.assert_allclose(onnx_features(tmp_path, feature, data), expected, rtol=1e-6, atol=0)


def test_color_hist_model_agrees(tmp_path):
    model = mlp_predictor(images(60), features=({"name": "color_hist", "bins": 8}, "raw"))
    print("largest difference", check_agreement(model, tmp_path))


def flat_and_diagonal_images() -> np.ndarray:
    """Ramps at 0, 45, 90 and 135 degrees and flat areas: gradients on or near bin edges."""
    rows, cols = np.mgrid[:16, :16]
    ramps = [rows * 9, cols * 9, (rows + cols) * 5, (rows - cols + 16) * 5, np.full((16, 16), 77)]
    return np.repeat(np.stack(ramps).astype(np.uint8)[..., None], 3, axis=-1)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"orientations": 6, "cell": 4, "block": 2, "block_norm": "L2"},
        {"orientations": 5, "cell": 3, "block": 3, "block_norm": "L1"},
        {"orientations": 3, "cell": 5, "block": 1, "block_norm": "L1-sqrt"},
        {"orientations": 2, "cell": 4, "block": 2, "block_norm": "none"},
        {"orientations": 1, "cell": 4, "block": 1},
    ],
    ids=["default", "L2", "L1", "L1-sqrt", "none", "one-bin"],
)
def test_hog_agrees_with_mlpcli(tmp_path, params):
    """Orientation counts without bin edges at 45 or 135 degrees (not multiples of 4): at those
    edges a gradient with |g_row| == |g_col| is exactly on the edge, and the last bit of the gray
    value (BLAS's summation order in mlpcli, another in onnxruntime) decides its bin."""
    feature = validate_feature({"name": "hog", **params}, "features")
    for data in (images(60, size=(17, 19), seed=5), flat_and_diagonal_images()):
        expected = FEATURES["hog"].extract(data, dtype="float32", **feature.params)
        np.testing.assert_allclose(onnx_features(tmp_path, feature, data), expected, rtol=1e-4, atol=1e-5)


def test_hog_model_agrees(tmp_path):
    model = mlp_predictor(images(60, size=(16, 16)), features=({"name": "hog", "cell": 4}, "color_hist"))
    print("largest difference", check_agreement(model, tmp_path, images(200, size=(16, 16), seed=6)))


#: Colours of the same exact luma (299 dR + 587 dG + 114 dB = 0) whose float32 lumas are equal
#: in one of OpenBLAS's two summation orders and one bit apart in the other.
EQUAL_LUMA = [
    ((217, 163, 130), (202, 172, 123)),
    ((217, 163, 130), (232, 154, 137)),
    ((186, 161, 139), (201, 152, 146)),
    ((208, 171, 0), (223, 162, 7)),
    ((216, 44, 22), (201, 53, 15)),
    ((108, 103, 7), (93, 112, 0)),
    ((171, 134, 165), (186, 125, 172)),
    ((148, 184, 216), (133, 193, 209)),
]


def equal_luma_images() -> np.ndarray:
    """(32, 32, 32, 3) uint8: rows repeat (colour P, gray ramp, colour Q), so each ramp pixel's
    up and down neighbours have the same exact luma: g_row is 0 (bin 0) or one bit off (bin 8,
    beside the ramp's strong g_col) by the luma's rounding. Each pair, ramp up or down, and
    upside down; 32,768 pixels, past the 16,384 where OpenBLAS switches to the order the export
    copies."""
    ramp = np.repeat(np.arange(0, 256, 8, dtype=np.uint8)[:, None], 3, axis=1)
    out = []
    for first, second in EQUAL_LUMA:
        for row in (ramp, ramp[::-1]):
            period = np.stack(
                [np.broadcast_to(np.uint8(first), (32, 3)), row, np.broadcast_to(np.uint8(second), (32, 3))]
            )
            image = np.tile(period, (11, 1, 1))[:32]
            out += [image, image[::-1]]
    return np.ascontiguousarray(np.stack(out))


@pytest.mark.parametrize("cell", [8, 4])
def test_hog_bins_equal_luma_neighbours_as_mlpcli(tmp_path, cell):
    """Issue 24: hog-aug's export was 6.1e-3 off predict on CIFAR photos with such pixels: the
    luma was a float weighted sum, rounded in the order each side's kernel adds (a MatMul in the
    graph fails this by 0.30 and 0.42); it is now the exact integer luma divided once."""
    data = equal_luma_images()
    feature = validate_feature({"name": "hog", "cell": cell}, "features")
    expected = FEATURES["hog"].extract(data, dtype="float32", **feature.params)
    np.testing.assert_allclose(onnx_features(tmp_path, feature, data), expected, rtol=1e-4, atol=1e-5)


def fitted_bow(data, **params):
    from mlpcli.features import bow

    feature = validate_feature(
        {"name": "bow", "patch": 4, "stride": 2, "words": 12, "sample_patches": 2000, **params}, "features"
    )
    return feature, bow.fit(data, feature.params, np.random.default_rng(0))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"whiten": False, "stride": 1},
        {"pooling": "global", "patch": 5},
        {"encoding": "hard"},
        {"power": 0.5},
        {"encoding": "hard", "power": 0.5},
    ],
    ids=["triangle", "unwhitened", "global", "hard", "rooted", "rooted-hard"],
)
def test_bow_agrees_with_mlpcli(tmp_path, params):
    """Odd patch grids too (13x15 images, patch 4, stride 2: 5x6 positions, uneven quadrants).

    Triangle codes take square roots of small squared distances, |z|^2 - 2 z.c + |c|^2, that
    float32 computes with cancellation, so mlpcli's own float32 codes are off its float64 ones
    by up to ~4e-5 of the largest code (onnxruntime's float32 by up to ~5e-5, in another order);
    the stated tolerance: onnxruntime within 1e-4 of the largest code of both mlpcli's float32
    and float64 codes."""
    data = images(60, size=(13, 15), seed=8)
    feature, state = fitted_bow(data, **params)
    single, double = (
        FEATURES["bow"].extract(data, dtype=dtype, state=state, **feature.params) for dtype in ("float32", "float64")
    )
    exported = onnx_features(tmp_path, feature, data, state)
    scale = np.abs(double).max()
    assert np.abs(exported - single).max() <= 1e-4 * scale
    assert np.abs(exported - double).max() <= 1e-4 * scale


def test_bow_model_agrees(tmp_path):
    """A bow model with its fitted state, as train makes it."""
    train = images(60, size=(13, 15))
    feature, state = fitted_bow(train)
    model = mlp_predictor(train, features=(feature,), states=(state,))
    print("largest difference", check_agreement(model, tmp_path, images(200, size=(13, 15), seed=9)))
