import dataclasses

import pytest

from mlpcli.config import Config, apply_override, dump_yaml, from_dict, load_config, parse_yaml
from mlpcli.errors import ConfigError


def test_defaults_load_from_empty_mapping():
    config = from_dict({})
    assert config == Config()
    assert config.model.activation == "relu" and config.train.batch_size == 128


def test_bad_value_names_key_allowed_values_and_value():
    with pytest.raises(ConfigError) as info:
        from_dict({"model": {"activation": "rleu"}})
    assert str(info.value) == "model.activation: must be one of relu, sigmoid, tanh; got 'rleu'"


def test_unknown_key_suggests_closest():
    with pytest.raises(ConfigError, match=r"unknown key 'train.lerning_rate'; allowed: epochs, batch_size, lr"):
        from_dict({"train": {"lerning_rate": 0.1}})
    with pytest.raises(ConfigError, match=r"unknown key 'model.activaton'; did you mean 'model.activation'\?"):
        from_dict({"model": {"activaton": "relu"}})


def test_unknown_section_and_feature_param_are_rejected():
    with pytest.raises(ConfigError, match="unknown key 'modell'; did you mean 'model'"):
        from_dict({"modell": {}})
    with pytest.raises(ConfigError, match=r"features\[0\]\.cels.*did you mean 'features\[0\]\.cell'"):
        from_dict({"features": [{"name": "hog", "cels": 8}]})


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"train": {"lr": -1}}, "train.lr"),
        ({"train": {"lr": "fast"}}, "train.lr"),
        ({"train": {"epochs": 0}}, "train.epochs"),
        ({"train": {"epochs": True}}, "train.epochs"),
        ({"train": {"batch_size": "half"}}, "train.batch_size"),
        ({"model": {"hidden": [64, 0]}}, "model.hidden[1]"),
        ({"model": {"hidden": 64}}, "model.hidden"),
        ({"data": {"val_fraction": 1.5}}, "data.val_fraction"),
        ({"data": {"image_size": [32]}}, "data.image_size"),
        ({"features": [{"name": "sift"}]}, "features[0].name"),
        ({"features": [{"name": "hog", "block_norm": "L3"}]}, "features[0].block_norm"),
        ({"kfold": {"k": 1}}, "kfold.k"),
        ({"model": "big"}, "model"),
    ],
)
def test_every_bad_value_names_its_key(raw, key):
    with pytest.raises(ConfigError) as info:
        from_dict(raw)
    assert str(info.value).startswith(f"{key}:")


def test_batch_size_full_and_image_size_int():
    config = from_dict({"train": {"batch_size": "full"}, "data": {"image_size": 24}})
    assert config.train.batch_size == "full"
    assert config.data.image_size == (24, 24)


def test_features_accept_names_and_mappings_and_fill_defaults():
    config = from_dict({"features": ["raw", {"name": "hog", "cell": 4}, {"name": "color_hist"}]})
    names = [f.name for f in config.features]
    assert names == ["raw", "hog", "color_hist"]
    assert config.features[1].params == {"orientations": 9, "cell": 4, "block": 2, "block_norm": "L2-Hys"}
    assert config.features[2].params == {"space": "hsv", "bins": 10}


def test_end_to_end_refuses_features_and_features_mode_refuses_extractor():
    with pytest.raises(ConfigError, match="features: must not be set when mode is end_to_end"):
        from_dict({"mode": "end_to_end", "features": ["raw"]})
    with pytest.raises(ConfigError, match="extractor: only used with mode: end_to_end"):
        from_dict({"extractor": {"init": "random"}})
    config = from_dict({"mode": "end_to_end", "extractor": {"blocks": [{"filters": 8, "kernel": 3, "pool": 2}]}})
    assert config.extractor.blocks[0].filters == 8


@pytest.mark.parametrize("mode", [{}, {"features": ["raw"]}, {"features": [{"name": "hog"}]}, {"mode": "end_to_end"}])
def test_augment_is_accepted_in_every_mode(mode):
    """Issue 25: augmentation works in every mode (it was refused outside end_to_end, issue 20)."""
    augment = {"flip": True, "crop_padding": 2, "brightness": 0.2, "contrast": 0.3, "erase": 0.5, "copies": 3}
    config = from_dict({**mode, "train": {"augment": augment}})
    assert dataclasses.asdict(config.train.augment) == augment


@pytest.mark.parametrize(
    "key, value, allowed",
    [("brightness", 1.5, "<= 1"), ("contrast", -0.1, ">= 0"), ("erase", 2, "<= 1"), ("copies", 0, ">= 1")],
)
def test_augment_values_are_checked(key, value, allowed):
    with pytest.raises(ConfigError, match=f"train.augment.{key}: .*{allowed}"):
        from_dict({"train": {"augment": {key: value}}})


def test_overrides_are_yaml_typed_and_create_sections():
    raw = {"train": {"lr": 0.1}}
    apply_override(raw, "train.lr=0.5")
    apply_override(raw, "model.hidden=[64, 32]")
    apply_override(raw, "train.nesterov=true")
    config = from_dict(raw)
    assert config.train.lr == 0.5 and config.model.hidden == (64, 32) and config.train.nesterov is True


@pytest.mark.parametrize("bad", ["train.lr", "=3", "train.lr.x=1"])
def test_malformed_override_is_a_config_error(bad):
    raw = {"train": {"lr": 0.1}}
    with pytest.raises(ConfigError):
        apply_override(raw, bad)
        from_dict(raw)


def test_load_config_names_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  loss: hinge\n")
    with pytest.raises(ConfigError, match=r"c.yaml: model.loss: must be one of softmax, squared; got 'hinge'"):
        load_config(path)
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(tmp_path / "missing.yaml")
    assert "did you mean" not in str(info.value)
    with pytest.raises(ConfigError, match=f"c.yml; did you mean {tmp_path / 'c.yaml'}"):
        load_config(tmp_path / "c.yml")


def test_invalid_yaml_and_non_mapping_top_level():
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        parse_yaml("model: [unclosed\n", "x.yaml")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_yaml("- a\n- b\n", "x.yaml")


def test_dump_round_trips(tmp_path):
    config = from_dict({"features": [{"name": "hog", "cell": 4}], "train": {"batch_size": "full"}})
    assert from_dict(parse_yaml(dump_yaml(config), "dump")) == config
    e2e = from_dict({"mode": "end_to_end"})
    assert from_dict(parse_yaml(dump_yaml(e2e), "dump")) == e2e


def test_patience_needs_validation_split():
    with pytest.raises(ConfigError, match="train.patience"):
        from_dict({"train": {"patience": 3}, "data": {"val_fraction": 0}})


def test_unknown_key_suggests_the_close_key_that_takes_its_value():
    """``modle:`` with a mapping suggested ``mode``, whose fix is a second error (issue 21 item 8;
    failed before ``_fitting``, verified)."""
    with pytest.raises(ConfigError, match=r"unknown key 'modle'; did you mean 'model'\?"):
        from_dict({"modle": {"hidden": [64]}})
    with pytest.raises(ConfigError, match=r"unknown key 'modle'; did you mean 'mode'\?"):
        from_dict({"modle": "end_to_end"})
    with pytest.raises(ConfigError, match=r"unknown key 'serch'; did you mean 'search'\?"):
        from_dict({"serch": {"strategy": "grid"}})
