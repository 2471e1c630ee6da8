"""How config text becomes values: YAML 1.2 numbers, duplicate keys, encodings (issue 12)."""

from __future__ import annotations

import math

import pytest
import yaml

from mlpcli.config import Config, apply_override, dump_yaml, from_dict, load_config, parse_yaml
from mlpcli.errors import ConfigError

FLOATS = {
    "1e-3": 1e-3,
    "1e9": 1e9,
    "-1E-3": -1e-3,
    ".5": 0.5,
    "5.": 5.0,
    "+1.5e+3": 1500.0,
    "1.0e-05": 1e-5,
    "2.5": 2.5,
    "-0.25": -0.25,
    "1E3": 1000.0,
    "+.5": 0.5,
}


@pytest.mark.parametrize("text, number", FLOATS.items())
def test_numbers_read_as_yaml_1_2_floats(text, number):
    value = parse_yaml(f"x: {text}\n", "c.yaml")["x"]
    assert type(value) is float and value == number


@pytest.mark.parametrize("text, value", [("3", 3), ("-7", -7), ("+2", 2), ("0", 0), ("0x10", 16)])
def test_integers_stay_integers(text, value):
    parsed = parse_yaml(f"x: {text}\n", "c.yaml")["x"]
    assert type(parsed) is int and parsed == value


@pytest.mark.parametrize("text", ["1e", "e3", "1e-", ".", "-.", "1.2.3", "1e3e4", "0x1g", "inf", "nan"])
def test_words_that_only_look_like_numbers_stay_strings(text):
    assert parse_yaml(f"x: {text}\n", "c.yaml")["x"] == text


def test_inf_and_nan_still_parse_and_are_refused_by_the_checks():
    raw = parse_yaml("a: .inf\nb: -.inf\nc: .nan\n", "c.yaml")
    assert raw["a"] == math.inf and raw["b"] == -math.inf and math.isnan(raw["c"])
    with pytest.raises(ConfigError, match="train.lr: must be a number > 0.0; got inf"):
        from_dict(parse_yaml("train: {lr: .inf}\n", "c.yaml"))


def test_the_global_safe_loader_is_left_as_it_was():
    parse_yaml("x: 1e-3\n", "c.yaml")
    assert yaml.safe_load("x: 1e-3") == {"x": "1e-3"}


def test_learning_rates_in_exponent_form_load_from_a_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  weight_decay: 5e-4\ntrain:\n  lr: 1e-3\n  gamma: .5\n")
    config = load_config(path)
    assert config.train.lr == 1e-3 and config.model.weight_decay == 5e-4 and config.train.gamma == 0.5


@pytest.mark.parametrize(
    "assignment, value",
    [("train.lr=1e-3", 1e-3), ("train.lr=-1E-3", None), ("train.lr=5.", 5.0), ("train.lr=+1.5e+3", 1500.0)],
)
def test_set_reads_yaml_1_2_numbers(assignment, value):
    raw: dict = {}
    apply_override(raw, assignment)
    if value is None:
        with pytest.raises(ConfigError, match=r"must be a number > 0.0; got -0.001$"):
            from_dict(raw)
    else:
        assert from_dict(raw).train.lr == value


@pytest.mark.parametrize("lr", [1e-3, 1e-7, 1e20, 123456789.0, 0.1])
def test_dumped_floats_load_back_as_floats(tmp_path, lr):
    config = from_dict({"train": {"lr": lr}})
    path = tmp_path / "config.yaml"
    path.write_text(dump_yaml(config))
    assert load_config(path) == config


@pytest.mark.parametrize("name", ["1e3", ".5", "5.", "-1E-3"])
def test_strings_that_read_as_numbers_are_quoted_when_dumped(tmp_path, name):
    config = from_dict({"output": {"dir": name}, "data": {"cache_dir": name}})
    path = tmp_path / "config.yaml"
    path.write_text(dump_yaml(config))
    assert load_config(path) == config
    assert load_config(path).output.dir == name


def test_defaults_round_trip_through_a_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(dump_yaml(Config()))
    assert load_config(path) == Config()


@pytest.mark.parametrize(
    "text, key, lines",
    [
        ("train:\n  lr: 0.5\nseed: 1\ntrain:\n  epochs: 3\n", "'train'", (1, 4)),
        ("train:\n  lr: 0.5\n  epochs: 3\n  lr: 0.1\n", "'lr'", (2, 4)),
        ("features:\n  - name: hog\n    cell: 4\n    cell: 8\n", "'cell'", (3, 4)),
        ("model: {hidden: [64], hidden: [32]}\n", "'hidden'", (1, 1)),
    ],
)
def test_a_duplicate_key_at_any_level_names_the_key_and_both_lines(text, key, lines):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "c.yaml")
    message = str(info.value)
    assert message.startswith(
        f"c.yaml: invalid YAML at line {lines[1]}: duplicate key {key}, first at line {lines[0]};"
    ), message


def test_a_duplicate_key_in_a_file_is_a_config_error_naming_the_file(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("train:\n  lr: 0.5\ntrain:\n  epochs: 3\n")
    with pytest.raises(ConfigError, match=r"my.yaml: invalid YAML at line 3: duplicate key 'train', first at line 1"):
        load_config(path)


def test_merge_keys_may_be_overridden_without_a_duplicate_error():
    raw = parse_yaml("base: &b {lr: 0.1, epochs: 3}\ntrain:\n  <<: *b\n  lr: 0.5\n", "c.yaml")
    assert raw["train"] == {"lr": 0.5, "epochs": 3}


def test_a_config_file_that_is_not_utf8_names_the_file_and_the_byte(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"# caf\xe9\nseed: 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: not UTF-8 text: byte 5 (0xe9)")
    assert info.value.exit_code == 2
