"""Feature extractors: fixed functions z = f(x) from images to vectors, one module each.

Each extractor has ``extract(images, *, dtype, **params) -> (n_images, n_features)`` taking
``images (n_images, height, width, 3) uint8``, and ``n_features(height, width, **params) -> int``.
``FEATURES`` maps the config name to its functions, parameter defaults and parameter checks, and
says what it and each parameter mean (for the config reference): its keys are the allowed values
of ``features[].name``.

A *fitted* extractor (``FeatureKind.fit`` set) learns a state from training images first:
``fit(images, params, rng) -> {name: float32 array}``, of the shapes ``state_shapes(params)``
gives, and its ``extract`` takes that state as ``state=``. The state travels with the features:
``train.fit.prepare`` fits it on the training rows only, the model bundle stores it as plain
arrays, and the feature cache keys on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import checks
from . import bow, color_hist, hog, raw


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
    #: For a fitted extractor: ``fit(images, params, rng) -> state`` and ``state_shapes(params)``.
    fit: Callable | None = None
    state_shapes: Callable | None = None
    #: The parameters ``fit`` reads: the fitted-state cache keys on these only, so a change to how
    #: the state is used (bow's encoding, pooling, power) reuses the fitted state.
    fit_params: tuple = ()

    @property
    def fitted(self) -> bool:
        return self.fit is not None

    def state_shapes_of(self, params: dict) -> dict:
        """``state_shapes(params)``: {name: shape} of the fitted state; {} if nothing is fitted."""
        return {} if self.state_shapes is None else self.state_shapes(params)


def _bow_extract(images, *, dtype, state, **params):
    return bow.encode(images, state, params, dtype)


_BOW_DOC = (
    "bag of visual words (Coates, Lee & Ng 2011): a vocabulary of `words` image patches learned by "
    "k-means on brightness- and contrast-normalized, whitened patches of the training images; each "
    "image is then encoded by how close its patches are to each word, summed over regions. The "
    "vocabulary is fitted on the training rows only (train: the rows outside the validation split; "
    "kfold and search: all rows outside `kfold.holdout`), so validation images never change it, and "
    "labels are never used. It is saved in the model bundle. Features: 4 * words (quadrants) or "
    "words (global). Fitting draws from the run's seed, so the vocabulary is reproducible"
)
_BOW_PARAM_DOCS = {
    "patch": "side of the square patches (the words) in pixels",
    "stride": "pixels between the patches an image is encoded from",
    "words": "size of the vocabulary (k-means clusters)",
    "whiten": "ZCA-whiten the normalized patches (with a small regularizer) before k-means",
    "encoding": "triangle: f_k = max(0, mean_j(d_j) - d_k) over the distances d to the words; hard: "
    "1 for the nearest word only (the classic bag of words)",
    "pooling": "quadrants: codes summed over the four image quadrants (4 * words features); global: "
    "over the whole image",
    "power": "each pooled code raised to this power (power normalization): 0.5, the square root, damps "
    "the words an image is full of against the rarer ones; 1: the plain sums",
    "sample_patches": "random training patches the vocabulary is fitted on; capped (with a warning) at the "
    "patches the training images hold and at 256 MB of patches",
    "kmeans_iterations": "most k-means (Lloyd) iterations",
    "kmeans_tol": "k-means stops when an iteration lowers the inertia by less than this fraction",
}


FEATURES = {
    "raw": FeatureKind(
        raw.extract,
        raw.n_features,
        {},
        {},
        "the pixels themselves, scaled to [0, 1], flattened in (row, col, channel) order",
    ),
    "color_hist": FeatureKind(
        color_hist.extract,
        color_hist.n_features,
        {"space": "hsv", "bins": 10},
        {"space": checks.one_of(color_hist.SPACES), "bins": checks.integer(1)},
        "the share of the image's pixels in each hue bin (hsv) or RGB cube cell (rgb); ignores where pixels are",
        {
            "space": "hsv: a histogram of hue (bins values); rgb: a joint histogram of red, green and blue "
            "(bins ** 3 values)",
            "bins": "bins per channel",
        },
    ),
    "hog": FeatureKind(
        hog.extract,
        hog.n_features,
        {"orientations": 9, "cell": 8, "block": 2, "block_norm": "L2-Hys"},
        {
            "orientations": checks.integer(1),
            "cell": checks.integer(1),
            "block": checks.integer(1),
            "block_norm": checks.one_of(hog.BLOCK_NORMS),
        },
        "histogram of oriented gradients (Dalal & Triggs) of the grayscale image, as scikit-image's hog",
        {
            "orientations": "gradient-direction bins over 0-180 degrees",
            "cell": "side of a square cell in pixels; each cell gets one histogram",
            "block": "side of a square block in cells; histograms are normalized per block",
            "block_norm": "how each block is normalized (none: not at all)",
        },
    ),
    "bow": FeatureKind(
        _bow_extract,
        bow.n_features,
        dict(bow.DEFAULTS),
        bow.PARAM_CHECKS,
        _BOW_DOC,
        _BOW_PARAM_DOCS,
        fit=bow.fit,
        state_shapes=bow.state_shapes,
        fit_params=bow.FIT_PARAMS,
    ),
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
