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
