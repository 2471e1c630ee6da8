"""Rebuilding a network from its spec, the plain-data description ``Sequential.spec()`` gives.

Specs may come from a file, so each is checked before any layer is built.
"""

from __future__ import annotations

import inspect
import math

# Importing the layer modules registers their classes in LAYERS.
from . import activations, batchnorm, conv, dropout, extractor, pooling  # noqa: F401  (imported for its side effect: each module registers its layer types)
from .layers import DTYPES, LAYERS
from .network import Sequential

#: The most parameters ``network_from_spec`` builds (400 MB in float32): a spec read from a file
#: must not be able to make it allocate without bound.
MAX_PARAMETERS = 10**8

#: The float arguments of layers, by name: (description, predicate on the value).
_FLOAT_RANGES = {
    "p": ("a number in [0, 1)", lambda value: 0 <= value < 1),
    "momentum": ("a number in (0, 1]", lambda value: 0 < value <= 1),
    "eps": ("a number > 0", lambda value: value > 0),
}


def network_from_spec(specs: list[dict], max_parameters: int = MAX_PARAMETERS) -> Sequential:
    """Rebuild a network (weights zeroed) from ``Sequential.spec()`` output.

    Specs may come from a file, so each is checked before any layer is built: a mapping with a
    known ``type``, arguments the layer accepts, of the right kinds (integers, booleans, a dtype
    name), and at most ``max_parameters`` parameters in all. Raises ValueError naming the layer.
    """
    if not isinstance(specs, list) or not specs:
        raise ValueError(f"architecture must be a non-empty list of layer specs, got {specs!r}")
    checked = [_checked_spec(index, spec) for index, spec in enumerate(specs)]
    total = sum(LAYERS[layer_type].n_parameters(**kwargs) for layer_type, kwargs in checked)
    if total > max_parameters:
        raise ValueError(f"{total} parameters, more than the {max_parameters} a model may have")
    layers = []
    for index, (layer_type, kwargs) in enumerate(checked):
        try:
            layers.append(LAYERS[layer_type](**kwargs))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"layer {index} ({layer_type}): {exc}") from None
    return Sequential(layers)


def _checked_spec(index: int, spec) -> tuple[str, dict]:
    """(type, keyword arguments) of one layer spec, every argument of the kind its layer takes."""
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ValueError(f"layer {index}: must be a mapping with a 'type' name, got {spec!r}")
    kwargs = dict(spec)
    layer_type = kwargs.pop("type")
    if layer_type not in LAYERS:
        raise ValueError(f"layer {index}: unknown layer type {layer_type!r}; known: {', '.join(sorted(LAYERS))}")
    defaults = {name: p.default for name, p in inspect.signature(LAYERS[layer_type]).parameters.items()}
    for key, value in kwargs.items():
        if key not in defaults:
            raise ValueError(
                f"layer {index} ({layer_type}): unknown argument {key!r}; takes {', '.join(defaults) or 'none'}"
            )
        expected, valid = _argument_kind(key, defaults[key])
        if not valid(value):
            raise ValueError(f"layer {index} ({layer_type}): {key} must be {expected}, got {value!r}")
    return layer_type, kwargs


def _argument_kind(name: str, default):
    """(description, predicate) of a layer argument: a dtype name, a flag, a float in a known
    range (``_FLOAT_RANGES``) or a size."""
    if name == "dtype":
        return f"one of {', '.join(DTYPES)}", lambda value: value in DTYPES
    if isinstance(default, bool):
        return "true or false", lambda value: isinstance(value, bool)
    if isinstance(default, float):
        description, in_range = _FLOAT_RANGES[name]
        return (
            description,
            lambda value: (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
                and in_range(value)
            ),
        )
    minimum = 0 if name == "padding" else 1
    return (
        f"an integer >= {minimum}",
        lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
    )
