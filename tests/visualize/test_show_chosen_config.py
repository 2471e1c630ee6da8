"""``show`` on a k-fold ``--grid`` (or search) directory prints the chosen model's config in its
header, not the base config (issue 21 item 8; failed before read_config preferred
best_config.yaml, verified)."""

import json

from click.testing import CliRunner
from conftest import write_config

from mlpcli.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_show_of_a_grid_run_prints_the_chosen_config(tmp_path):
    config = write_config(tmp_path / "c.yaml", model={"hidden": [32]}, train={"epochs": 2})  # not in the grid
    result = run(
        "kfold", "--config", config, "--k", "2", "--grid", "model.hidden=[8],[16]", "--out", tmp_path / "run", "--json"
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads((tmp_path / "run" / "kfold_summary.json").read_text())
    chosen = summary["best_params"]["model.hidden"]
    shown = run("show", tmp_path / "run", "--json")
    assert shown.exit_code == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["config"]["model"]["hidden"] == list(chosen)
    assert "best_config.yaml" in data["config_from"]
    text = run("show", tmp_path / "run", "--out", tmp_path / "pictures").stdout
    assert f"hidden: {list(chosen)}".replace(" ", "") in text.replace(" ", "") or str(list(chosen)) in text
    assert "best_config.yaml, the chosen model's" in text
