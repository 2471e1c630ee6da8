"""``mlpcli lr-find``: the learning-rate range test.

Watched failing with the code broken on purpose: batches drawn from an unseeded generator (the
same-curve test), the divergence check removed (the early-stop test), the suggestion read
from the lagging moving average (the lag test) or at the noisy minimum of a plateau (the
one-standard-error test), the bias correction left out (the smoothing test).
"""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config

from mlpcli.cli import cli
from mlpcli.commands import run_lr_find
from mlpcli.config import from_dict
from mlpcli.train.lr_find import RangeTest, _record, lr_schedule


def small(tmp_path, seed=1, **train):
    return from_dict(
        {
            "seed": seed,
            "data": {"format": "synthetic", "n_per_class": 20, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
            "model": {"hidden": [8], "batchnorm": True, "dropout": 0.2},
            "train": {"batch_size": 16, "lr": 0.05, **train},
        }
    )


def test_the_same_config_gives_the_same_curve(tmp_path):
    first = run_lr_find(small(tmp_path), steps=40, start=1e-4, stop=10)
    second = run_lr_find(small(tmp_path), steps=40, start=1e-4, stop=10)
    assert first == second
    assert run_lr_find(small(tmp_path, seed=2), steps=40, start=1e-4, stop=10)["losses"] != first["losses"]


def test_the_lr_grows_exponentially_from_start_to_stop():
    lrs = lr_schedule(1e-6, 1.0, 7)
    assert lrs[0] == 1e-6 and lrs[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], 10.0, rtol=1e-12)


def test_smoothing_is_a_bias_corrected_moving_average():
    curve = RangeTest([], [], [])
    for lr, loss in zip((1, 2, 3), (2.0, 2.0, 5.0)):
        _record(curve, lr, loss, beta=0.9)
    # A constant loss reads as itself from the first step on (no pull towards zero).
    assert curve.smoothed[:2] == [pytest.approx(2.0), pytest.approx(2.0)]
    expected = (0.9 * (0.9 * 0.1 * 2 + 0.1 * 2) + 0.1 * 5) / (1 - 0.9**3)
    assert curve.smoothed[2] == pytest.approx(expected)


def test_the_suggestion_is_where_the_loss_was_lowest_not_where_the_moving_average_is():
    # A loss with its minimum at step 80 of 200: the moving average (beta 0.98) still falls for
    # dozens of steps after it, the centred mean does not.
    lrs = lr_schedule(1e-6, 1.0, 200)
    curve = RangeTest([], [], [])
    for step, lr in enumerate(lrs):
        _record(curve, float(lr), 2.0 + ((step - 80) / 40.0) ** 2, beta=0.98)
    assert int(np.argmin(curve.smoothed)) > 100
    suggestion = curve.suggestion()
    assert suggestion["min_lr"] == pytest.approx(lrs[80])
    assert lrs[70] <= suggestion["suggested_lr"] <= lrs[80]
    assert suggestion["steepest_lr"] < suggestion["suggested_lr"]


def test_on_a_noisy_plateau_the_suggestion_is_its_start_not_its_lowest_point():
    # The loss falls until step 60, then stays flat up to noise: where the plateau's centred
    # mean happens to be lowest is chance (here step 153); the one-standard-error rule stays
    # in the plateau's first part (here step 100, where the mean first comes within 1 SE).
    lrs = lr_schedule(1e-6, 1.0, 200)
    noise = np.random.default_rng(0).normal(0, 0.1, 200)
    losses = np.where(np.arange(200) < 60, 3.0 - np.arange(200) / 60, 2.0) + noise
    curve = RangeTest(list(lrs), list(losses), [])
    suggestion = curve.suggestion()
    assert suggestion["min_lr"] > lrs[140]
    assert lrs[55] <= suggestion["suggested_lr"] <= lrs[110]


def test_a_diverging_loss_ends_the_test_and_json_holds_no_nan(tmp_path):
    result = run_lr_find(small(tmp_path, optimizer="sgd", momentum=0.9), steps=200, start=1e-3, stop=1e6)
    assert result["diverged"] and result["steps"] < 200 == len(lr_schedule(1e-3, 1e6, 200))
    assert len(result["lrs"]) == len(result["losses"]) == len(result["smoothed"]) == result["steps"]
    json.dumps(result, allow_nan=False)
    assert all(value is None or math.isfinite(value) for value in result["losses"])
    assert result["suggested_lr"] < result["lrs"][-1]
    assert len(result["centred"]) == result["steps"]


@pytest.mark.parametrize("start, stop", [(1e-5, 1e-2), (1e-2, 10.0)])
def test_cli_json_is_one_document_with_a_suggestion_inside_the_tested_range(tmp_path, start, stop):
    config = write_config(tmp_path / "config.yaml")
    result = CliRunner().invoke(
        cli, ["lr-find", "--config", str(config), "--steps", "30", "--start", str(start), "--stop", str(stop), "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert start <= document["suggested_lr"] <= stop
    assert start <= document["steepest_lr"] <= document["suggested_lr"]
    assert document["lrs"][0] == pytest.approx(start) and document["config_lr"] == 0.05
    assert document["rule"] == "smallest lr within one standard error of the centred minimum"
    assert document["suggested_lr"] <= document["min_lr"] <= stop


def test_cli_draws_the_plot_or_says_why_not(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    config = write_config(tmp_path / "config.yaml")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["lr-find", "--config", str(config), "--steps", "20", "--out", str(tmp_path / "lr.png")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "suggested lr" in result.stdout and "plot:" in result.stdout
    from mlpcli.visualize import plots

    monkeypatch.setattr(plots, "available", lambda: False)
    result = runner.invoke(
        cli, ["lr-find", "--config", str(config), "--steps", "20", "--out", str(tmp_path / "no.png")]
    )
    assert result.exit_code == 0 and "suggested lr" in result.stdout
    assert "matplotlib is not installed" in result.stderr and not (tmp_path / "no.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--start", "1", "--stop", "0.1"], "--start"),
        (["--steps", "3"], "--steps"),
        (["--set", "train.lr=-1"], "train.lr"),
    ],
)
def test_usage_and_config_errors_exit_2(tmp_path, args, message):
    config = write_config(tmp_path / "config.yaml")
    result = CliRunner().invoke(cli, ["lr-find", "--config", str(config), *args])
    assert result.exit_code == 2 and message in result.stderr
    assert "Traceback" not in result.output
