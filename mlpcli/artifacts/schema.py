"""What a model bundle's ``model.json`` may say (format version 1), checked before anything is built.

A bundle may come from anyone, so nothing in it is trusted. Every field's type and range is
checked; the architecture must chain (each layer takes what the one before gives, the first takes
the features' width, the last gives one score per class) and is bounded in size before any array
is allocated. Problems raise ``ArtifactError`` naming the file and the field. Unknown top-level keys
are ignored, so a later minor addition stays loadable by this version.

Version 1 (``format: mlpcli-model``, ``format_version: 1``):

- ``kind``: ``network`` or ``ensemble``
- ``class_names``: non-empty list of distinct strings
- ``image_size``: ``[height, width]``, integers >= 1, at most ``MAX_IMAGE_PIXELS`` pixels
- ``features``: non-empty list of ``{name, **params}``, names and parameter values from ``FEATURES``
- network: ``loss`` (a ``LOSSES`` name), ``dtype`` (float32 or float64), ``architecture``
  (``Sequential.spec()``); the arrays live in ``weights.npz``
- ensemble: ``members``, relative paths of network bundles inside the ensemble's folder
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from .errors import ArtifactError, ConfigError
from .features import FEATURES, FeatureConfig
from .features.pipeline import feature_widths
from .nn import LOSSES, Conv2D, Flatten, ImageReshape, Linear, MaxPool2D, Sequential, network_from_spec

FORMAT = "mlpcli-model"
FORMAT_VERSION = 1
KINDS = ("network", "ensemble")
DTYPES = ("float32", "float64")
#: Larger images are refused: predicting would resize every input to this size.
MAX_IMAGE_PIXELS = 1 << 24
#: Values one sample may occupy at any point of the network (layer outputs, im2col rows).
MAX_VALUES_PER_SAMPLE = 10 ** 8


@dataclass(frozen=True)
class Description:
    """A checked ``model.json``; ``n_features`` is the width of the feature rows for ``image_size``."""

    kind: str
    class_names: tuple[str, ...]
    image_size: tuple[int, int]
    features: tuple[FeatureConfig, ...]
    n_features: int
    loss: str | None = None
    dtype: str | None = None
    architecture: list | None = None
    members: tuple[str, ...] = ()


def describe(meta, path: Path) -> Description:
    """Check a parsed ``model.json`` (``path`` names it in messages) -> Description."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not an mlpcli model description (no \"format\": \"{FORMAT}\")")
    version = meta.get("format_version")
    if not _is_int(version) or version < 1:
        raise _bad(path, "format_version", "an integer >= 1", version)
    if version > FORMAT_VERSION:
        raise ArtifactError(f"{path}: model format version {version} is newer than this mlpcli "
                            f"understands ({FORMAT_VERSION}); upgrade mlpcli")
    kind = meta.get("kind")
    if kind not in KINDS:
        raise _bad(path, "kind", f"one of {', '.join(KINDS)}", kind)
    required = ("class_names", "image_size", "features") + (
        ("members",) if kind == "ensemble" else ("loss", "dtype", "architecture"))
    missing = [key for key in required if key not in meta]
    if missing:
        raise ArtifactError(f"{path}: malformed model description (missing {', '.join(missing)})")
    class_names = _class_names(meta["class_names"], path)
    image_size = _image_size(meta["image_size"], path)
    features = _features(meta["features"], path)
    try:
        n_features = sum(feature_widths(features, *image_size))
    except ConfigError as exc:
        raise ArtifactError(f"{path}: {exc}") from None
    common = dict(kind=kind, class_names=class_names, image_size=image_size, features=features,
                  n_features=n_features)
    if kind == "ensemble":
        return Description(**common, members=_members(meta["members"], path))
    if not isinstance(meta["loss"], str) or meta["loss"] not in LOSSES:
        raise _bad(path, "loss", f"one of {', '.join(LOSSES)}", meta["loss"])
    if meta["dtype"] not in DTYPES:
        raise _bad(path, "dtype", f"one of {', '.join(DTYPES)}", meta["dtype"])
    return Description(**common, loss=meta["loss"], dtype=meta["dtype"], architecture=meta["architecture"])


def build_network(description: Description, path: Path) -> Sequential:
    """The described network with zeroed weights, after checking that its layers chain."""
    try:
        network = network_from_spec(description.architecture)
    except ValueError as exc:
        raise ArtifactError(f"{path}: invalid architecture: {exc}") from None
    for index, layer in enumerate(network.layers):
        for name, value in layer.params.items():
            if value.dtype != np.dtype(description.dtype):
                raise ArtifactError(f"{path}: invalid architecture: layer {index} stores {name} as "
                                    f"{value.dtype}, but the model's dtype is {description.dtype}")
    try:
        check_chain(network, description.n_features, description.image_size, len(description.class_names))
    except ValueError as exc:
        raise ArtifactError(f"{path}: inconsistent architecture: {exc}") from None
    return network


