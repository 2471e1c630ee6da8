"""The config reference, generated from the config classes: every key with its type, default,
allowed values and meaning. ``mlpcli config reference`` prints it; docs/config.md is its output.

Nothing here describes a key by hand. The meanings sit next to the fields (``doc`` in a field's
metadata, a section dataclass's docstring, ``FeatureKind.doc`` and ``param_docs``); the types and
allowed values come from the checks (``kind`` and ``expected``, the words the error messages use),
whose choices are the registries' keys (``ACTIVATIONS``, ``LOSSES``, ``FEATURES`` ...).
"""

from __future__ import annotations

import dataclasses

from ..features import FEATURES, FeatureConfig
from .load import dump_yaml
from .schema import Config

REGENERATE = "mlpcli config reference > docs/config.md"

_HEADER = f"""# Configuration reference

Generated from the config classes by `mlpcli config reference`; do not edit by hand. After a
change to the config, regenerate it with `{REGENERATE}`.

A config is a YAML file with the sections below. Every key is optional and has the default shown;
unknown keys and bad values are errors that name the key, the allowed values and the value given.
`--set KEY=VALUE` overrides any key (`--set train.lr=1e-3`, `--set model.hidden=[256,128]`),
`mlpcli kfold --grid KEY=V1,V2` cross-validates several values, and `--print-config` prints the
resolved config. Numbers are read as YAML 1.2 reads them (`1e-3`, `.5` and `5.` are numbers), and
a leading `~` in a path is your home folder.
"""

_COLUMNS = "| key | type | default | allowed values | meaning |\n|---|---|---|---|---|"


def config_reference_markdown() -> str:
    """The whole reference as Markdown: a top-level table, then one table per section."""
    fields = dataclasses.fields(Config)
    top = [f for f in fields if not _is_section(f) and f.name != "features" and "section" not in f.metadata]
    parts = [_HEADER, _section("Top level", Config.__doc__, _rows(top, ""))]
    for f in fields:
        if f.name == "features":
            parts.append(_features(f))
        elif "section" in f.metadata:
            parts.append(_optional_section(f))
        elif _is_section(f):
            section = _section_class(f)
            parts.append(_section(f"`{f.name}`", section.__doc__, _rows(dataclasses.fields(section), f"{f.name}.")))
    parts.append(
        f"## All defaults\n\nWhat `--print-config` shows for an empty config file (with `mode: "
        f"end_to_end`, an `extractor` section takes the place of `features`):\n\n"
        f"```yaml\n{dump_yaml(Config())}```\n"
    )
    return "\n".join(parts)


def _is_section(f) -> bool:
    return "check" not in f.metadata


def _section_class(f: dataclasses.Field) -> type:
    """The dataclass a section field holds (made by its ``default_factory``)."""
    factory = f.default_factory
    assert isinstance(factory, type) and dataclasses.is_dataclass(factory), f.name
    return factory


def _section(title: str, doc: str | None, rows: list[str]) -> str:
    return f"## {title}\n\n{_sentence(doc)}\n\n{_COLUMNS}\n" + "\n".join(rows) + "\n"


def _rows(fields, prefix: str) -> list[str]:
    """One table row per key; a nested section adds a row for itself, then its keys."""
    rows = []
    for f in fields:
        key = f"{prefix}{f.name}"
        if _is_section(f):
            rows.append(_row(key, "section", None, "", f.default_factory.__doc__, show_default=False))
            rows += _rows(dataclasses.fields(f.default_factory), f"{key}.")
            continue
        check = f.metadata["check"]
        rows.append(
            _row(
                key,
                check.kind,
                f.default,
                check.expected,
                f.metadata["doc"],
                show_default=not f.metadata.get("required"),
            )
        )
        if "item" in f.metadata:  # a list of mappings: each item's keys
            rows += _rows(dataclasses.fields(f.metadata["item"]), f"{key}[].")
    return rows


def _row(key, kind, default, expected, doc, show_default=True) -> str:
    cells = [f"`{key}`", kind, f"`{_value(default)}`" if show_default else "", expected, _sentence(doc)]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _features(f) -> str:
    """The features list, then each extractor with its parameters."""
    check = f.metadata["check"]
    parts = [
        f"## `features`\n\nEach item is an extractor's name "
        f"(`- hog`) or a mapping with `name` and any of its parameters (`- {{name: hog, cell: 4}}`); "
        f"parameters left out take the defaults below.\n\n{_COLUMNS}\n"
        + _row("features", check.kind, f.default, check.expected, f.metadata["doc"])
        + "\n"
    ]
    for name, kind in FEATURES.items():
        rows = [
            _row(
                f"features[].{param}",
                kind.checks[param].kind,
                default,
                kind.checks[param].expected,
                kind.param_docs.get(param, ""),
            )
            for param, default in kind.defaults.items()
        ]
        table = f"\n\n{_COLUMNS}\n" + "\n".join(rows) if rows else " No parameters."
        parts.append(f"### `{name}`\n\n{_capitalized(_sentence(kind.doc))}{table}\n")
    return "\n".join(parts)


def _optional_section(f) -> str:
    """A section that is absent by default (``search``): its own row, then its keys."""
    check = f.metadata["check"]
    rows = [_row(f.name, check.kind, f.default, check.expected, f.metadata["doc"])]
    rows += _rows(dataclasses.fields(f.metadata["section"]), f"{f.name}.")
    return _section(f"`{f.name}`", f.metadata["doc"], rows)


def _sentence(text: str | None) -> str:
    """A docstring or doc as one line of Markdown ending in a full stop."""
    text = " ".join((text or "").split()).replace("``", "`")
    return text if not text or text.endswith(".") else text + "."


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _value(value) -> str:
    """A default as it would be written in YAML flow style."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, FeatureConfig):
        return value.name if not value.params else _value({"name": value.name, **value.params})
    if dataclasses.is_dataclass(value):
        return _value({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    return str(value)
