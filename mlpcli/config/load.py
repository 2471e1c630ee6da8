"""Reading and writing configs: the only module that knows YAML.

Files, ``--set`` and ``--grid`` values are all read here, numbers as YAML 1.2 reads them; an error
names where the bad value came from (the file, or the ``--set``/``--grid`` argument).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from .. import checks as c
from ..errors import ConfigError
from ..progress import log
from .schema import Config, from_dict, to_dict


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Read YAML at ``path`` (or start from defaults), apply ``--set key=value`` overrides, validate.

    An error names where the bad value came from: the ``--set`` argument that set the key at
    fault (``--set train.lr=fast: train.lr: must be ...``), else the file.
    """
    raw = {} if path is None else _read_config_file(Path(path))
    for assignment in overrides:
        apply_override(raw, assignment)
    try:
        return from_dict(raw)
    except ConfigError as exc:
        source = _blame(str(exc), overrides, "--set") or ("" if path is None else f"{path}: ")
        raise ConfigError(f"{source}{exc}") from None


def _read_config_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}{_similar_file(path)}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text: byte {exc.start} ({exc.object[exc.start]:#04x}) cannot "
            f"be decoded; save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse_yaml(text, str(path))


def _similar_file(path: Path) -> str:
    """``; did you mean configs/quickstart.yaml?`` for a near miss in the same folder, else ""."""
    import difflib

    try:
        names = [p.name for p in path.parent.iterdir() if p.is_file()]
    except OSError:
        return ""
    close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.75)
    return f"; did you mean {path.parent / close[0]}?" if close else ""


def _blame(message: str, assignments, option: str) -> str:
    """``"--set a.b=v: "`` for the last ``option`` argument that set the key ``message`` is about
    (the key itself, a key inside it, or its section), else "". Config messages start with the
    key they are about (``train.lr: ...``) or say ``unknown key 'train.lrr'``."""
    unknown = re.match(r"unknown key '([^']*)'", message)
    named = unknown.group(1) if unknown else message.partition(": ")[0]
    for assignment in reversed(list(assignments)):
        key = assignment.partition("=")[0].strip()
        if named == key or named.startswith((f"{key}.", f"{key}[")) or key.startswith(f"{named}."):
            return _argument(option, assignment)
    return ""


def _argument(option: str, assignment: str) -> str:
    """``"--set train.lr=fast: "``, cut short for a pasted megabyte."""
    shown = assignment if len(assignment) <= 100 else assignment[:100] + "..."
    return f"{option} {shown}: "


# YAML 1.2 core schema floats: a dot or an exponent makes a float (``1e-3``, ``.5``, ``5.``,
# ``+1.5e+3``), as do ``.inf`` and ``.nan``. PyYAML follows YAML 1.1, where a float needs a dot and a
# signed exponent, so the learning rate ``1e-3`` would be the string '1e-3'. Plain integers stay
# with the int rule.
_FLOAT_TAG = "tag:yaml.org,2002:float"
_FLOAT_1_2 = re.compile(
    r"""^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?
                              |[-+]?[0-9]+[eE][-+]?[0-9]+
                              |[-+]?\.(?:inf|Inf|INF)
                              |\.(?:nan|NaN|NAN))$""",
    re.X,
)


def _with_yaml_1_2_floats(resolvers: dict) -> dict:
    """A copy of a resolver table with YAML 1.1's float rule replaced by YAML 1.2's."""
    table = {first: [rule for rule in rules if rule[0] != _FLOAT_TAG] for first, rules in resolvers.items()}
    for first in "-+0123456789.":
        table.setdefault(first, []).append((_FLOAT_TAG, _FLOAT_1_2))
    return table


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader reading numbers as YAML 1.2 does and refusing duplicate keys
    (``yaml.SafeLoader`` itself stays untouched)."""

    yaml_implicit_resolvers = _with_yaml_1_2_floats(yaml.SafeLoader.yaml_implicit_resolvers)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self._refuse_duplicate_keys(node)
        return super().construct_mapping(node, deep=deep)

    def _refuse_duplicate_keys(self, node) -> None:
        """A second ``train:`` would silently replace the first, losing its keys: refuse it.
        Merge keys (``<<: *base``) are exempt: overriding merged keys is what they are for."""
        first: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: the base constructor reports it
            if earlier is not key_node:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {c.shown(key)}, first at line {earlier.start_mark.line + 1}; "
                    f"keep one (the second would replace the first)",
                    key_node.start_mark,
                )


class _Dumper(yaml.SafeDumper):
    """The safe dumper with the same number rule, so it quotes strings ``_Loader`` would read as
    numbers (``'1e3'``) and every dump loads back as what was dumped."""

    yaml_implicit_resolvers = _with_yaml_1_2_floats(yaml.SafeDumper.yaml_implicit_resolvers)


def _load_yaml(text: str):
    return yaml.load(text, Loader=_Loader)  # a SafeLoader: builds no Python objects


# What PyYAML's safe loader raises besides YAMLError on some inputs: ValueError ("2001-02-30",
# "!!int abc", integers over Python's digit limit), AttributeError ("!!timestamp x"), and
# RecursionError on deeply nested flow collections.
_YAML_CRASHES = (ValueError, TypeError, AttributeError, RecursionError)


def parse_yaml(text: str, source: str) -> dict:
    try:
        raw = _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}: invalid YAML{line}: {getattr(exc, 'problem', None) or exc}") from None
    except _YAML_CRASHES as exc:
        raise ConfigError(f"{source}: invalid YAML: {type(exc).__name__}: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {type(raw).__name__}")
    return raw


def apply_override(raw: dict, assignment: str) -> None:
    """Apply ``a.b.c=value`` to the nested dict ``raw``; the value is parsed as YAML (``0.1``, ``[64]``)."""
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{_argument('--set', assignment)}expected KEY=VALUE, e.g. --set train.lr=0.01")
    try:
        value = _load_yaml(text)
    except (yaml.YAMLError, *_YAML_CRASHES):
        value = text
    try:
        _set_path(raw, key.strip(), value)
    except ConfigError as exc:
        raise ConfigError(f"{_argument('--set', assignment)}{exc}") from None


def _set_path(raw: dict, key: str, value) -> None:
    """raw["a"]["b"] = value for key "a.b", creating sections as needed."""
    parts = key.split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{key}: {'.'.join(parts[: depth + 1])} is not a section")
        node = child
    node[parts[-1]] = value


def with_overrides(config: Config, values: dict) -> Config:
    """``config`` with ``{"section.key": value}`` applied, validated again."""
    raw = to_dict(config)
    for key, value in values.items():
        _set_path(raw, key, value)
    return from_dict(raw)


def parse_grid(assignments: list[str]) -> list[tuple[str, list]]:
    """``["train.lr=0.1,0.01", "model.hidden=[64],[128,64]"]`` -> [(key, [values...]), ...].

    The values are read as one YAML flow list, so commas inside brackets stay inside a value. A
    value given twice is trained once (with a warning); one key in two ``--grid`` is an error.
    """
    grid: list[tuple[str, list]] = []
    seen: dict[str, str] = {}  # key -> the --grid argument that gave it
    for assignment in assignments:
        key, values = _grid_axis(assignment)
        if key in seen:
            raise ConfigError(
                f"{_argument('--grid', assignment)}{key} is also in --grid {seen[key]}; "
                f"give all its values in one --grid"
            )
        seen[key] = assignment
        grid.append((key, _unique(values, assignment)))
    return grid


def _grid_axis(assignment: str) -> tuple[str, list]:
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip() or not text.strip():
        raise ConfigError(f"--grid {assignment!r}: expected KEY=V1,V2,..., e.g. --grid train.lr=0.1,0.01")
    try:
        values = _load_yaml(f"[{text}]")
    except (yaml.YAMLError, *_YAML_CRASHES):
        values = None
    if not isinstance(values, list):
        raise ConfigError(f"--grid {assignment!r}: cannot read the values as a comma-separated list")
    return key.strip(), values


def _unique(values: list, assignment: str) -> list:
    """``values`` without repeats, first occurrences in order (0.1 and 0.10 are one value)."""
    kept: list = []
    repeated: list = []
    for value in values:
        same = any(type(other) is type(value) and other == value for other in kept)
        (repeated if same else kept).append(value)
    if repeated:
        log.warning(
            f"{_argument('--grid', assignment)}{', '.join(c.shown(v) for v in repeated)} "
            f"given more than once; each value is trained once"
        )
    return kept


def grid_combinations(grid: list[tuple[str, list]]) -> list[dict]:
    """Every combination of the grid's values as {key: value}; [{}] for no grid."""
    keys = [key for key, _ in grid]
    return [dict(zip(keys, values)) for values in itertools.product(*(v for _, v in grid))]


def grid_configs(config: Config, assignments) -> tuple[list[dict], list[Config]]:
    """``--grid`` arguments -> (every combination as {key: value}, the validated Config of each).
    An error names the ``--grid`` argument whose value is at fault."""
    combos = grid_combinations(parse_grid(list(assignments)))
    configs = []
    for combo in combos:
        try:
            configs.append(with_overrides(config, combo))
        except ConfigError as exc:
            raise ConfigError(f"{_blame(str(exc), assignments, '--grid') or '--grid: '}{exc}") from None
    return combos, configs


def dump_yaml(config: Config) -> str:
    """The config as YAML that ``load_config`` reads back as the same config."""
    return yaml.dump(to_dict(config), Dumper=_Dumper, sort_keys=False, default_flow_style=None)
