"""Rebuilding a network from its spec, the plain-data description ``Sequential.spec()`` gives.

Specs may come from a file, so each is checked before any layer is built.
"""

from __future__ import annotations

import inspect
import math

from .activations import ReLU, Sigmoid, Tanh
from .batchnorm import BatchNorm
from .conv import Conv2D
from .dropout import Dropout
from .extractor import Flatten, ImageReshape
from .layers import Linear
from .network import Sequential
from .pooling import MaxPool2D

#: Layer classes by the ``type`` in their spec, for rebuilding a saved network.
LAYERS = {cls.__name__: cls for cls in (Linear, ReLU, Sigmoid, Tanh, Conv2D, MaxPool2D, Flatten, ImageReshape,
                                        Dropout, BatchNorm)}

#: The most parameters ``network_from_spec`` builds (400 MB in float32): a spec read from a file
#: must not be able to make it allocate without bound.
MAX_PARAMETERS = 10 ** 8

_DTYPES = ("float32", "float64")

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
    total = sum(_parameter_count(layer_type, kwargs) for layer_type, kwargs in checked)
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
            raise ValueError(f"layer {index} ({layer_type}): unknown argument {key!r}; "
                             f"takes {', '.join(defaults) or 'none'}")
        expected, valid = _argument_kind(key, defaults[key])
        if not valid(value):
            raise ValueError(f"layer {index} ({layer_type}): {key} must be {expected}, got {value!r}")
    return layer_type, kwargs


def _argument_kind(name: str, default):
    """(description, predicate) of a layer argument: a dtype name, a flag, a float in a known
    range (``_FLOAT_RANGES``) or a size."""
    if name == "dtype":
        return f"one of {', '.join(_DTYPES)}", lambda value: value in _DTYPES
    if isinstance(default, bool):
        return "true or false", lambda value: isinstance(value, bool)
    if isinstance(default, float):
        description, in_range = _FLOAT_RANGES[name]
        return description, lambda value: isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) and in_range(value)
    minimum = 0 if name == "padding" else 1
    return f"an integer >= {minimum}", \
        lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _parameter_count(layer_type: str, kwargs: dict) -> int:
    """Parameters the layer would allocate, from its (checked) arguments, before building it."""
    if hasattr(LAYERS[layer_type], "n_parameters"):
        return LAYERS[layer_type].n_parameters(**kwargs)
    if layer_type == "Linear":
        return kwargs.get("n_in", 1) * kwargs.get("n_out", 1) + kwargs.get("n_out", 1)
    if layer_type == "Conv2D":
        filters = kwargs.get("filters", 1)
        return kwargs.get("kernel", 1) ** 2 * kwargs.get("in_channels", 1) * filters + filters
    return 0
