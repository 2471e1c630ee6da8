"""The command line contract: exit codes, stdout vs stderr, --json, messages."""

import json

import pytest
from click.testing import CliRunner

from mlpcli import __version__
from mlpcli.cli import cli

from conftest import write_config, write_image_folder


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def trained_run(tmp_path, small_config):
    result = run("train", "--config", small_config, "--out", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    return tmp_path / "run"


def test_version_and_help():
    assert run("--version").stdout.strip().endswith(__version__)
    for command in ("train", "predict", "evaluate", "gradcheck", "data"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Example" in result.stdout


def test_train_json_is_the_only_stdout_and_run_dir_is_complete(tmp_path, small_config):
    result = run("train", "--config", small_config, "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert {"run_dir", "train_accuracy", "val_accuracy", "epochs", "seconds"} <= set(summary)
    assert "epoch 3/3" in result.stderr
    files = {p.name for p in (tmp_path / "runs").joinpath(summary["run_dir"].split("/")[-1]).iterdir()}
    assert {"config.yaml", "metrics.json", "history.csv", "model.json", "weights.npz"} <= files
    assert (tmp_path / "runs" / "latest").resolve().name == summary["run_dir"].split("/")[-1]


def test_same_seed_same_bytes(tmp_path, small_config):
    for name in ("a", "b"):
        assert run("train", "--config", small_config, "--out", tmp_path / name).exit_code == 0
    assert (tmp_path / "a" / "weights.npz").read_bytes() == (tmp_path / "b" / "weights.npz").read_bytes()
    metrics = [json.loads((tmp_path / n / "metrics.json").read_text()) for n in "ab"]
    for m in metrics:
        m.pop("seconds")
    assert metrics[0] == metrics[1]


def test_resolved_config_records_the_drawn_seed(tmp_path):
    config = write_config(tmp_path / "c.yaml", seed=None)
    assert run("train", "--config", config, "--out", tmp_path / "r").exit_code == 0
    assert "seed: null" not in (tmp_path / "r" / "config.yaml").read_text()
    assert "seed: " in (tmp_path / "r" / "config.yaml").read_text()


def test_out_must_be_new(trained_run, small_config):
    result = run("train", "--config", small_config, "--out", trained_run)
    assert result.exit_code == 1 and "already exists and is not empty" in result.stderr


def test_config_errors_exit_2_with_key_and_hint(small_config):
    typo = run("train", "--config", small_config, "--set", "model.activaton=relu")
    assert typo.exit_code == 2 and "did you mean 'model.activation'" in typo.stderr
    bad = run("train", "--config", small_config, "--set", "model.activation=rleu")
    assert bad.exit_code == 2 and "model.activation: must be one of relu, sigmoid, tanh; got 'rleu'" in bad.stderr
    assert "Traceback" not in bad.stderr and bad.stdout == ""
    assert run("train", "--config", "missing.yaml").exit_code == 2
    assert run("train").exit_code == 2  # click usage error


def test_print_config_shows_overrides(small_config):
    result = run("train", "--config", small_config, "--set", "train.lr=0.123", "--print-config")
    assert result.exit_code == 0 and "lr: 0.123" in result.stdout


def test_missing_data_folder_exits_1(tmp_path):
    config = write_config(tmp_path / "c.yaml", data={"format": "folder", "path": str(tmp_path / "nope")})
    result = run("train", "--config", config)
    assert result.exit_code == 1 and "nope: data folder not found" in result.stderr


def test_predict_text_json_and_errors(tmp_path, trained_run):
    folder = write_image_folder(tmp_path / "imgs", n_per_class=1, classes=("x",))
    image = folder / "x" / "000.png"
    text = run("predict", image, "--model", trained_run, "--top-k", "2")
    assert text.exit_code == 0 and text.stdout.startswith(str(image)) and "2. " in text.stdout
    as_json = json.loads(run("predict", folder, "--model", trained_run, "--json", "--top-k", "3").stdout)
    assert len(as_json) == 1 and set(as_json[0]) == {"path", "label", "probability", "top_k"}
    assert len(as_json[0]["top_k"]) == 3
    assert as_json[0]["top_k"][0]["probability"] >= as_json[0]["top_k"][1]["probability"]
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    failed = run("predict", not_image, "--model", trained_run)
    assert failed.exit_code == 1 and "notes.png: cannot read as an image" in failed.stderr
    missing_model = run("predict", image, "--model", tmp_path / "nomodel")
    assert missing_model.exit_code == 1 and "no such run directory" in missing_model.stderr


def test_evaluate_reports_and_gates(tmp_path, trained_run):
    synth = tmp_path / "synth"
    assert run("data", "synth", "--out", synth, "--n-per-class", "5", "--size", "16").exit_code == 0
    report = run("evaluate", "--model", trained_run, "--data", synth, "--json")
    assert report.exit_code == 0
    data = json.loads(report.stdout)
    assert {"accuracy", "n", "per_class", "confusion", "class_names"} <= set(data) and data["n"] == 20
    assert sum(map(sum, data["confusion"])) == 20
    gate = run("evaluate", "--model", trained_run, "--data", synth, "--fail-under", "1.0")
    assert (gate.exit_code == 1) == (data["accuracy"] < 1.0)
    wrong = write_image_folder(tmp_path / "other", n_per_class=1, classes=("unicorn",))
    mismatch = run("evaluate", "--model", trained_run, "--data", wrong)
    assert mismatch.exit_code == 1 and "unicorn are not among the model's classes" in mismatch.stderr


def test_gradcheck_passes_and_reports_json(small_config):
    result = run("gradcheck", "--config", small_config, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["passed"] and data["max_relative_error"] < 1e-6 and "0.W" in data["relative_errors"]


def test_gradcheck_fails_when_backward_is_wrong(small_config, monkeypatch):
    from mlpcli.nn import activations

    monkeypatch.setattr(activations.ReLU, "backward", lambda self, dout: dout)  # ignores the mask
    result = run("gradcheck", "--config", small_config)
    assert result.exit_code == 1 and "FAIL" in result.stdout


def test_threads_option_and_env_bound_blas(monkeypatch, small_config):
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    assert CliRunner().invoke(cli, ["--threads", "3", "gradcheck", "--config", str(small_config)]).exit_code == 0
    import os
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"
    monkeypatch.setenv("MLPCLI_THREADS", "2")
    assert CliRunner().invoke(cli, ["gradcheck", "--config", str(small_config)]).exit_code == 0
    assert os.environ["OMP_NUM_THREADS"] == "2"


def test_commands_do_not_load_numpy_before_the_thread_limit():
    """--threads works only if NumPy is imported after the group callback: keep imports lazy."""
    import subprocess
    import sys

    code = "import sys, mlpcli.cli; print('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("position", ["before", "after"])
def test_global_options_work_before_or_after_the_command(tmp_path, small_config, position, monkeypatch):
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    options = ["-q", "--threads", "1"]
    command = ["train", "--config", small_config, "--out", tmp_path / "run"]
    result = run(*(options + command if position == "before" else command + options))
    assert result.exit_code == 0, result.stderr
    assert "epoch" not in result.stderr  # quiet: no per-epoch log lines
    import os
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    louder = run("train", "--config", small_config, "--out", tmp_path / "run2")
    assert "epoch 3/3" in louder.stderr  # -q of one invocation does not leak into the next


def test_one_class_is_refused_and_rare_classes_are_warned_about(tmp_path):
    one = write_image_folder(tmp_path / "one", n_per_class=6, classes=("cat",))
    config = write_config(tmp_path / "c.yaml", data={"format": "folder", "path": str(one), "image_size": 16})
    result = run("train", "--config", config)
    assert result.exit_code == 1 and "only the class 'cat'" in result.stderr
    few = write_image_folder(tmp_path / "few", n_per_class=6, classes=("cat", "dog"))
    config = write_config(tmp_path / "c2.yaml", data={"format": "folder", "path": str(few), "image_size": 16})
    result = run("train", "--config", config, "--out", tmp_path / "run")
    assert result.exit_code == 0 and "warning: the validation split has fewer than 5 images" in result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert any("fewer than 5 images of cat" in w for w in metrics["warnings"])
