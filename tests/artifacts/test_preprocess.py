"""data.resize / data.color travel with the model: predict and evaluate shape images as training did."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config, write_image_folder

from mlpcli.artifacts import load_model
from mlpcli.cli import cli
from mlpcli.data.images import load_image
from mlpcli.data.shape import Preprocess


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def cropped_run(tmp_path):
    """A model trained on 40x20 (wide) images with center_crop to 16x16, in gray."""
    write_image_folder(tmp_path / "images", n_per_class=6, classes=("cat", "dog"), size=(20, 40))
    config = write_config(
        tmp_path / "config.yaml",
        data={"format": "folder", "path": str(tmp_path / "images"), "resize": "center_crop", "color": "gray"},
        train={"epochs": 1, "lr": 1e-4},
    )  # unsure, so the probabilities tell inputs apart
    result = run("train", "--config", config, "--out", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    return tmp_path / "run"


def test_the_bundle_records_the_preprocess_and_predict_applies_it(cropped_run, tmp_path):
    meta = json.loads((cropped_run / "model.json").read_text())
    assert meta["preprocess"] == {"resize": "center_crop", "color": "gray", "pad_fill": 0}
    model = load_model(cropped_run)
    assert model.preprocess == Preprocess((16, 16), "center_crop", "gray")
    image = tmp_path / "images" / "dog" / "000.png"
    result = run("predict", "--model", cropped_run, image, "--json")
    assert result.exit_code == 0, result.stderr
    predicted = json.loads(result.stdout)["predictions"][0]["probability"]
    expected = model.predict_proba(load_image(image, Preprocess((16, 16), "center_crop", "gray"))[None]).max()
    squashed = model.predict_proba(load_image(image, (16, 16))[None]).max()
    assert predicted == pytest.approx(float(expected), abs=1e-6)
    assert expected != pytest.approx(float(squashed), abs=1e-6)  # the policy matters here


def test_evaluate_applies_the_bundle_preprocess_to_a_csv(cropped_run, tmp_path):
    rows = [f"images/{name}/{i:03d}.png,{name}" for name in ("cat", "dog") for i in range(6)]
    (tmp_path / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    result = run("evaluate", "--model", cropped_run, "--data", tmp_path / "labels.csv", "--json")
    assert result.exit_code == 0, result.stderr
    from_csv = json.loads(result.stdout)
    from_folder = json.loads(run("evaluate", "--model", cropped_run, "--data", tmp_path / "images", "--json").stdout)
    assert from_csv["accuracy"] == from_folder["accuracy"] and from_csv["log_loss"] == from_folder["log_loss"]


def test_a_bundle_without_preprocess_loads_with_the_old_behaviour(cropped_run):
    meta = json.loads((cropped_run / "model.json").read_text())
    del meta["preprocess"]
    (cropped_run / "model.json").write_text(json.dumps(meta))
    assert load_model(cropped_run).preprocess == Preprocess((16, 16), "squash", "rgb", 0)


def test_a_bad_preprocess_field_is_an_artifact_error(cropped_run):
    meta = json.loads((cropped_run / "model.json").read_text())
    meta["preprocess"]["resize"] = "stretch"
    (cropped_run / "model.json").write_text(json.dumps(meta))
    result = run("predict", "--model", cropped_run, cropped_run)
    assert result.exit_code == 1 and "preprocess must be {resize: one of squash, center_crop, pad" in result.stderr


def test_square_images_give_the_same_model_under_every_policy(tmp_path):
    """Existing configs keep their results: for square inputs the policy changes no byte."""
    write_image_folder(tmp_path / "images", n_per_class=5, classes=("cat", "dog"), size=(24, 24))
    weights = []
    for resize in ("squash", "center_crop", "pad"):
        config = write_config(
            tmp_path / f"{resize}.yaml", data={"format": "folder", "resize": resize, "path": str(tmp_path / "images")}
        )
        assert run("train", "--config", config, "--out", tmp_path / resize, "--no-cache").exit_code == 0
        with np.load(tmp_path / resize / "weights.npz") as stored:
            weights.append({key: stored[key] for key in stored.files})
    for other in weights[1:]:
        assert all(np.array_equal(weights[0][key], other[key]) for key in weights[0])
