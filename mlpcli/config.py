"""The only module that knows YAML: load, validate and override the configuration.

A config is a tree of frozen dataclasses. Each leaf field carries a ``check`` in its metadata that
validates and normalizes the raw value; allowed names come from the registries (``ACTIVATIONS``,
``LOSSES``, ``FEATURES`` ...) so validation, help and docs share one source. Every value is checked
once, here, and messages name the full key path: ``model.activation: must be one of ...; got 'rleu'``.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import checks as c
from .data import LOADERS
from .errors import ConfigError
from .features import FEATURES, FeatureConfig, validate_feature
from .nn import ACTIVATIONS, DTYPES, INITS, LOSSES, SCHEDULES
from .nn.extractor import EXTRACTOR_INITS
from .progress import log


def _leaf(default, check, doc: str):
    """A config key: its default, the check that validates it, and one line saying what it means
    (the config reference, ``mlpcli config reference``, is generated from these)."""
    return field(default=default, metadata={"check": check, "doc": doc})


def _node(cls):
    """A section: a nested dataclass; its docstring is the section's description."""
    return field(default_factory=cls)


@dataclass(frozen=True)
class DataConfig:
    """Where the images come from and how they are split (formats: see data/README.md)."""

    format: str = _leaf("synthetic", c.one_of(LOADERS),
                        "synthetic: built-in shapes, no download; folder: one sub-folder per class; "
                        "cifar10: the official Python batches; npz: arrays images and labels")
    path: str | None = _leaf(None, c.optional(c.path), "the data's folder or file; required unless format is synthetic")
    split: str = _leaf("train", c.one_of(("train", "test")), "which CIFAR-10 batches to read (format cifar10 only)")
    image_size: tuple = _leaf((32, 32), c.image_size, "images are resized to this size in pixels (one number: square)")
    val_fraction: float = _leaf(0.2, c.number(0.0, 0.9),
                                "fraction of the images held out, stratified, to validate on (0: none)")
    n_per_class: int = _leaf(250, c.integer(2), "images per shape (format synthetic only)")
    on_error: str = _leaf("fail", c.one_of(("fail", "skip")),
                          "an unreadable image stops the run (fail) or is left out with a warning (skip); "
                          "format folder only")
    cache_dir: str = _leaf(".mlpcli-cache", c.path, "where decoded images and extracted features are cached")


@dataclass(frozen=True)
class BlockConfig:
    """One convolution -> ReLU -> max-pool block of the end-to-end extractor."""

    filters: int = _leaf(32, c.integer(1), "number of convolution filters (output channels)")
    kernel: int = _leaf(3, c.integer(1), "side of the square convolution kernel; padding keeps the size "
                                         "for odd kernels")
    pool: int = _leaf(2, c.integer(1), "side of the max-pool window (and its stride); 1: no pooling")


_BLOCKS_CHECK = c.described(lambda value, key: _dataclass_list(BlockConfig, value, key), "list of mappings",
                            "a non-empty list of {filters, kernel, pool} mappings")


@dataclass(frozen=True)
class ExtractorConfig:
    """The learnable feature extractor in front of the MLP; used only with ``mode: end_to_end``."""

    blocks: tuple = field(default=(BlockConfig(), BlockConfig(filters=64)),
                          metadata={"check": _BLOCKS_CHECK, "doc": "the blocks, applied in order",
                                    "item": BlockConfig})
    init: str = _leaf("gradient", c.one_of(EXTRACTOR_INITS),
                      "gradient: the first block starts as oriented derivative filters (a learnable HOG); "
                      "random: He initialization everywhere")
    trainable: bool = _leaf(True, c.boolean, "false freezes the extractor at its initialization; "
                                             "only the MLP learns")


@dataclass(frozen=True)
class ModelConfig:
    """The MLP: layer sizes, nonlinearity, loss and weight initialization."""

    hidden: tuple = _leaf((128,), c.int_list(1), "hidden layer sizes; [] is a linear classifier "
                                                 "(one template per class)")
    activation: str = _leaf("relu", c.one_of(ACTIVATIONS), "nonlinearity after each hidden layer")
    loss: str = _leaf("softmax", c.one_of(LOSSES),
                      "softmax: softmax cross-entropy; squared: squared error on one-hot targets")
    init: str = _leaf("auto", c.one_of(("auto", *INITS)), "weight initialization; auto: he for relu, "
                                                          "xavier otherwise")
    dtype: str = _leaf("float32", c.one_of(DTYPES), "precision of features and weights")
    weight_decay: float = _leaf(0.0, c.number(0.0), "L2 penalty on the weights (never the biases)")
    bias: bool = _leaf(True, c.boolean, "false: linear layers without a bias term")


@dataclass(frozen=True)
class AugmentConfig:
    """Random changes to each training minibatch, drawn from the seeded generator."""

    flip: bool = _leaf(False, c.boolean, "mirror each training image left-right with probability 1/2")
    crop_padding: int = _leaf(0, c.integer(0), "pad each training image by this many pixels and cut a "
                                               "random window of the original size back out (0: off)")


