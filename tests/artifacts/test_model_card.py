"""model_card.md: written by train, kfold and search; refreshed by evaluate --save."""

from __future__ import annotations

from click.testing import CliRunner
from conftest import write_config, write_image_folder

from mlpcli.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def card(run_dir) -> str:
    return (run_dir / "model_card.md").read_text(encoding="utf-8")


def test_train_writes_a_card_with_data_config_scores_input_and_limits(tmp_path):
    config = write_config(tmp_path / "c.yaml", features=["hog", "color_hist"])
    assert run("train", "--config", config, "--out", tmp_path / "run", "-q").exit_code == 0
    text = card(tmp_path / "run")
    for heading in (
        "## Data",
        "## Configuration",
        "## Validation",
        "## Last saved evaluation",
        "## Input",
        "## Intended use and known limits",
    ):
        assert heading in text
    assert "fingerprint: `" in text and "images per class: circle 30" in text
    assert "- val: accuracy" in text and "16 rows x 16 cols" in text and "bilinear" in text
    assert "HOG ignores color" in text and "color histograms ignore where pixels are" in text
    assert "raw pixels" not in text  # only the run's own features' limits


def test_the_card_gives_the_runs_own_resize_and_color(tmp_path):
    """Not the squash of every model: a pad + gray run says it pads (with its fill) and is gray."""
    config = write_config(tmp_path / "c.yaml", data={"resize": "pad", "pad_fill": 128, "color": "gray"})
    assert run("train", "--config", config, "--out", tmp_path / "run", "-q").exit_code == 0
    text = card(tmp_path / "run")
    assert "resized to fit inside the input size, the rest filled with gray level 128" in text
    assert "gray (ITU-R 601 luma) in all three channels" in text and "aspect ratio not kept" not in text


def test_kfold_card_gives_mean_and_std(tmp_path):
    config = write_config(tmp_path / "c.yaml")
    assert run("kfold", "--config", config, "--k", 3, "--out", tmp_path / "run", "-q").exit_code == 0
    assert "3-fold accuracy:" in card(tmp_path / "run") and "+-" in card(tmp_path / "run")


def test_search_writes_a_card(tmp_path):
    space = {"train.lr": {"choice": [0.05, 0.1]}}
    config = write_config(
        tmp_path / "c.yaml", data={"n_per_class": 12}, train={"epochs": 1}, search={"strategy": "grid", "space": space}
    )
    result = run("search", "--config", config, "--k", 2, "--out", tmp_path / "run", "-q")
    assert result.exit_code == 0, result.stderr
    assert "search: 2 trials" in card(tmp_path / "run") and "2-fold accuracy" in card(tmp_path / "run")


def test_evaluate_save_refreshes_the_card(tmp_path):
    config = write_config(tmp_path / "c.yaml", data={"image_size": [20, 24]})
    assert run("train", "--config", config, "--out", tmp_path / "run", "-q").exit_code == 0
    assert "none yet" in card(tmp_path / "run")
    data = write_image_folder(tmp_path / "shapes", n_per_class=2, classes=("circle", "square", "triangle", "cross"))
    result = run("evaluate", "--model", tmp_path / "run", "--data", data, "--save", "-q")
    assert result.exit_code == 0, result.stderr
    assert "none yet" not in card(tmp_path / "run") and f"`{data}`" in card(tmp_path / "run")
    assert "on 8 images" in card(tmp_path / "run")
