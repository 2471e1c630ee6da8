"""Exported networks agree with mlpcli's predict_proba: within 1e-4, the same argmax on every image."""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx_models import CLASSES, conv_predictor, ensemble, images, mlp_predictor, run_onnx  # noqa: E402  (after the importorskip above)

from mlpcli.export import export_onnx  # noqa: E402  (after the importorskip above)

TOLERANCE = 1e-4


def check_agreement(model, tmp_path, data=None):
    """Export ``model``, run it on 200 images; assert agreement; return the largest difference."""
    data = images(200, seed=1) if data is None else data
    path = tmp_path / "model.onnx"
    export_onnx(model, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    probabilities, predicted = run_onnx(path, data)
    expected = model.predict_proba(data)
    difference = float(np.abs(probabilities - expected).max())
    assert difference <= TOLERANCE, difference
    assert (predicted == expected.argmax(axis=1)).all()
    assert (probabilities.argmax(axis=1) == expected.argmax(axis=1)).all()
    return difference


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"activation": "sigmoid"}, {"activation": "tanh"}, {"batchnorm": True, "dropout": 0.5}],
    ids=["relu", "sigmoid", "tanh", "bn-dropout"],
)
def test_raw_mlp_agrees(tmp_path, kwargs):
    train = images(60)
    print("largest difference", check_agreement(mlp_predictor(train, **kwargs), tmp_path))


@pytest.mark.parametrize(
    "batchnorm, norm_after_pool", [(False, False), (True, False), (True, True)], ids=["conv", "conv-bn", "conv-pool-bn"]
)
def test_end_to_end_conv_agrees(tmp_path, batchnorm, norm_after_pool):
    """Conv (BatchNorm folded, or after the pool its own Mul and Add), MaxPool, ReLU and Flatten in
    mlpcli's channels-last row order."""
    model = conv_predictor(images(60), batchnorm, norm_after_pool=norm_after_pool)
    print("largest difference", check_agreement(model, tmp_path))


def test_five_fold_ensemble_agrees(tmp_path):
    print("largest difference", check_agreement(ensemble(images(60), k=5, batchnorm=True), tmp_path))


def test_metadata_names_the_classes(tmp_path):
    path = tmp_path / "model.onnx"
    export_onnx(mlp_predictor(images(30)), path)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["classes"]) == list(CLASSES)
    assert json.loads(props["image_size"]) == [12, 10]
    assert "BILINEAR" in props["resize"]


def test_features_input_starts_at_the_feature_vector(tmp_path):
    model = mlp_predictor(images(30), batchnorm=True)
    path = tmp_path / "model.onnx"
    export_onnx(model, path, input="features")
    X = model.extract(images(50, seed=4))
    probabilities, _ = run_onnx(path, X, "features")
    assert np.abs(probabilities - model.predict_proba_features(X)).max() <= TOLERANCE


def test_float64_models_export_in_float32_and_agree(tmp_path):
    """onnxruntime has no float64 Conv: the graph computes in float32 and still agrees."""
    from mlpcli.features import validate_feature
    from mlpcli.features.standardize import Standardizer
    from mlpcli.nn.extractor import build_extractor
    from mlpcli.nn.network import Sequential, mlp_layers
    from mlpcli.predictor import Predictor

    rng, train = np.random.default_rng(0), images(60)
    extractor, n_features = build_extractor(
        [{"filters": 4, "kernel": 3, "pool": 2}], (12, 10, 3), rng=rng, dtype="float64", batchnorm=True
    )
    network = Sequential(extractor + mlp_layers(n_features, len(CLASSES), [8], rng=rng, dtype="float64"))
    X = train.reshape(len(train), -1) / 255
    model = Predictor(network, Standardizer.fit(X), CLASSES, (12, 10), [validate_feature("raw", "features")])
    print("largest difference", check_agreement(model, tmp_path))
