"""How a config key is declared and read: ``leaf`` (a checked value), ``node`` (a nested section)
and ``build`` (raw mapping -> section dataclass, unknown keys refused with a "did you mean").

Every section uses these, the ``search:`` section too, so each key has one default, one check
and one doc line, and the reference (``config.reference``) is generated from them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any

from .. import checks as c
from ..errors import ConfigError


def leaf(default, check, doc: str, required: bool = False):
    """A config key: its default, the check that validates it, and one line saying what it means
    (the config reference, ``mlpcli config reference``, is generated from these). A ``required``
    key is checked even when it is missing (its check names it); its default is a placeholder."""
    return field(default=default, metadata={"check": check, "doc": doc, "required": required})


def node(cls):
    """A section: a nested dataclass; its docstring is the section's description."""
    return field(default_factory=cls)


def build(cls, raw: Any, prefix: str):
    """``cls`` from the raw mapping (as YAML gives it), every key checked; ``prefix`` is the
    section's key path with a trailing dot (``"train."``), for the messages."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: must be a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise c.unknown_key(prefix, str(key), fields, _fitting(fields, raw[key]))
    values = {}
    for name, f in fields.items():
        if name not in raw and not f.metadata.get("required"):
            continue
        key = f"{prefix}{name}"
        if "check" in f.metadata:
            values[name] = f.metadata["check"](raw.get(name), key)
        else:
            values[name] = build(f.default_factory, {} if raw[name] is None else raw[name], f"{key}.")
    return cls(**values)


def _fitting(fields: dict, value) -> list[str]:
    """The keys among ``fields`` that take a value of ``value``'s kind: sections (and mapping-valued
    keys) for a mapping, the other keys for anything else."""

    def takes_mapping(f) -> bool:
        return "check" not in f.metadata or "mapping" in getattr(f.metadata["check"], "kind", "")

    return [name for name, f in fields.items() if takes_mapping(f) == isinstance(value, dict)]