@dataclass(frozen=True)
class TrainConfig:
    """Minibatch SGD: how long, how fast, and when to stop."""

    epochs: int = _leaf(20, c.integer(1), "passes over the training rows")
    batch_size: Any = _leaf(128, c.batch_size, "rows per SGD step; full: classic full-batch gradient descent")
    lr: float = _leaf(0.01, c.number(0.0, exclusive_min=True), "learning rate at the first epoch")
    momentum: float = _leaf(0.9, c.number(0.0, 0.999), "SGD momentum (0: plain SGD)")
    nesterov: bool = _leaf(False, c.boolean, "use Nesterov momentum")
    schedule: str = _leaf("constant", c.one_of(SCHEDULES), "learning-rate schedule over the epochs; step: "
                                                           "times gamma every step_size epochs; cosine: down to 0")
    step_size: int = _leaf(10, c.integer(1), "epochs between learning-rate drops (schedule step only)")
    gamma: float = _leaf(0.1, c.number(0.0, 1.0, exclusive_min=True),
                         "factor of each learning-rate drop (schedule step only)")
    patience: int | None = _leaf(None, c.optional(c.integer(1)),
                                 "stop after this many epochs without a better validation accuracy and keep "
                                 "the best epoch's weights; null: train every epoch")
    augment: AugmentConfig = _node(AugmentConfig)


@dataclass(frozen=True)
class KFoldConfig:
    """``mlpcli kfold``: cross-validation and which model to keep."""

    k: int = _leaf(5, c.integer(2), "number of stratified folds (--k overrides it)")
    select: str = _leaf("ensemble", c.one_of(("best", "ensemble")),
                        "final model: the fold with the best validation accuracy, or all folds averaging "
                        "their probabilities (--select overrides it)")
    holdout: float = _leaf(0.0, c.number(0.0, 0.5), "fraction of the images kept out of every fold and "
                                                    "scored once at the end (0: none)")


@dataclass(frozen=True)
class OutputConfig:
    """Where runs are written."""

    dir: str = _leaf("runs", c.path, "each run is a new folder in here; <dir>/latest points at the newest")


_FEATURES_CHECK = c.described(lambda value, key: _feature_list(value, key), "list of names or mappings",
                              f"a non-empty list of feature names or {{name: ...}} mappings "
                              f"(names: {', '.join(FEATURES)})")


@dataclass(frozen=True)
class Config:
    """A whole configuration; every key has a default."""

    seed: int | None = _leaf(0, c.optional(c.integer(0)), "one seed drives initialization, shuffling, "
                                                          "splits and folds; null draws one (recorded in the run)")
    data: DataConfig = _node(DataConfig)
    features: tuple = field(default=(FeatureConfig("raw", {}),),
                            metadata={"check": _FEATURES_CHECK,
                                      "doc": "the fixed extractors whose outputs, concatenated in order, the "
                                             "MLP is trained on (mode features only)"})
    mode: str = _leaf("features", c.one_of(("features", "end_to_end")),
                      "features: the MLP learns from the fixed features; end_to_end: from the raw image "
                      "through the learnable extractor, trained by the same loss")
    extractor: ExtractorConfig = _node(ExtractorConfig)
    model: ModelConfig = _node(ModelConfig)
    train: TrainConfig = _node(TrainConfig)
    kfold: KFoldConfig = _node(KFoldConfig)
    output: OutputConfig = _node(OutputConfig)


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
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
        raise ConfigError(f"config file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: byte {exc.start} ({exc.object[exc.start]:#04x}) cannot "
                          f"be decoded; save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse_yaml(text, str(path))


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
_FLOAT_1_2 = re.compile(r"""^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?
                              |[-+]?[0-9]+[eE][-+]?[0-9]+
                              |[-+]?\.(?:inf|Inf|INF)
                              |\.(?:nan|NaN|NAN))$""", re.X)


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
                    None, None, f"duplicate key {c.shown(key)}, first at line {earlier.start_mark.line + 1}; "
                    f"keep one (the second would replace the first)", key_node.start_mark)


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
            raise ConfigError(f"{key}: {'.'.join(parts[:depth + 1])} is not a section")
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
    grid, seen = [], {}
    for assignment in assignments:
        key, values = _grid_axis(assignment)
        if key in seen:
            raise ConfigError(f"{_argument('--grid', assignment)}{key} is also in --grid {seen[key]}; "
                              f"give all its values in one --grid")
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
    kept, repeated = [], []
    for value in values:
        same = any(type(other) is type(value) and other == value for other in kept)
        (repeated if same else kept).append(value)
    if repeated:
        log.warning(f"{_argument('--grid', assignment)}{', '.join(c.shown(v) for v in repeated)} "
                    f"given more than once; each value is trained once")
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
    """The config as YAML that ``load_config`` reads back as the same config."""
    return yaml.dump(to_dict(config), Dumper=_Dumper, sort_keys=False, default_flow_style=None)
