"""Path keys expand ``~`` like a shell (issue 12, item 10)."""

from __future__ import annotations

import os

import pytest

from mlpcli.checks import path
from mlpcli.config import dump_yaml, from_dict, load_config
from mlpcli.errors import ConfigError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return str(tmp_path / "home")


def test_every_path_key_expands_the_home_folder(home, tmp_path):
    config_file = tmp_path / "c.yaml"
    config_file.write_text("data:\n  format: folder\n  path: ~/images\n  cache_dir: ~/.cache/mlpcli\n")
    config = load_config(config_file, ["output.dir=~/runs"])
    assert config.data.path == os.path.join(home, "images")
    assert config.data.cache_dir == os.path.join(home, ".cache/mlpcli")
    assert config.output.dir == os.path.join(home, "runs")
    assert "~" not in dump_yaml(config)


def test_a_bare_tilde_is_the_home_folder_and_other_tildes_stay(home):
    config = from_dict({"output": {"dir": "'~'"}, "data": {"cache_dir": "runs/~x"}})
    assert config.output.dir == "'~'" and config.data.cache_dir == "runs/~x"
    assert path("~", "output.dir") == home


def test_path_keys_still_refuse_non_strings():
    with pytest.raises(ConfigError, match=r"output.dir: must be a non-empty string; got None"):
        from_dict({"output": {"dir": None}})
    with pytest.raises(ConfigError, match=r"data.cache_dir: must be a non-empty string; got 3"):
        from_dict({"data": {"cache_dir": 3}})
    assert from_dict({"data": {"path": None}}).data.path is None
