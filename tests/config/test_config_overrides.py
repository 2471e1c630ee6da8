"""--set and --grid: values read like the file's, errors that name the argument (issue 12)."""

from __future__ import annotations

import logging

import pytest

from mlpcli.config import from_dict, grid_combinations, grid_configs, load_config, parse_grid
from mlpcli.errors import ConfigError


@pytest.fixture
def my_yaml(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("train:\n  lr: 0.5\n  epochs: 3\n")
    return path


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("train.lr=fast", "--set train.lr=fast: train.lr: must be a number > 0.0; got 'fast'"),
        ("train.lrr=1", "--set train.lrr=1: unknown key 'train.lrr'; did you mean 'train.lr'?"),
        ("model.hidden=[64, 0]", "--set model.hidden=[64, 0]: model.hidden[1]: must be an integer >= 1; got 0"),
        ("features=[{name: hog, cels: 4}]", "--set features=[{name: hog, cels: 4}]: unknown key 'features[0].cels'"),
        ("model=5", "--set model=5: model: must be a mapping, got 5"),
        ("extractor.init=random", "--set extractor.init=random: extractor: only used with mode: end_to_end"),
        ("train.lr.x=1", "--set train.lr.x=1: train.lr.x: train.lr is not a section"),
    ],
)
def test_a_set_error_names_the_set_argument_not_the_file(my_yaml, assignment, message):
    with pytest.raises(ConfigError) as info:
        load_config(my_yaml, ["seed=1", assignment, "train.epochs=4"])
    assert str(info.value).startswith(message), str(info.value)
    assert "my.yaml" not in str(info.value)


def test_the_last_set_of_a_key_is_the_one_named(my_yaml):
    with pytest.raises(ConfigError, match=r"^--set train.lr=-1: train.lr: must be"):
        load_config(my_yaml, ["train.lr=0.1", "train.lr=-1"])


def test_a_file_error_still_names_the_file_when_overrides_are_fine(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("train:\n  lr: fast\n")
    with pytest.raises(ConfigError, match=r"^.*my.yaml: train.lr: must be a number > 0.0; got 'fast'"):
        load_config(path, ["train.epochs=2", "model.hidden=[8]"])


def test_a_set_may_repair_a_file_that_is_invalid_on_its_own(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("data: {val_fraction: 0}\ntrain: {patience: 3}\n")
    assert load_config(path, ["data.val_fraction=0.2"]).data.val_fraction == 0.2


def test_grid_values_are_read_as_yaml_1_2_and_keep_brackets_together():
    grid = parse_grid(["model.hidden=[64],[128,64]", "train.lr=1e-2,1e-3"])
    assert grid == [("model.hidden", [[64], [128, 64]]), ("train.lr", [0.01, 0.001])]
    assert len(grid_combinations(grid)) == 4 and grid_combinations([]) == [{}]


def test_repeated_grid_values_are_trained_once_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="mlpcli"):
        grid = parse_grid(["train.lr=0.1,0.01,0.10,0.1", "model.hidden=[64],[32],[64]"])
    assert grid == [("train.lr", [0.1, 0.01]), ("model.hidden", [[64], [32]])]
    assert "--grid train.lr=0.1,0.01,0.10,0.1: 0.1, 0.1 given more than once" in caplog.text
    assert "--grid model.hidden=[64],[32],[64]: [64] given more than once" in caplog.text


def test_values_of_different_types_are_not_merged(caplog):
    with caplog.at_level(logging.WARNING, logger="mlpcli"):
        assert parse_grid(["train.nesterov=true,1"]) == [("train.nesterov", [True, 1])]
    assert caplog.text == ""


@pytest.mark.parametrize(
    "assignments, message",
    [
        (["train.lr"], "expected KEY=V1,V2"),
        (["train.lr="], "expected KEY=V1,V2"),
        (["train.lr=[1,"], "cannot read the values"),
        (["train.lr=2001-02-30"], "cannot read the values"),
        (["train.lr=0.1", "train.lr=0.2"], "--grid train.lr=0.2: train.lr is also in --grid train.lr=0.1"),
    ],
)
def test_malformed_grids_are_config_errors(assignments, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        parse_grid(assignments)


@pytest.mark.parametrize(
    "assignments, message",
    [
        (
            ["train.epochs=2,3", "train.lr=0.1,fast"],
            "--grid train.lr=0.1,fast: train.lr: must be a number > 0.0; got 'fast'",
        ),
        (["train.lrr=0.1,0.2"], "--grid train.lrr=0.1,0.2: unknown key 'train.lrr'; did you mean 'train.lr'?"),
        (
            ["model.hidden=[8],[0]", "train.lr=0.1"],
            "--grid model.hidden=[8],[0]: model.hidden[0]: must be an integer >= 1",
        ),
    ],
)
def test_a_grid_error_names_the_grid_argument(assignments, message):
    with pytest.raises(ConfigError) as info:
        grid_configs(from_dict({}), assignments)
    assert str(info.value).startswith(message), str(info.value)


def test_grid_configs_gives_one_validated_config_per_combination():
    combos, configs = grid_configs(from_dict({}), ["train.lr=1e-2,1e-3", "model.hidden=[8]"])
    assert combos == [{"train.lr": 0.01, "model.hidden": [8]}, {"train.lr": 0.001, "model.hidden": [8]}]
    assert [(c.train.lr, c.model.hidden) for c in configs] == [(0.01, (8,)), (0.001, (8,))]


def test_a_repeated_grid_value_gives_one_combination():
    combos, configs = grid_configs(from_dict({}), ["train.lr=0.1,0.1"])
    assert combos == [{"train.lr": 0.1}] and len(configs) == 1


def test_the_cli_names_the_set_argument(my_yaml):
    from click.testing import CliRunner

    from mlpcli.cli import cli

    result = CliRunner().invoke(cli, ["train", "--config", str(my_yaml), "--set", "train.lr=fast", "--print-config"])
    assert result.exit_code == 2
    assert result.stderr == "error: --set train.lr=fast: train.lr: must be a number > 0.0; got 'fast'\n"
