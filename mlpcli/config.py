"""The only module that knows YAML: load, validate and override the configuration.

A config is a tree of frozen dataclasses. Each leaf field carries a ``check`` in its metadata that
validates and normalizes the raw value; allowed names come from the registries (``ACTIVATIONS``,
``LOSSES``, ``FEATURES`` ...) so validation, help and docs share one source. Every value is checked
once, here, and messages name the full key path: ``model.activation: must be one of ...; got 'rleu'``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import checks as c
from .data import DEFAULT_MAX_IMAGE_PIXELS, LOADERS
from .errors import ConfigError
from .features import FEATURES, FeatureConfig, validate_feature
from .nn import ACTIVATIONS, DTYPES, INITS, LOSSES, SCHEDULES
from .nn.extractor import EXTRACTOR_INITS


def _leaf(default, check):
    return field(default=default, metadata={"check": check})


def _node(cls):
    return field(default_factory=cls)


@dataclass(frozen=True)
class DataConfig:
    format: str = _leaf("synthetic", c.one_of(LOADERS))
    path: str | None = _leaf(None, c.optional(c.string))
    split: str = _leaf("train", c.one_of(("train", "test")))
    image_size: tuple = _leaf((32, 32), c.image_size)
    val_fraction: float = _leaf(0.2, c.number(0.0, 0.9))
    n_per_class: int = _leaf(250, c.integer(2))
    on_error: str = _leaf("fail", c.one_of(("fail", "skip")))
    max_image_pixels: int = _leaf(DEFAULT_MAX_IMAGE_PIXELS, c.integer(1))
    cache_dir: str = _leaf(".mlpcli-cache", c.string)


@dataclass(frozen=True)
class BlockConfig:
    filters: int = _leaf(32, c.integer(1))
    kernel: int = _leaf(3, c.integer(1))
    pool: int = _leaf(2, c.integer(1))


@dataclass(frozen=True)
class ExtractorConfig:
    blocks: tuple = field(default=(BlockConfig(), BlockConfig(filters=64)),
                          metadata={"check": lambda value, key: _dataclass_list(BlockConfig, value, key)})
    init: str = _leaf("gradient", c.one_of(EXTRACTOR_INITS))
    trainable: bool = _leaf(True, c.boolean)


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple = _leaf((128,), c.int_list(1))
    activation: str = _leaf("relu", c.one_of(ACTIVATIONS))
    loss: str = _leaf("softmax", c.one_of(LOSSES))
    init: str = _leaf("auto", c.one_of(("auto", *INITS)))
    dtype: str = _leaf("float32", c.one_of(DTYPES))
    weight_decay: float = _leaf(0.0, c.number(0.0))
    bias: bool = _leaf(True, c.boolean)


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = _leaf(False, c.boolean)
    crop_padding: int = _leaf(0, c.integer(0))


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _leaf(20, c.integer(1))
    batch_size: Any = _leaf(128, c.batch_size)
    lr: float = _leaf(0.01, c.number(0.0, exclusive_min=True))
    momentum: float = _leaf(0.9, c.number(0.0, 0.999))
    nesterov: bool = _leaf(False, c.boolean)
    schedule: str = _leaf("constant", c.one_of(SCHEDULES))
    step_size: int = _leaf(10, c.integer(1))
    gamma: float = _leaf(0.1, c.number(0.0, 1.0, exclusive_min=True))
    patience: int | None = _leaf(None, c.optional(c.integer(1)))
    augment: AugmentConfig = _node(AugmentConfig)


@dataclass(frozen=True)
class KFoldConfig:
    k: int = _leaf(5, c.integer(2))
    select: str = _leaf("ensemble", c.one_of(("best", "ensemble")))
    holdout: float = _leaf(0.0, c.number(0.0, 0.5))


@dataclass(frozen=True)
class OutputConfig:
    dir: str = _leaf("runs", c.string)


@dataclass(frozen=True)
class Config:
    seed: int | None = _leaf(0, c.optional(c.integer(0)))
    data: DataConfig = _node(DataConfig)
    features: tuple = field(default=(FeatureConfig("raw", {}),),
                            metadata={"check": lambda value, key: _feature_list(value, key)})
    mode: str = _leaf("features", c.one_of(("features", "end_to_end")))
    extractor: ExtractorConfig = _node(ExtractorConfig)
    model: ModelConfig = _node(ModelConfig)
    train: TrainConfig = _node(TrainConfig)
    kfold: KFoldConfig = _node(KFoldConfig)
    output: OutputConfig = _node(OutputConfig)


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """Read YAML at ``path`` (or start from defaults), apply ``--set key=value`` overrides, validate."""
    raw: dict = {}
    where = ""
    if path is not None:
        path = Path(path)
        where = f"{path}: "
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        raw = parse_yaml(text, str(path))
    for override in overrides:
        apply_override(raw, override)
    try:
        return from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None


# What PyYAML's safe loader raises besides YAMLError on some inputs: ValueError ("2001-02-30",
# "!!int abc", integers over Python's digit limit), AttributeError ("!!timestamp x"), and
# RecursionError on deeply nested flow collections.
_YAML_CRASHES = (ValueError, TypeError, AttributeError, RecursionError)


def parse_yaml(text: str, source: str) -> dict:
    try:
        raw = yaml.safe_load(text)
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
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. --set train.lr=0.01")
    try:
        value = yaml.safe_load(text)
    except (yaml.YAMLError, *_YAML_CRASHES):
        value = text
    _set_path(raw, key.strip(), value)


def _set_path(raw: dict, key: str, value) -> None:
    """raw["a"]["b"] = value for key "a.b", creating sections as needed."""
    parts = key.split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{key}: {'.'.join(parts[:depth + 1])} is not a section")
        node = child
    node[parts[-1]] = value


def with_overrides(config: Config, values: dict) -> Config:
    """``config`` with ``{"section.key": value}`` applied, validated again."""
    raw = to_dict(config)
    for key, value in values.items():
        _set_path(raw, key, value)
    return from_dict(raw)


def from_dict(raw: dict) -> Config:
    """Validate a raw mapping into a ``Config``; raises ``ConfigError`` naming the key at fault."""
    config = _build(Config, raw, "")
    if config.mode == "end_to_end":
        if "features" in raw:
            raise ConfigError("features: must not be set when mode is end_to_end (the extractor learns "
                              "the features from the raw image); remove the features section")
    elif "extractor" in raw:
        raise ConfigError("extractor: only used with mode: end_to_end; set mode: end_to_end or remove it")
    if config.train.patience is not None and config.data.val_fraction == 0:
        raise ConfigError("train.patience: early stopping needs a validation split; "
                          "set data.val_fraction above 0 or remove train.patience")
    return config


def _build(cls, raw: Any, prefix: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: must be a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise c.unknown_key(prefix, str(key), fields)
    values = {}
    for name, f in fields.items():
        if name not in raw:
            continue
        key = f"{prefix}{name}"
        if "check" in f.metadata:
            values[name] = f.metadata["check"](raw[name], key)
        else:
            values[name] = _build(f.default_factory, {} if raw[name] is None else raw[name], f"{key}.")
    return cls(**values)


def _dataclass_list(cls, value, key) -> tuple:
    if not isinstance(value, list) or not value:
        raise c.fail(key, "a non-empty list of mappings", value)
    return tuple(_build(cls, item, f"{key}[{i}].") for i, item in enumerate(value))


def _feature_list(value, key) -> tuple:
    """``[raw, {name: hog, cell: 8}, ...]`` -> FeatureConfigs with every parameter filled in."""
    if not isinstance(value, list) or not value:
        raise c.fail(key, f"a non-empty list of feature names or {{name: ...}} mappings "
                          f"(names: {', '.join(FEATURES)})", value)
    return tuple(validate_feature(item, f"{key}[{i}]") for i, item in enumerate(value))


def to_dict(config: Config) -> dict:
    """Plain data (lists, dicts, scalars) for YAML/JSON; ``from_dict(to_dict(c)) == c``."""
    data = dataclasses.asdict(config)
    data["features"] = [{"name": f.name, **f.params} for f in config.features]
    if config.mode == "end_to_end":
        del data["features"]
    else:
        del data["extractor"]
    return _plain(data)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def dump_yaml(config: Config) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False, default_flow_style=None)
