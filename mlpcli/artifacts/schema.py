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
- ``preprocess`` (optional, added within version 1): ``{resize, color, pad_fill}``, how a file
  becomes the model's image (``data.shape``); a bundle without it squashes to RGB, as every
  model did before it existed
- network: ``loss`` (a ``LOSSES`` name), ``dtype`` (float32 or float64), ``architecture``
  (``Sequential.spec()``); the arrays live in ``weights.npz``, including the fitted state of each
  fitted feature (e.g. ``bow``'s vocabulary) as ``features/<index>/<name>`` float32 arrays of the
  shapes ``feature_state_shapes`` gives from the features' parameters. This was added within
  version 1: a bundle without fitted features has no such arrays, as before, and an older mlpcli
  refuses a ``bow`` feature by its name.
- ensemble: ``members``, relative paths of network bundles inside the ensemble's folder
- ``tta`` (optional, added within version 1): the test-time augmentation ``predict`` and
  ``evaluate`` apply by default, one of ``choices.TTA_MODES``; a bundle without it uses none
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from ..checks import is_int, shown
from ..choices import TTA_MODES
from ..data.shape import COLORS, RESIZES, Preprocess
from ..errors import ArtifactError, ConfigError
from ..features import FEATURES, FeatureConfig, validate_feature
from ..features.pipeline import feature_widths
from ..nn import DTYPES, LOSSES, BatchNorm, Sequential, network_from_spec

FORMAT = "mlpcli-model"
FORMAT_VERSION = 1
KINDS = ("network", "ensemble")
#: What a bundle without ``preprocess`` did: squash to RGB.
DEFAULT_PREPROCESS = Preprocess((1, 1)).describe()
#: Larger images are refused: predicting would resize every input to this size.
MAX_IMAGE_PIXELS = 1 << 24
#: Values one sample may occupy at any point of the network (layer outputs, im2col rows).
MAX_VALUES_PER_SAMPLE = 10**8


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
    preprocess: dict = field(default_factory=lambda: dict(DEFAULT_PREPROCESS))
    tta: str = "none"


def describe(meta, path: Path) -> Description:
    """Check a parsed ``model.json`` (``path`` names it in messages) -> Description."""
    kind = _kind(meta, path)
    class_names = _class_names(meta["class_names"], path)
    image_size = _image_size(meta["image_size"], path)
    features = _features(meta["features"], path)
    try:
        n_features = sum(feature_widths(features, *image_size))
    except ConfigError as exc:
        raise ArtifactError(f"{path}: {exc}") from None
    common = Description(
        kind=kind,
        class_names=class_names,
        image_size=image_size,
        features=features,
        n_features=n_features,
        preprocess=_preprocess(meta.get("preprocess"), path),
        tta=_tta(meta.get("tta", "none"), path),
    )
    if kind == "ensemble":
        return replace(common, members=_members(meta["members"], path))
    if not isinstance(meta["loss"], str) or meta["loss"] not in LOSSES:
        raise _bad(path, "loss", f"one of {', '.join(LOSSES)}", meta["loss"])
    if meta["dtype"] not in DTYPES:
        raise _bad(path, "dtype", f"one of {', '.join(DTYPES)}", meta["dtype"])
    return replace(common, loss=meta["loss"], dtype=meta["dtype"], architecture=meta["architecture"])


def feature_state_shapes(features) -> dict[str, tuple]:
    """{``features/<index>/<name>``: shape} of the fitted states ``features`` need in weights.npz."""
    shapes = {}
    for index, feature in enumerate(features):
        for name, shape in FEATURES[feature.name].state_shapes_of(feature.params).items():
            shapes[f"features/{index}/{name}"] = tuple(shape)
    return shapes


def _kind(meta, path: Path) -> str:
    """The bundle's kind, after checking the format, its version and that the kind's fields exist."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ArtifactError(f'{path}: not an mlpcli model description (no "format": "{FORMAT}")')
    version = meta.get("format_version")
    if not is_int(version) or version < 1:
        raise _bad(path, "format_version", "an integer >= 1", version)
    if version > FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: model format version {version} is newer than this mlpcli "
            f"understands ({FORMAT_VERSION}); upgrade mlpcli"
        )
    kind = meta.get("kind")
    if kind not in KINDS:
        raise _bad(path, "kind", f"one of {', '.join(KINDS)}", kind)
    required = ("class_names", "image_size", "features") + (
        ("members",) if kind == "ensemble" else ("loss", "dtype", "architecture")
    )
    missing = [key for key in required if key not in meta]
    if missing:
        raise ArtifactError(f"{path}: malformed model description (missing {', '.join(missing)})")
    return kind


def build_network(description: Description, path: Path) -> Sequential:
    """The described network with zeroed weights, after checking that its layers chain."""
    if description.architecture is None:
        raise ArtifactError(f"{path}: an ensemble has no network of its own; load its members")
    try:
        network = network_from_spec(description.architecture)
    except ValueError as exc:
        raise ArtifactError(f"{path}: invalid architecture: {exc}") from None
    for index, layer in enumerate(network.layers):
        # Buffers too (BatchNorm's running statistics): weights.npz is read in the model's dtype.
        for name, value in (*layer.params.items(), *layer.buffers.items()):
            if value.dtype != np.dtype(description.dtype):
                raise ArtifactError(
                    f"{path}: invalid architecture: layer {index} stores {name} as "
                    f"{value.dtype}, but the model's dtype is {description.dtype}"
                )
    try:
        check_chain(network, description.n_features, description.image_size, len(description.class_names))
    except ValueError as exc:
        raise ArtifactError(f"{path}: inconsistent architecture: {exc}") from None
    return network


def check_buffers(network: Sequential, path: Path) -> None:
    """Loaded buffers that no training could have produced: a negative running variance would
    make every prediction NaN."""
    for index, layer in enumerate(network.layers):
        variance = layer.buffers.get("running_var") if isinstance(layer, BatchNorm) else None
        if variance is not None and (variance < 0).any():
            raise ArtifactError(f"{path}: layer {index} (BatchNorm) has a negative running_var; the model is unusable")


def check_chain(network: Sequential, n_features: int, image_size, n_classes: int) -> None:
    """Walk the per-sample shape through the layers: rows of ``n_features`` in, ``n_classes`` out,
    at most ``MAX_VALUES_PER_SAMPLE`` values per sample anywhere, and an image-shaped first layer
    that reshapes to the model's ``image_size``. Raises ValueError naming the layer at fault.
    """
    shapes = network.shapes((n_features,))
    first = network.layers[0]
    image_shape = getattr(first, "image_shape", None)
    if image_shape is not None and tuple(image_shape[:2]) != tuple(image_size):
        raise ValueError(
            f"layer 0 ({type(first).__name__}) reshapes to {image_shape} but the model's images are {tuple(image_size)}"
        )
    for index, values in enumerate(network.values_per_layer((n_features,))):
        if values > MAX_VALUES_PER_SAMPLE:
            layer = network.layers[index]
            raise ValueError(
                f"layer {index} ({type(layer).__name__}) outputs {shapes[index]} per sample, "
                f"more than {MAX_VALUES_PER_SAMPLE} values with its working memory"
            )
    if shapes[-1] != (n_classes,):
        raise ValueError(f"the last layer outputs {shapes[-1]} per sample, but the model has {n_classes} classes")


def _class_names(value, path) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(name, str) for name in value)
        or len(set(value)) != len(value)
    ):
        raise _bad(path, "class_names", "a non-empty list of distinct strings", value)
    return tuple(value)


def _image_size(value, path) -> tuple[int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(is_int(side) and side >= 1 for side in value)
        or value[0] * value[1] > MAX_IMAGE_PIXELS
    ):
        raise _bad(path, "image_size", f"[height, width], integers >= 1, at most {MAX_IMAGE_PIXELS} pixels", value)
    return tuple(value)


def _preprocess(value, path) -> dict:
    """The checked ``preprocess`` field; the old behaviour (squash, rgb) when absent."""
    if value is None:
        return dict(DEFAULT_PREPROCESS)
    expected = f"{{resize: one of {', '.join(RESIZES)}, color: one of {', '.join(COLORS)}, pad_fill: 0..255}}"
    if (
        not isinstance(value, dict)
        or set(value) != set(DEFAULT_PREPROCESS)
        or value["resize"] not in RESIZES
        or value["color"] not in COLORS
        or not is_int(value["pad_fill"])
        or not 0 <= value["pad_fill"] <= 255
    ):
        raise _bad(path, "preprocess", expected, value)
    return dict(value)


def _tta(value, path) -> str:
    if not isinstance(value, str) or value not in TTA_MODES:
        raise _bad(path, "tta", f"one of {', '.join(TTA_MODES)}", value)
    return value


def _features(value, path) -> tuple[FeatureConfig, ...]:
    if not isinstance(value, list) or not value:
        raise _bad(path, "features", "a non-empty list of {name, ...} mappings", value)
    return tuple(_feature(item, f"features[{index}]", path) for index, item in enumerate(value))


def _feature(item, key: str, path) -> FeatureConfig:
    if not isinstance(item, dict):
        raise _bad(path, key, f"a mapping with a name among {', '.join(FEATURES)}", item)
    try:
        return validate_feature(item, key)
    except ConfigError as exc:
        raise ArtifactError(f"{path}: {exc}") from None


def _members(value, path) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(m, str) and _is_inside(m) for m in value):
        raise _bad(
            path, "members", "a non-empty list of relative paths inside the model folder (no '..', not absolute)", value
        )
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


def _bad(path, key: str, expected: str, value) -> ArtifactError:
    return ArtifactError(f"{path}: {key} must be {expected}; got {shown(value)}")
