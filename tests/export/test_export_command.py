"""``mlpcli export``: a trained run exports and agrees with predict; what cannot be exported is exit 1."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from conftest import write_config
from onnx_models import images, mlp_predictor, run_onnx

from mlpcli.artifacts import load_model, save_model
from mlpcli.cli import cli
from mlpcli.export import features as export_features


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_trained_kfold_ensemble_exports_and_agrees(tmp_path):
    """A k-fold ensemble trained by mlpcli (raw pixels, batch norm, dropout) through the CLI."""
    config = write_config(tmp_path / "config.yaml", model={"hidden": [16], "batchnorm": True, "dropout": 0.2})
    result = run("kfold", "--config", config, "--k", 3, "--select", "ensemble", "--out", tmp_path / "run", "-q")
    assert result.exit_code == 0, result.stderr
    result = run("export", tmp_path / "run", "--format", "onnx", "--json")
    assert result.exit_code == 0, result.stderr
    written = json.loads(result.stdout)
    assert written["path"] == str(tmp_path / "run" / "model.onnx") and written["members"] == 3
    model, data = load_model(tmp_path / "run"), images(200, size=(16, 16), seed=2)
    probabilities, predicted = run_onnx(written["path"], data)
    expected = model.predict_proba(data)
    assert np.abs(probabilities - expected).max() <= 1e-4
    assert (predicted == expected.argmax(axis=1)).all()


def test_missing_extractor_conversion_is_exit_1_naming_it(tmp_path, monkeypatch):
    save_model(tmp_path / "model", mlp_predictor(images(20)))
    monkeypatch.delitem(export_features.FEATURE_NODES, "raw")
    result = run("export", tmp_path / "model", "--out", tmp_path / "m.onnx")
    assert result.exit_code == 1
    assert "raw" in result.stderr and "--input features" in result.stderr
    assert not (tmp_path / "m.onnx").exists()
    assert run("export", tmp_path / "model", "--out", tmp_path / "m.onnx", "--input", "features").exit_code == 0


def test_without_onnx_installed_is_exit_1_with_the_install_hint(tmp_path, monkeypatch):
    save_model(tmp_path / "model", mlp_predictor(images(20)))
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    result = run("export", tmp_path / "model")
    assert result.exit_code == 1 and 'pip install "mlpcli[export]"' in result.stderr
    assert "Traceback" not in result.output


def test_missing_run_is_exit_1(tmp_path):
    result = run("export", tmp_path / "nothing")
    assert result.exit_code == 1 and "nothing" in result.stderr


@pytest.mark.parametrize(
    "sections",
    [
        {
            "mode": "end_to_end",
            "extractor": {"blocks": [{"filters": 4, "kernel": 3, "pool": 2}], "batchnorm": True},
            "model": {"hidden": [8], "batchnorm": True, "dropout": 0.2},
        },
        {
            "features": [
                "hog",
                {"name": "color_hist", "space": "rgb", "bins": 3},
                {"name": "bow", "patch": 4, "stride": 2, "words": 8, "sample_patches": 500},
            ]
        },
    ],
    ids=["end-to-end", "hog-color-bow"],
)
def test_trained_models_of_each_mode_export_and_agree(tmp_path, sections):
    """Models mlpcli trained: the end-to-end conv extractor with batch norm; fixed features."""
    config = write_config(tmp_path / "config.yaml", train={"epochs": 2}, **sections)
    assert run("train", "--config", config, "--out", tmp_path / "run", "-q").exit_code == 0
    result = run("export", tmp_path / "run", "--out", tmp_path / "m.onnx")
    assert result.exit_code == 0, result.stderr
    model, data = load_model(tmp_path / "run"), images(200, size=(16, 16), seed=3)
    probabilities, predicted = run_onnx(tmp_path / "m.onnx", data)
    expected = model.predict_proba(data)
    print("largest difference", np.abs(probabilities - expected).max())
    assert np.abs(probabilities - expected).max() <= 1e-4
    assert (predicted == expected.argmax(axis=1)).all()
