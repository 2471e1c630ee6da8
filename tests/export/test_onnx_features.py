"""Feature extractors as ONNX operators agree with mlpcli's, and so do whole models built on them."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from mlpcli.export.features import FEATURE_NODES  # noqa: E402
from mlpcli.export.graph import Graph, make_model  # noqa: E402
from mlpcli.features import FEATURES, validate_feature  # noqa: E402

from onnx_models import images, mlp_predictor  # noqa: E402
from test_onnx_networks import check_agreement  # noqa: E402


def onnx_features(tmp_path, feature, data, state=None):
    """The rows the exported extractor ``feature`` (a FeatureConfig) gives for ``data``."""
    import onnxruntime
    from onnx import TensorProto, helper

    graph = Graph()
    out = FEATURE_NODES[feature.name](graph, "images", *data.shape[1:3], feature.params, state)
    graph.op("Identity", out, name="rows")
    model = make_model(graph, [helper.make_tensor_value_info("images", TensorProto.UINT8, [None, *data.shape[1:]])],
                       [helper.make_tensor_value_info("rows", TensorProto.FLOAT, [None, None])], {})
    onnx.checker.check_model(model, full_check=True)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["rows"], {"images": data})[0]


def special_pixels() -> np.ndarray:
    """Grays, pure hues and ties between channels: the hue formula's edge cases."""
    values = np.array([0, 1, 127, 128, 200, 254, 255], np.uint8)
    grid = np.stack(np.meshgrid(values, values, values, indexing="ij"), axis=-1).reshape(1, 7, 49, 3)
    return np.concatenate([grid, grid[:, ::-1]])


@pytest.mark.parametrize("params", [{"space": "hsv", "bins": 10}, {"space": "hsv", "bins": 7},
                                    {"space": "rgb", "bins": 4}, {"space": "rgb", "bins": 3}])
def test_color_hist_bins_every_pixel_as_mlpcli(tmp_path, params):
    feature = validate_feature({"name": "color_hist", **params}, "features")
    for data in (images(50, seed=3), special_pixels()):
        expected = FEATURES["color_hist"].extract(data, dtype="float32", **feature.params)
        # Counts are exact, so only the final division may round differently.
        np.testing.assert_allclose(onnx_features(tmp_path, feature, data), expected, rtol=1e-6, atol=0)


def test_color_hist_model_agrees(tmp_path):
    model = mlp_predictor(images(60), features=({"name": "color_hist", "bins": 8}, "raw"))
    print("largest difference", check_agreement(model, tmp_path))
