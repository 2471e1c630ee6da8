"""The command line contract: exit codes, stdout vs stderr, --json, messages."""

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config, write_image_folder
from PIL import Image

from mlpcli import __version__
from mlpcli.artifacts import save_model
from mlpcli.cli import cli
from mlpcli.features import FeatureConfig
from mlpcli.features.standardize import Standardizer
from mlpcli.nn import build_mlp
from mlpcli.predictor import Predictor


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
    assert text.exit_code == 0 and text.stdout.splitlines()[1].startswith(f"{image}\t")
    as_json = json.loads(run("predict", folder, "--model", trained_run, "--json", "--top-k", "3").stdout)
    assert as_json["skipped"] == [] and len(as_json["predictions"]) == 1
    first = as_json["predictions"][0]
    assert set(first) == {"path", "label", "probability", "top_k"} and len(first["top_k"]) == 3
    assert first["top_k"][0]["probability"] >= first["top_k"][1]["probability"]
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
    assert gate.exit_code == (3 if data["accuracy"] < 1.0 else 0)
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


# --- predict and evaluate with a model whose answers are known ----------------------------------


@pytest.fixture
def constant_model(tmp_path) -> Path:
    """Classes a, b, c on 4x4 raw pixels; every image gets probabilities (0.75, 0.25, 0), i.e. 'a'."""
    network = build_mlp(48, 3, [], rng=np.random.default_rng(0), dtype="float64")
    network.layers[0].params["W"][:] = 0
    network.layers[0].params["b"][:] = [math.log(3), 0, -1000]
    predictor = Predictor(
        network, Standardizer(np.zeros(48), np.ones(48)), ("a", "b", "c"), (4, 4), [FeatureConfig("raw", {})]
    )
    save_model(tmp_path / "model", predictor)
    return tmp_path / "model"


@pytest.fixture
def two_by_two(tmp_path) -> Path:
    """Two images of class a and two of class b (4x4 PNGs)."""
    return write_image_folder(tmp_path / "labelled", n_per_class=2, classes=("a", "b"), size=(4, 4))


