"""With ``--json`` a failing command still prints exactly one JSON document on stdout,
``{"error", "exit_code"}``, with the same exit code and the message on stderr (issue 21 item 8:
stdout was empty; these fail without ``_json_error`` in cli/app.py, verified)."""

import json

import pytest
from click.testing import CliRunner
from conftest import write_config

from mlpcli.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["train", "--config", "missing.yaml", "--json"], 2, "config file not found"),  # config error
        (["train", "--json", "--bogus"], 2, "No such option"),  # usage error
        (["predict", "x.png", "--model", "no-such-run", "--json"], 1, "no such run directory"),  # artifact
    ],
)
def test_a_failing_json_command_prints_its_error_as_json(tmp_path, monkeypatch, args, code, words):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == code
    document = json.loads(result.stdout)
    assert document["exit_code"] == code and words in document["error"]
    assert words in result.stderr


def test_without_json_stdout_stays_empty(tmp_path):
    result = run("train", "--config", tmp_path / "missing.yaml")
    assert result.exit_code == 2 and result.stdout == ""


def test_a_failed_gate_keeps_its_one_document(tmp_path):
    config = write_config(tmp_path / "c.yaml")
    assert run("train", "--config", config, "--out", tmp_path / "run").exit_code == 0
    data = tmp_path / "eval.npz"
    result = run(
        "evaluate", "--model", tmp_path / "run", "--data", _synthetic_npz(data), "--fail-under", "1.0", "--json"
    )
    assert result.exit_code == 3, result.stderr  # 3 epochs on 16 px: below 100% on new images
    document = json.loads(result.stdout)  # one document: the report, not a second error one
    assert document["accuracy"] < 1.0


def _synthetic_npz(path):
    import numpy as np

    from mlpcli.data.synthetic import make_synthetic

    dataset = make_synthetic(5, (16, 16), seed=9)
    np.savez(path, images=dataset.images, labels=dataset.labels, class_names=np.array(dataset.class_names))
    return path


def test_an_interrupted_json_command_keeps_stdout_empty(monkeypatch, small_config):
    """Ctrl-C (130) is not a failure to report as a document: stdout stays empty."""
    import mlpcli.commands

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mlpcli.commands, "run_train", interrupted)
    result = run("train", "--config", small_config, "--json")
    assert result.exit_code == 130 and result.stdout == ""