def check_chain(network: Sequential, n_features: int, image_size, n_classes: int) -> None:
    """Walk the per-sample shape through the layers: rows of ``n_features`` in, ``n_classes`` out.

    Raises ValueError naming the first layer that cannot take what it is given.
    """
    shape: tuple[int, ...] = (n_features,)
    for index, layer in enumerate(network.layers):
        try:
            shape = _output_shape(layer, shape, image_size if index == 0 else None)
        except ValueError as exc:
            raise ValueError(f"layer {index} ({type(layer).__name__}) {exc}") from None
        if math.prod(shape) > MAX_VALUES_PER_SAMPLE:
            raise ValueError(f"layer {index} ({type(layer).__name__}) outputs {shape} per sample, "
                             f"more than {MAX_VALUES_PER_SAMPLE} values")
    if shape != (n_classes,):
        raise ValueError(f"the last layer outputs {shape} per sample, but the model has {n_classes} classes")


def _output_shape(layer, shape: tuple[int, ...], image_size) -> tuple[int, ...]:
    """The shape one sample has after ``layer``; ``image_size`` is given for the first layer."""
    if isinstance(layer, Linear):
        if shape != (layer.n_in,):
            raise ValueError(f"takes rows of {layer.n_in} values but receives {shape}")
        return (layer.n_out,)
    if isinstance(layer, ImageReshape):
        image = (layer.height, layer.width, layer.channels)
        if shape != (math.prod(image),):
            raise ValueError(f"reshapes to {image} but receives {shape}")
        if image_size is not None and image[:2] != tuple(image_size):
            raise ValueError(f"reshapes to {image} but the model's images are {tuple(image_size)}")
        return image
    if isinstance(layer, (Conv2D, MaxPool2D)):
        if len(shape) != 3:
            raise ValueError(f"takes images (height, width, channels) but receives {shape}")
        return _image_layer_shape(layer, shape)
    if isinstance(layer, Flatten):
        return (math.prod(shape),)
    return shape  # activations keep the shape


def _image_layer_shape(layer, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    height, width, channels = shape
    if isinstance(layer, Conv2D):
        if channels != layer.in_channels:
            raise ValueError(f"takes {layer.in_channels} channels but receives {shape}")
        if layer.padding >= layer.kernel:
            raise ValueError(f"padding {layer.padding} must be smaller than the kernel {layer.kernel}")
        out = (*layer.output_size(height, width), layer.filters)
        if math.prod(out[:2]) * layer.kernel ** 2 * channels > MAX_VALUES_PER_SAMPLE:
            raise ValueError(f"needs more than {MAX_VALUES_PER_SAMPLE} values per sample for im2col")
    else:
        out = (*layer.output_size(height, width), channels)
    if min(out) < 1:
        raise ValueError(f"does not fit the {height}x{width} image it receives")
    return out


def _class_names(value, path) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(name, str) for name in value) \
            or len(set(value)) != len(value):
        raise _bad(path, "class_names", "a non-empty list of distinct strings", value)
    return tuple(value)


def _image_size(value, path) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2 or not all(_is_int(side) and side >= 1 for side in value) \
            or value[0] * value[1] > MAX_IMAGE_PIXELS:
        raise _bad(path, "image_size", f"[height, width], integers >= 1, at most {MAX_IMAGE_PIXELS} pixels", value)
    return tuple(value)


def _features(value, path) -> tuple[FeatureConfig, ...]:
    if not isinstance(value, list) or not value:
        raise _bad(path, "features", "a non-empty list of {name, ...} mappings", value)
    return tuple(_feature(item, f"features[{index}]", path) for index, item in enumerate(value))


def _feature(item, key: str, path) -> FeatureConfig:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or item["name"] not in FEATURES:
        raise _bad(path, key, f"a mapping with a name among {', '.join(FEATURES)}", item)
    kind = FEATURES[item["name"]]
    params = dict(kind.defaults)
    for param, value in item.items():
        if param == "name":
            continue
        if param not in kind.defaults:
            raise _bad(path, f"{key}.{param}", f"one of the parameters {', '.join(kind.defaults) or '(none)'}",
                       param)
        try:
            params[param] = kind.checks[param](value, f"{key}.{param}")
        except ConfigError as exc:
            raise ArtifactError(f"{path}: {exc}") from None
    return FeatureConfig(item["name"], params)


def _members(value, path) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(m, str) and _is_inside(m) for m in value):
        raise _bad(path, "members", "a non-empty list of relative paths inside the model folder "
                                    "(no '..', not absolute)", value)
    return tuple(value)


def _is_inside(member: str) -> bool:
    """A relative path that cannot leave its folder by its spelling (symlinks are checked on load)."""
    for pure in (PurePosixPath(member), PureWindowsPath(member)):
        if pure.is_absolute() or pure.drive or pure.root or ".." in pure.parts:
            return False
    return member.strip() not in ("", ".")


def member_dir(directory: Path, member: str, path: Path) -> Path:
    """``directory / member``, refused if it resolves (through symlinks) outside ``directory``."""
    target = directory / member
    if not target.resolve().is_relative_to(directory.resolve()):
        raise ArtifactError(f"{path}: ensemble member {member!r} resolves outside {directory}")
    return target


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad(path, key: str, expected: str, value) -> ArtifactError:
    shown = repr(value)
    shown = shown if len(shown) <= 200 else shown[:200] + "..."
    return ArtifactError(f"{path}: {key} must be {expected}; got {shown}")
