"""Fuzzing the config loader (issue 6, part 6): random YAML documents, random raw text and random
``--set`` overrides either load or raise ConfigError whose message names a key (or the source, or
``--set``). No other exception type, ever. A config that loads also survives ``--print-config``:
dumped and loaded again it is the same config.

The budget is fixed (``max_examples``, no deadline) so the file runs in a few seconds;
``MLPCLI_FUZZ_EXAMPLES=5000 pytest tests/test_config_fuzz.py`` searches longer.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlpcli.config import BlockConfig, Config, apply_override, dump_yaml, from_dict, parse_yaml, to_dict
from mlpcli.data import LOADERS
from mlpcli.errors import ConfigError
from mlpcli.features import FEATURES
from mlpcli.nn import ACTIVATIONS, INITS, LOSSES, SCHEDULES

SOURCE = "fuzz.yaml"
BUDGET = settings(
    max_examples=int(os.environ.get("MLPCLI_FUZZ_EXAMPLES", 100)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _field_names(cls, found: set[str]) -> set[str]:
    """Every field name of the config dataclasses, recursively."""
    for f in dataclasses.fields(cls):
        found.add(f.name)
        if f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory):
            _field_names(f.default_factory, found)
    return found


SECTIONS = tuple(f.name for f in dataclasses.fields(Config))
FIELD_NAMES = sorted(_field_names(BlockConfig, _field_names(Config, set())))
FEATURE_KEYS = sorted({"name", *FEATURES} | {param for kind in FEATURES.values() for param in kind.defaults})
REAL_KEYS = sorted(set(FIELD_NAMES) | set(FEATURE_KEYS))
# Values the validators accept somewhere, so random documents get past the first check more often.
ALLOWED_WORDS = sorted(
    {
        *LOADERS,
        *ACTIVATIONS,
        *LOSSES,
        *INITS,
        *SCHEDULES,
        *FEATURES,
        "auto",
        "full",
        "features",
        "end_to_end",
        "fail",
        "skip",
        "best",
        "ensemble",
        "train",
        "test",
        "hsv",
        "rgb",
        "L2-Hys",
        "gradient",
        "random",
        "float32",
        "float64",
    }
)


def _leaf_paths(data, prefix=""):
    """Dotted paths of the leaves of the default config's plain form (lists are leaves)."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaf_paths(value, f"{path}.")
        else:
            yield path


DEFAULT = to_dict(Config())
LEAF_PATHS = sorted(set(_leaf_paths(DEFAULT)) | set(_leaf_paths(to_dict(Config(mode="end_to_end")))))

keys = st.one_of(st.sampled_from(REAL_KEYS), st.text(max_size=12), st.integers(-3, 3), st.none(), st.booleans())
huge_ints = st.sampled_from([2**63, -(2**63), 10**30, 10**400, -(10**400)])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    huge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308]),
    st.text(max_size=16),
    st.sampled_from(ALLOWED_WORDS),
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=20,
)
sections = st.dictionaries(st.sampled_from(FIELD_NAMES) | keys, values, max_size=6)
documents = st.dictionaries(st.sampled_from(SECTIONS) | keys, sections | values, max_size=6)


def _key_named(message: str, extra: tuple[str, ...] = ()) -> bool:
    """True when the message names what is wrong: a key path (``train.lr: ...``,
    ``features[0].cell: ...``, ``unknown key 'data.x'``), or the source or ``--set``."""
    if not message:
        return False
    if message.startswith((f"{SOURCE}:", "--set ")) or message.startswith("unknown key '"):
        return True
    prefix = message.partition(": ")[0]
    if prefix in extra:
        return True
    first = re.split(r"[.\[]", prefix, maxsplit=1)[0]
    return first in SECTIONS or first == "config"


def _loads_or_names_a_key(load, extra: tuple[str, ...] = ()) -> None:
    try:
        config = load()
    except ConfigError as exc:
        assert _key_named(str(exc), extra), f"ConfigError does not name a key: {exc}"
        return
    assert isinstance(config, Config)
    # --print-config must show a config that loads back as the same config.
    assert from_dict(parse_yaml(dump_yaml(config), SOURCE)) == config


def _from_yaml(document) -> Config:
    return from_dict(parse_yaml(yaml.safe_dump(document), SOURCE))


