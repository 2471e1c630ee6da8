"""The README's tour is true: ``data/shapes`` is made before it is evaluated, and the
``evaluate --fail-under`` examples pass their gates with the quickstart model (issue 21 item 8:
``--fail-under 0.8`` failed, the model scores 78.4% on ``data synth``'s shapes).

Training the quickstart takes about a minute and a half on 2 busy cores, so the gate test runs
only with ``MLPCLI_README_TOUR=1``; it failed with the old 0.8 threshold (exit 3), verified."""

import os
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlpcli.cli import cli

ROOT = Path(__file__).parents[1]


def tour_lines(prefix: str) -> list[list[str]]:
    """The README's commands that start with ``prefix``, as argument lists without the comment."""
    lines = (ROOT / "README.md").read_text().splitlines()
    return [shlex.split(line.partition("#")[0])[1:] for line in lines if line.startswith(prefix)]


def test_the_tour_makes_data_shapes_before_evaluating_it():
    lines = (ROOT / "README.md").read_text().splitlines()
    made = lines.index(next(line for line in lines if line.startswith("mlpcli data synth --out data/shapes")))
    assert all(made < i for i, line in enumerate(lines) if "--data data/shapes" in line)


@pytest.mark.skipif(os.environ.get("MLPCLI_README_TOUR") != "1", reason="trains the quickstart (~90 s)")
def test_the_readme_gates_pass_with_the_quickstart_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = str(ROOT / "configs" / "quickstart.yaml")
    trained = CliRunner().invoke(cli, ["train", "--config", config, "--set", f"data.cache_dir={tmp_path}/c"])
    assert trained.exit_code == 0, trained.stderr
    (synth,) = tour_lines("mlpcli data synth --out data/shapes")
    assert CliRunner().invoke(cli, synth).exit_code == 0
    gates = tour_lines("mlpcli evaluate --model runs/latest --data data/shapes --fail-under")
    assert len(gates) == 2
    for args in gates:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, (args, result.stderr)
