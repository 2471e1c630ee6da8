"""The config reference is generated from the config classes and docs/config.md is its output
(issue 12, item 17)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from click.testing import CliRunner

from mlpcli.cli import cli
from mlpcli.config import Config, from_dict, parse_yaml, to_dict
from mlpcli.config.reference import REGENERATE, config_reference_markdown
from mlpcli.features import FEATURES

ROOT = Path(__file__).parent.parent.parent
REFERENCE = config_reference_markdown()


def _rows() -> dict[str, list[str]]:
    """{key: [type, default, allowed, meaning]} from the reference's tables."""
    rows = {}
    for line in REFERENCE.splitlines():
        match = re.match(r"\| `([^`]+)` \| (.*) \|$", line)
        if match:
            rows.setdefault(match.group(1), []).append([cell.strip() for cell in match.group(2).split(" | ")])
    return rows


def _leaf_paths(data, prefix=""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _leaf_paths(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_docs_config_md_is_the_generated_reference():
    written = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert written == REFERENCE, f"docs/config.md is out of date; regenerate it with: {REGENERATE}"


def test_the_cli_prints_the_reference():
    result = CliRunner().invoke(cli, ["config", "reference"])
    assert result.exit_code == 0 and result.stdout == REFERENCE
    help_text = CliRunner().invoke(cli, ["config", "reference", "--help"]).stdout
    assert "mlpcli config reference > docs/config.md" in help_text


def test_every_key_is_listed_once_with_its_actual_default():
    rows = _rows()
    keys = set(_leaf_paths(to_dict(Config()))) | set(_leaf_paths(to_dict(Config(mode="end_to_end"))))
    for key in keys:
        assert len(rows.get(key, [])) == 1, f"{key} is not in the reference exactly once"
        *parents, leaf = key.split(".")
        default = Config()
        for part in [*parents, leaf]:
            default = getattr(default, part)
        if isinstance(default, (bool, int, float, str)):
            shown = {True: "true", False: "false"}.get(default, default) if isinstance(default, bool) else default
            assert rows[key][0][1] == f"`{shown}`", (
                f"{key}: the reference says {rows[key][0][1]}, the default is {default!r}"
            )


def test_every_key_has_a_type_allowed_values_and_a_meaning():
    for key, [[kind, _, allowed, meaning]] in _rows().items():
        if kind != "section":
            assert kind and allowed and len(meaning) > 10, key


def test_choices_come_from_the_registries():
    rows = _rows()
    assert rows["model.activation"][0][2] == "one of relu, sigmoid, tanh"
    assert rows["mode"][0][2] == "one of features, end_to_end"
    for name in FEATURES:
        assert f"### `{name}`" in REFERENCE
    for param in {p for kind in FEATURES.values() for p in kind.defaults}:
        assert f"features[].{param}" in rows, param
    for key in ("extractor.blocks[].filters", "train.augment.flip", "model.bias", "kfold.holdout"):
        assert key in rows, key


def test_every_feature_parameter_and_section_has_a_meaning():
    for name, kind in FEATURES.items():
        assert kind.doc, name
        assert set(kind.param_docs) == set(kind.defaults), name
    for f in dataclasses.fields(Config):
        if "check" not in f.metadata:
            factory = f.default_factory
            assert factory.__doc__ and not factory.__doc__.startswith(factory.__name__ + "(")


def _readme_yaml_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```yaml\n(.*?)```", section, re.S)


def test_readme_points_at_the_reference_and_its_examples_are_valid_configs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/config.md" in readme
    blocks = _readme_yaml_blocks()
    assert len(blocks) >= 2
    configs = [from_dict(parse_yaml(block, "README.md")) for block in blocks]
    assert any(config.mode == "end_to_end" for config in configs)