@BUDGET
@given(documents)
@example({"train": {"lr": 10**400}})
@example({"train": {"momentum": -(10**400)}})
@example({"kfold": {"holdout": 10**30}})
@example({"data": False})
@example({"train": []})
@example({"features": [{"name": "hog", "cell": None}]})
@example({"features": [{"name": ["hog"]}]})
@example({"extractor": {"blocks": [{"filters": 2**63}]}, "mode": "end_to_end"})
@example({None: 1})
@example({1: {2: 3}})
def test_random_yaml_documents_load_or_raise_a_config_error_naming_a_key(document):
    _loads_or_names_a_key(lambda: _from_yaml(document))


@BUDGET
@given(st.sampled_from(LEAF_PATHS), values)
def test_one_bad_value_anywhere_in_a_valid_config(path, value):
    """Deep coverage: a valid config with one leaf replaced, so every field's check is reached."""
    document = to_dict(Config(mode="end_to_end")) if path.startswith("extractor") else to_dict(Config())
    node = document
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    _loads_or_names_a_key(lambda: _from_yaml(document))


@BUDGET
@given(st.text(max_size=80))
@example("2001-02-30")
@example("train: {lr: 2001-02-30}")
@example("!!int abc")
@example("!!float abc")
@example("!!timestamp x")
@example("[" * 5000)
@example("a: &a [*a]")
@example("model: {hidden: &h [*h]}")
@example("train: &t {lr: *t}")
@example("a: !!set {1, 2}")
@example("? [a, b]\n: 1")
@example("- 1\n- 2")
@example("\x00")
@example("a: !!python/object:os.system [echo]")
def test_random_text_parses_or_raises_a_config_error_naming_the_source(text):
    try:
        raw = parse_yaml(text, SOURCE)
    except ConfigError as exc:
        assert str(exc).startswith(f"{SOURCE}: "), str(exc)
        return
    assert isinstance(raw, dict)
    _loads_or_names_a_key(lambda: from_dict(raw))


override_keys = st.one_of(
    st.sampled_from(LEAF_PATHS),
    st.sampled_from(SECTIONS),
    st.builds(lambda a, b: f"{a}.{b}", st.sampled_from(SECTIONS), st.text(max_size=8)),
    st.text(max_size=12),
)
override_values = st.one_of(
    st.text(max_size=20),
    values.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()),
)
overrides = st.one_of(st.builds(lambda k, v: f"{k}={v}", override_keys, override_values), st.text(max_size=30))


@BUDGET
@given(st.one_of(st.just({}), documents), st.lists(overrides, min_size=1, max_size=3))
@example({}, ["train.lr=2001-02-30"])
@example({}, ["train.lr=!!int abc"])
@example({}, ["train.lr=[[[[[[[[[[[[[[[["])
@example({}, ["=1"])
@example({}, ["train.lr"])
@example({"train": 5}, ["train.lr=0.1"])
@example({"features": ["raw"]}, ["features.0.name=hog"])
@example({}, ["model.hidden=&h [*h]"])
@example({}, ["seed=" + "9" * 5000])
def test_random_set_overrides_apply_or_raise_a_config_error_naming_a_key(document, assignments):
    raw = yaml.safe_load(yaml.safe_dump(document))

    def load():
        for assignment in assignments:
            apply_override(raw, assignment)
        return from_dict(raw)

    # A key the user typed in --set is named as they typed it ("a.b: a is not a section").
    typed = tuple(assignment.partition("=")[0].strip() for assignment in assignments)
    _loads_or_names_a_key(load, typed)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("2001-02-30", "fuzz.yaml: invalid YAML"),
        ("!!int abc", "fuzz.yaml: invalid YAML"),
        ("!!timestamp x", "fuzz.yaml: invalid YAML"),
        ("[" * 5000, "fuzz.yaml: invalid YAML"),
    ],
)
def test_yaml_the_parser_chokes_on_is_a_config_error(text, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        parse_yaml(text, SOURCE)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({"train": {"lr": 10**400}}, "train.lr: must be a number > 0.0; got 1000"),
        ({"train": {"momentum": -(10**400)}}, "train.momentum: must be a number >= 0.0 and <= 0.999"),
        ({"data": False}, "data: must be a mapping, got False"),
        ({"train": []}, "train: must be a mapping, got []"),
    ],
)
def test_fuzz_findings_are_config_errors_naming_the_key(raw, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        from_dict(raw)


def test_an_empty_section_still_means_the_defaults():
    assert from_dict({"train": None, "data": {}}) == Config()
