"""Every shipped config loads and validates (none of them may rot), and every config an example
names (README, `--help`) is a shipped one that its command can run."""

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mlpcli.cli import cli
from mlpcli.config import load_config

ROOT = Path(__file__).parent.parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
#: ``mlpcli <command> ... --config <file>.yaml`` in an example line.
EXAMPLE = re.compile(r"mlpcli ([a-z]+)\b[^\n`]*?--config (\S+\.yaml)")


def test_configs_exist():
    names = {path.stem for path in CONFIGS}
    assert {"quickstart", "cifar10-raw", "cifar10-hog", "cifar10-e2e", "cifar10-python", "cifar10-hog-search"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_is_valid(path):
    config = load_config(path)
    assert config.seed is not None


def _help_texts(command: click.Command = cli, words: tuple = ()):
    """(command words, --help text) of every command and subcommand."""
    result = CliRunner().invoke(cli, [*words, "--help"])
    assert result.exit_code == 0, (words, result.output)
    yield words, result.output
    for name, sub in getattr(command, "commands", {}).items():
        yield from _help_texts(sub, (*words, name))


def _examples() -> list[tuple[str, str, str]]:
    """(where, command, config path) of every example naming a config file."""
    texts = [("README.md", (ROOT / "README.md").read_text(encoding="utf-8"))]
    texts += [(f"mlpcli {' '.join(words)} --help", text) for words, text in _help_texts()]
    return [(where, command, path) for where, text in texts for command, path in EXAMPLE.findall(text)]


def test_every_config_an_example_names_is_shipped_and_fits_its_command():
    """The search --help example named a config without a search: section, so it exited 2; and
    the README toured a my-search.yaml nobody has. Fails on either."""
    examples = _examples()
    commands = {command for _, command, _ in examples}
    assert {"train", "kfold", "search", "gradcheck", "features"} <= commands  # the scan found them
    for where, command, path in examples:
        assert path.startswith("configs/") and (ROOT / path).is_file(), f"{where}: {path} is not shipped"
        config = load_config(ROOT / path)
        if command == "search":
            assert config.search is not None, f"{where}: {path} has no search: section for mlpcli search"
