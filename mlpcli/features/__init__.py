"""Feature extractors: fixed functions z = f(x) from images to vectors, one module each.

Each extractor has ``extract(images, *, dtype, **params) -> (n_images, n_features)`` taking
``images (n_images, height, width, 3) uint8``, and ``n_features(height, width, **params) -> int``.
``FEATURES`` maps the config name to its functions, parameter defaults and parameter checks, and
says what it and each parameter mean (for the config reference): its keys are the allowed values
of ``features[].name``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .. import checks
from . import color_hist, hog, raw


@dataclass(frozen=True)
class FeatureConfig:
    """One configured extractor: its ``FEATURES`` name and its parameters (defaults filled in)."""

    name: str
    params: dict


@dataclass(frozen=True)
class FeatureKind:
    extract: Callable
    n_features: Callable
    defaults: dict
    checks: dict
    doc: str = ""
    param_docs: dict = field(default_factory=dict)


FEATURES = {
    "raw": FeatureKind(raw.extract, raw.n_features, {}, {},
                       "the pixels themselves, scaled to [0, 1], flattened in (row, col, channel) order"),
    "color_hist": FeatureKind(
        color_hist.extract, color_hist.n_features,
        {"space": "hsv", "bins": 10},
        {"space": checks.one_of(color_hist.SPACES), "bins": checks.integer(1)},
        "the share of the image's pixels in each hue bin (hsv) or RGB cube cell (rgb); ignores where "
        "pixels are",
        {"space": "hsv: a histogram of hue (bins values); rgb: a joint histogram of red, green and blue "
                  "(bins ** 3 values)",
         "bins": "bins per channel"}),
    "hog": FeatureKind(
        hog.extract, hog.n_features,
        {"orientations": 9, "cell": 8, "block": 2, "block_norm": "L2-Hys"},
        {"orientations": checks.integer(1), "cell": checks.integer(1), "block": checks.integer(1),
         "block_norm": checks.one_of(hog.BLOCK_NORMS)},
        "histogram of oriented gradients (Dalal & Triggs) of the grayscale image, as scikit-image's hog",
        {"orientations": "gradient-direction bins over 0-180 degrees",
         "cell": "side of a square cell in pixels; each cell gets one histogram",
         "block": "side of a square block in cells; histograms are normalized per block",
         "block_norm": "how each block is normalized (none: not at all)"}),
}


def validate_feature(item, key: str) -> FeatureConfig:
    """``"hog"`` or ``{name: hog, cell: 8}`` -> FeatureConfig with every parameter checked and the
    rest filled with defaults; ConfigError naming ``key`` (e.g. ``features[1].cell``) otherwise.

    The one validator for feature parameters, whether they come from a config or a model.json.
    """
    raw_item = {"name": item} if isinstance(item, str) else item
    if not isinstance(raw_item, dict) or "name" not in raw_item:
        raise checks.fail(key, "a feature name or a mapping with a 'name' key", item)
    name = checks.one_of(FEATURES)(raw_item["name"], f"{key}.name")
    kind = FEATURES[name]
    params = dict(kind.defaults)
    for param, value in raw_item.items():
        if param == "name":
            continue
        if param not in kind.defaults:
            raise checks.unknown_key(f"{key}.", str(param), ["name", *kind.defaults])
        params[param] = kind.checks[param](value, f"{key}.{param}")
    return FeatureConfig(name, params)
