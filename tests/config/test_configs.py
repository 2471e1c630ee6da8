"""Every shipped config loads and validates (none of them may rot)."""

from pathlib import Path

import pytest

from mlpcli.config import load_config

CONFIGS = sorted((Path(__file__).parent.parent.parent / "configs").glob("*.yaml"))


def test_configs_exist():
    names = {path.stem for path in CONFIGS}
    assert {"quickstart", "cifar10-raw", "cifar10-hog", "cifar10-e2e", "cifar10-python"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_is_valid(path):
    config = load_config(path)
    assert config.seed is not None
