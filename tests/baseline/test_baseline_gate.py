"""``evaluate --baseline``: NEW with noise in one layer fails (exit 3), NEW == OLD passes, and a
set too small to tell passes saying so; --json and --report carry the comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config

from mlpcli.artifacts import load_model, save_model
from mlpcli.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(OLD run, NEW = OLD with noise in its first layer, root): OLD trained on the synthetic
    shapes (HOG: about 60% right, far above the 25% of chance), NEW's first layer drowned in noise
    five times its weights' spread."""
    root = tmp_path_factory.mktemp("baseline")
    config = write_config(
        root / "config.yaml",
        data={"n_per_class": 100},
        features=[{"name": "hog", "cell": 4}],
        model={"hidden": [64]},
        train={"epochs": 15, "lr": 0.01},
    )
    assert run("train", "--config", config, "--out", root / "old", "-q").exit_code == 0
    noisy = load_model(root / "old")
    weights = noisy.network.layers[0].params["W"]
    weights += np.random.default_rng(0).normal(0, 5 * weights.std(), weights.shape).astype(weights.dtype)
    save_model(root / "new", noisy)
    return root / "old", root / "new", root


def shapes(root, name, n_per_class):
    folder = root / name
    if not folder.exists():
        made = run("data", "synth", "--out", folder, "--n-per-class", n_per_class, "--size", 16, "--seed", 5)
        assert made.exit_code == 0
    return folder


def test_noise_in_one_layer_fails_the_gate_with_exit_3(models):
    old, new, root = models
    report = root / "report.md"
    result = run(
        "evaluate", "--model", new, "--baseline", old, "--data", shapes(root, "big", 60), "--json", "--report", report
    )
    assert result.exit_code == 3, result.output
    comparison = json.loads(result.stdout)
    gate = comparison["gate"]
    assert gate["verdict"] == "worse" and gate["drop_points"] > 0.5 and comparison["paired"]["p_value"] < 0.05
    interval = comparison["paired"]["accuracy_difference"]
    assert interval["low"] <= interval["difference"] <= interval["high"] < 0
    assert comparison["new"]["accuracy"] < comparison["old"]["accuracy"]
    text = report.read_text()
    for part in (
        "FAILED",
        "| accuracy |",
        "McNemar",
        "### Per class",
        "### Confusion changes",
        "### Most confidently wrong",
    ):
        assert part in text
    assert "error:" in result.stderr and "dropped" in result.stderr


def test_the_same_model_passes_with_exit_0(models):
    old, _, root = models
    result = run("evaluate", "--model", old, "--baseline", old, "--data", shapes(root, "big", 60), "--json")
    assert result.exit_code == 0, result.output
    comparison = json.loads(result.stdout)
    assert comparison["gate"]["verdict"] == "ok" and comparison["paired"]["p_value"] == 1.0
    assert comparison["paired"]["accuracy_difference"]["difference"] == 0


def test_a_too_small_set_cannot_tell_and_exits_0_saying_so(models):
    old, new, root = models
    result = run("evaluate", "--model", new, "--baseline", old, "--data", shapes(root, "tiny", 1), "--json")
    assert result.exit_code == 0, result.output
    gate = json.loads(result.stdout)["gate"]
    # 4 images: NEW loses points, but even 4 of 4 going one way would give p = 0.125.
    assert gate["too_small"] and gate["verdict"] == "cannot tell" and gate["drop_points"] > 0.5
    assert "cannot tell" in result.stderr and "use more" in result.stderr


def test_baseline_with_other_classes_is_exit_1(models, tmp_path):
    old, _, root = models
    other = load_model(old)
    other.class_names = ("a", "b", "c", "d")
    save_model(tmp_path / "other", other)
    result = run("evaluate", "--model", tmp_path / "other", "--baseline", old, "--data", shapes(root, "tiny", 1))
    assert result.exit_code == 1 and "different classes" in result.stderr


def test_the_gate_can_use_another_metric_and_refuses_fail_under_with_baseline(models):
    old, new, root = models
    result = run(
        "evaluate",
        "--model",
        new,
        "--baseline",
        old,
        "--data",
        shapes(root, "big", 60),
        "--json",
        "--metric",
        "macro_f1",
    )
    assert result.exit_code == 3
    assert json.loads(result.stdout)["gate"]["metric"] == "macro_f1"
    result = run("evaluate", "--model", new, "--baseline", old, "--data", shapes(root, "big", 60), "--fail-under", 0.5)
    assert result.exit_code == 2 and "--fail-under" in result.stderr


def evaluated(model, data, *extra):
    result = run("evaluate", "--model", model, "--data", data, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_tta_flip_scores_both_models_with_flips_and_says_so(models):
    """``--tta flip`` reaches both models of the gate: each one's log-loss is the one plain
    ``evaluate --tta flip`` reports for it (it was the flip-less one: the option was ignored)."""
    old, new, root = models
    data = shapes(root, "big", 60)
    result = run("evaluate", "--model", new, "--baseline", old, "--data", data, "--json", "--tta", "flip")
    assert result.exit_code in (0, 3), result.output
    comparison = json.loads(result.stdout)
    assert comparison["tta"] == {"new": "flip", "old": "flip"}
    for side, model in (("new", new), ("old", old)):
        flipped, plain = evaluated(model, data, "--tta", "flip"), evaluated(model, data, "--tta", "none")
        assert flipped["log_loss"] != plain["log_loss"]  # the flips change something to see
        assert comparison[side]["log_loss"] == pytest.approx(flipped["log_loss"], rel=1e-6)
    assert (
        "test-time flips: new flip, baseline flip"
        in run("evaluate", "--model", new, "--baseline", old, "--data", data, "--tta", "flip").stdout
    )


def test_without_tta_each_model_scores_as_it_recorded(models, tmp_path):
    """A baseline recorded with ``train.tta: flip`` keeps its flips when NEW has none; the report
    names both, and the Markdown report too."""
    old, new, root = models
    flipping = load_model(old)
    flipping.tta = "flip"
    save_model(tmp_path / "flipping", flipping)
    data, report = shapes(root, "big", 60), tmp_path / "report.md"
    result = run(
        "evaluate", "--model", new, "--baseline", tmp_path / "flipping", "--data", data, "--json", "--report", report
    )
    assert result.exit_code in (0, 3), result.output
    comparison = json.loads(result.stdout)
    assert comparison["tta"] == {"new": "none", "old": "flip"}
    expected = evaluated(old, data, "--tta", "flip")["log_loss"]
    assert comparison["old"]["log_loss"] == pytest.approx(expected, rel=1e-6)
    assert "Test-time flips: new none, baseline flip." in report.read_text()


def test_each_model_sees_the_images_as_it_was_trained(models, tmp_path):
    """A baseline trained on gray images (``data.color: gray``, in its bundle's preprocessing) is
    scored on gray images, as ``evaluate`` scores it, even at NEW's image size (it was given NEW's
    color images: the gate decoded at each model's size only)."""
    from dataclasses import replace

    old, new, root = models
    gray = load_model(old)
    gray.preprocess = replace(gray.preprocess, color="gray")
    save_model(tmp_path / "gray", gray)
    data = shapes(root, "big", 60)
    result = run("evaluate", "--model", new, "--baseline", tmp_path / "gray", "--data", data, "--json")
    assert result.exit_code in (0, 3), result.output
    expected = evaluated(tmp_path / "gray", data)["log_loss"]
    assert expected != evaluated(old, data)["log_loss"]  # gray changes something to see
    assert json.loads(result.stdout)["old"]["log_loss"] == pytest.approx(expected, rel=1e-6)