def test_predict_prints_a_tsv_table_with_a_header(constant_model, two_by_two):
    result = run("predict", two_by_two, "--model", constant_model, "--top-k", "2")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "path\tlabel\tprobability\tlabel_2\tprobability_2"
    assert len(lines) == 5 and not any(line.startswith("\t") for line in lines)
    for line, path in zip(lines[1:], sorted(two_by_two.rglob("*.png"))):
        assert line.split("\t") == [str(path), "a", "0.750000", "b", "0.250000"]
    one = run("predict", two_by_two / "a" / "000.png", "--model", constant_model)
    assert one.stdout.splitlines() == ["path\tlabel\tprobability", f"{two_by_two / 'a' / '000.png'}\ta\t0.750000"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_predict_output_file_by_suffix(constant_model, two_by_two, tmp_path, suffix):
    out = tmp_path / "out" / f"labels{suffix}"
    result = run("predict", two_by_two, "--model", constant_model, "--top-k", "3", "--output", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and f"wrote 4 predictions to {out}" in result.stderr
    text = out.read_text()
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
        assert [row["label"] for row in rows] == ["a"] * 4 and len(rows[0]["top_k"]) == 3
        assert rows[0]["top_k"][2]["label"] == "c" and rows[0]["probability"] == pytest.approx(0.75)
    else:
        rows = list(csv.reader(io.StringIO(text), delimiter="," if suffix == ".csv" else "\t"))
        assert rows[0] == ["path", "label", "probability", "label_2", "probability_2", "label_3", "probability_3"]
        assert len(rows) == 5 and all(row[1] == "a" and float(row[2]) == 0.75 for row in rows[1:])
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left behind


def test_predict_output_with_an_unknown_suffix_is_a_usage_error(constant_model, two_by_two, tmp_path):
    result = run("predict", two_by_two, "--model", constant_model, "--output", tmp_path / "labels.xlsx")
    assert result.exit_code == 2 and ".csv" in result.stderr and ".jsonl" in result.stderr
    assert not (tmp_path / "labels.xlsx").exists()


def _break(folder: Path, *names: str) -> list[Path]:
    paths = [folder / name for name in names]
    for path in paths:
        path.write_bytes(b"not an image")
    return paths


def test_predict_on_error_fail_names_every_bad_file_and_skip_lists_them(constant_model, two_by_two):
    bad = _break(two_by_two, "a/x.png", "b/y.png")
    failed = run("predict", two_by_two, "--model", constant_model)
    assert failed.exit_code == 1 and failed.stdout == ""
    assert "2 images could not be read" in failed.stderr
    assert all(f"{path}: cannot read as an image" in failed.stderr for path in bad)
    skipped = run("predict", two_by_two, "--model", constant_model, "--on-error", "skip", "--json")
    assert skipped.exit_code == 0, skipped.stderr
    data = json.loads(skipped.stdout)
    assert [item["path"] for item in data["skipped"]] == [str(path) for path in bad]
    assert all(item["reason"].startswith("cannot read as an image") for item in data["skipped"])
    assert len(data["predictions"]) == 4 and all(str(path) in skipped.stderr for path in bad)
    table = run("predict", two_by_two, "--model", constant_model, "--on-error", "skip")
    assert table.exit_code == 0 and len(table.stdout.splitlines()) == 5 and str(bad[0]) in table.stderr


def test_evaluate_on_error_fail_names_every_bad_file_and_skip_lists_them(constant_model, two_by_two):
    bad = _break(two_by_two, "a/x.png", "b/y.png", "b/z.png")
    failed = run("evaluate", "--model", constant_model, "--data", two_by_two)
    assert failed.exit_code == 1 and "3 images could not be read" in failed.stderr
    assert all(str(path) in failed.stderr for path in bad)
    skipped = run("evaluate", "--model", constant_model, "--data", two_by_two, "--on-error", "skip", "--json")
    assert skipped.exit_code == 0, skipped.stderr
    data = json.loads(skipped.stdout)
    assert data["n"] == 4 and [item["path"] for item in data["skipped"]] == [str(path) for path in bad]


def test_max_pixels_option_and_config_key_set_the_decompression_limit(constant_model, two_by_two, tmp_path):
    Image.new("RGB", (24, 20)).save(two_by_two / "a" / "big.png")  # 480 pixels; the others have 16
    for command in (
        ["predict", two_by_two, "--model", constant_model],
        ["evaluate", "--model", constant_model, "--data", two_by_two],
    ):
        refused = run(*command, "--max-pixels", "100")
        assert refused.exit_code == 1
        assert "big.png: image has 480 pixels, over the limit of 100 pixels" in refused.stderr
        assert run(*command, "--max-pixels", "480").exit_code == 0
    assert "89,478,485" in run("predict", "--help").stdout
    config = write_config(
        tmp_path / "c.yaml", data={"format": "folder", "path": str(two_by_two), "image_size": 8, "val_fraction": 0.0}
    )
    trained = run("train", "--config", config, "--set", "data.max_image_pixels=100", "--out", tmp_path / "r")
    assert trained.exit_code == 1 and "over the limit of 100 pixels" in trained.stderr


def test_evaluate_reports_balanced_accuracy_macro_f1_and_log_loss(constant_model, two_by_two):
    result = run("evaluate", "--model", constant_model, "--data", two_by_two, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    # Always 'a' on 2 a + 2 b: recalls 1 and 0; F1 a = 2/3, b = 0 (c is in neither, so not counted).
    assert data["accuracy"] == 0.5 and data["balanced_accuracy"] == 0.5
    assert data["macro_f1"] == pytest.approx(1 / 3)
    assert data["log_loss"] == pytest.approx((-2 * math.log(0.75) - 2 * math.log(0.25)) / 4)
    assert data["gate"] is None and "misclassified" not in data
    text = run("evaluate", "--model", constant_model, "--data", two_by_two).stdout
    assert "balanced accuracy  0.5000" in text and "macro F1           0.3333" in text
    assert f"log-loss           {data['log_loss']:.4f}" in text


@pytest.mark.parametrize(
    "metric, threshold, exit_code",
    [
        ("accuracy", "0.5", 0),
        ("accuracy", "0.51", 3),
        ("balanced_accuracy", "0.5", 0),
        ("macro_f1", "0.34", 3),
        ("macro_f1", "0.33", 0),
    ],
)
def test_quality_gate_has_its_own_exit_code_and_verdict(constant_model, two_by_two, metric, threshold, exit_code):
    result = run(
        "evaluate",
        "--model",
        constant_model,
        "--data",
        two_by_two,
        "--fail-under",
        threshold,
        "--metric",
        metric,
        "--json",
    )
    assert result.exit_code == exit_code, result.stderr
    gate = json.loads(result.stdout)["gate"]
    assert gate["metric"] == metric and gate["threshold"] == float(threshold)
    assert gate["passed"] is (exit_code == 0) and gate["value"] == pytest.approx(0.5 if metric != "macro_f1" else 1 / 3)
    if exit_code:
        assert f"error: {metric} " in result.stderr and f"is below --fail-under {threshold}" in result.stderr
    else:
        assert "gate passed" in result.stderr


def test_the_gate_exit_code_is_documented():
    assert "3 the --fail-under gate failed" in " ".join(run("evaluate", "--help").stdout.split())
    import mlpcli.cli.app

    assert "3 a failed quality gate" in mlpcli.cli.app.__doc__
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "`3` a failed quality gate" in readme


def test_saved_evaluation_lists_the_misclassified_files(constant_model, two_by_two, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("model.json", "weights.npz"):
        (run_dir / name).write_bytes((constant_model / name).read_bytes())
    result = run("evaluate", "--model", run_dir, "--data", two_by_two, "--save")
    assert result.exit_code == 0, result.stderr
    (saved,) = (run_dir / "evaluations").glob("*.json")
    report = json.loads(saved.read_text())
    expected = [
        {"path": str(path), "true_label": "b", "predicted_label": "a", "probability": pytest.approx(0.75)}
        for path in sorted((two_by_two / "b").glob("*.png"))
    ]
    assert report["misclassified"] == expected


def test_data_synth_help_explains_every_option():
    text = " ".join(run("data", "synth", "--help").stdout.split())
    assert "--n-per-class INTEGER RANGE Images to draw for each of the four shapes" in text
    assert "--seed INTEGER RANGE Random seed: the same seed draws the same images" in text


def test_shell_completion_is_documented_and_works():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert 'eval "$(_MLPCLI_COMPLETE=bash_source mlpcli)"' in readme
    result = CliRunner().invoke(cli, [], prog_name="mlpcli", env={"_MLPCLI_COMPLETE": "bash_source"})
    assert result.exit_code == 0 and "_mlpcli_completion()" in result.stdout
