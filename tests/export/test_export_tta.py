"""A model with test-time flips (``tta: flip``) exports them into the graph: onnxruntime averages
each image's probabilities with its mirror's, as ``predict`` does, in every model kind.

Watched failing before the fix (the export ignored ``tta``: differences up to 0.39, no ``tta``
in the metadata, ``--input features`` accepted), and with the fix broken on purpose: the mirror
reversing the row axis instead of the column axis (up to 0.11), and the graph averaging the
first half with itself (0.39). With the fix the largest differences are 7e-8 to 4e-6.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from click.testing import CliRunner  # noqa: E402  (after the importorskip above)
from conftest import write_config  # noqa: E402  (after the importorskip above)
from onnx_models import conv_predictor, images, mlp_predictor, run_onnx  # noqa: E402  (after the importorskip above)
from test_onnx_features import fitted_bow  # noqa: E402  (after the importorskip above)
from test_onnx_networks import check_agreement  # noqa: E402  (after the importorskip above)

from mlpcli.artifacts import load_model, save_model  # noqa: E402  (after the importorskip above)
from mlpcli.cli import cli  # noqa: E402  (after the importorskip above)
from mlpcli.errors import ArtifactError  # noqa: E402  (after the importorskip above)
from mlpcli.export import export_onnx  # noqa: E402  (after the importorskip above)
from mlpcli.predictor import FoldEnsemble  # noqa: E402  (after the importorskip above)


def flipping(model):
    """``model`` (a Predictor) set to average with the mirror, as ``train.tta: flip`` saves it."""
    model.tta = "flip"
    return model


def raw_mlp(train):
    return mlp_predictor(train, batchnorm=True)


def hog_color_mlp(train):
    return mlp_predictor(
        train, features=({"name": "hog", "cell": 4}, {"name": "color_hist", "space": "hsv", "bins": 4})
    )


def bow_mlp(train):
    feature, state = fitted_bow(train)
    return mlp_predictor(train, features=(feature,), states=(state,))


def end_to_end(train):
    return conv_predictor(train, batchnorm=True)


@pytest.mark.parametrize("build", [raw_mlp, hog_color_mlp, bow_mlp, end_to_end])
def test_flip_model_agrees_with_predict(tmp_path, build):
    """200 non-square images (12x10, so rows and columns cannot be confused)."""
    model = flipping(build(images(60)))
    flipped = model.predict_proba(images(200, seed=1))
    model.tta = "none"
    plain = model.predict_proba(images(200, seed=1))
    assert np.abs(flipped - plain).max() > 1e-2  # the flip matters for these weights
    model.tta = "flip"
    print("largest difference", check_agreement(model, tmp_path))


def test_flip_five_fold_ensemble_agrees(tmp_path):
    members = [flipping(mlp_predictor(images(60), seed=seed, batchnorm=True)) for seed in range(5)]
    print("largest difference", check_agreement(FoldEnsemble(members), tmp_path))


def test_metadata_says_tta(tmp_path):
    for tta in ("none", "flip"):
        model = mlp_predictor(images(30))
        model.tta = tta
        export_onnx(model, tmp_path / f"{tta}.onnx")
        props = {p.key: p.value for p in onnx.load(str(tmp_path / f"{tta}.onnx")).metadata_props}
        assert props["tta"] == tta


def test_features_input_of_a_flip_model_is_refused(tmp_path):
    """The feature vector of one image says nothing of its mirror's: no graph can flip it."""
    with pytest.raises(ArtifactError, match="tta: flip.*--input images"):
        export_onnx(flipping(mlp_predictor(images(30))), tmp_path / "m.onnx", input="features")
    assert not (tmp_path / "m.onnx").exists()
    save_model(tmp_path / "model", flipping(mlp_predictor(images(30))))
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "model"), "--input", "features"])
    assert result.exit_code == 1 and "tta: flip" in result.stderr and "Traceback" not in result.output


def test_trained_flip_model_exports_and_agrees(tmp_path):
    """A model trained by mlpcli with ``train.tta: flip``, through the CLI."""
    config = write_config(tmp_path / "config.yaml", train={"epochs": 2, "tta": "flip"})
    result = CliRunner().invoke(cli, ["train", "--config", str(config), "--out", str(tmp_path / "run"), "-q"])
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "run"), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.stderr
    model, data = load_model(tmp_path / "run"), images(200, size=(16, 16), seed=3)
    assert model.tta == "flip"
    probabilities, predicted = run_onnx(tmp_path / "m.onnx", data)
    expected = model.predict_proba(data)
    print("largest difference", np.abs(probabilities - expected).max())
    assert np.abs(probabilities - expected).max() <= 1e-4
    assert (predicted == expected.argmax(axis=1)).all()
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert props["tta"] == "flip" and json.loads(props["image_size"]) == [16, 16]
