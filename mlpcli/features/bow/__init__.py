"""Bag of visual words: a vocabulary of image patches learned by k-means, then each image encoded
by which words its patches resemble, pooled over regions (Coates, Lee & Ng, AISTATS 2011).

Unlike the other extractors this one is fitted: ``fit(images, params, rng)`` learns the state
from training images only (labels are never used) and ``encode(images, state, params, dtype)``
turns any images into features with it. The state is a dict of plain arrays (``STATE_KEYS``):

- ``whiten_mean`` (n_values,) and ``whiten_matrix`` (n_values, n_values): ZCA whitening of the
  contrast-normalized patches (zeros and the identity when ``whiten`` is false);
- ``vocabulary`` (words, n_values): the words, in whitened patch space;

all float32, with ``n_values = patch * patch * 3`` in (row, col, channel) order.

Fitting: ``sample_patches`` random patches of the images (``patches.sample``), each normalized
for brightness and contrast (``patches.normalize``), whitened (``whitening``), then k-means
(``kmeans``: greedy k-means++ seeds, at most ``kmeans_iterations`` Lloyd iterations, stop when
one lowers the inertia by less than ``kmeans_tol``). Encoding: see ``encoding``; each pooled
code is raised to ``power`` (1: unchanged).
"""

from __future__ import annotations

import numpy as np

from ... import checks
from ...errors import ConfigError
from ...progress import log
from ..images import check_images
from . import encoding, kmeans, patches, whitening

DEFAULTS = {
    "patch": 6,
    "stride": 1,
    "words": 1600,
    "whiten": True,
    "encoding": "triangle",
    "pooling": "quadrants",
    "power": 1.0,
    "sample_patches": 400_000,
    "kmeans_iterations": kmeans.ITERATIONS,
    "kmeans_tol": kmeans.TOL,
}
STATE_KEYS = ("whiten_mean", "whiten_matrix", "vocabulary")
#: The parameters the fitted state depends on (encoding, pooling and power only use it).
FIT_PARAMS = ("patch", "stride", "words", "whiten", "sample_patches", "kmeans_iterations", "kmeans_tol")
#: The float32 patch sample is cut to this size whatever ``sample_patches`` says; fitting holds
#: about four copies of it (sample, whitened, k-means' two layouts). 400,000 6x6 patches: 173 MB.
SAMPLE_BYTES = 256 << 20
#: Patch values (patch * patch * 3) that whitening accepts: its covariance and matrix are
#: (n_values, n_values) float64 (patch 36: 3,888 values, 121 MB each).
MAX_WHITEN_VALUES = 4000

#: The one validator of each parameter, for a config file, a model.json and a direct call alike
#: (``features.FEATURES`` hands them to the config checks and the config reference).
PARAM_CHECKS = {
    "patch": checks.integer(1),
    "stride": checks.integer(1),
    "words": checks.integer(1),
    "whiten": checks.boolean,
    "encoding": checks.one_of(encoding.ENCODINGS),
    "pooling": checks.one_of(encoding.POOLINGS),
    # 0 would turn every code into 1 (0 ** 0 included); above 1 sharpens instead of damping.
    "power": checks.number(0, 1, exclusive_min=True),
    "sample_patches": checks.integer(1),
    "kmeans_iterations": checks.integer(1),
    # 1 would stop after any first iteration: every step lowers the inertia by < 100%.
    "kmeans_tol": checks.number(0, 1, exclusive_max=True),
}


def check_params(params: dict) -> dict:
    """``params`` with defaults filled in, each checked by its ``PARAM_CHECKS`` validator;
    ValueError naming the parameter if one is wrong."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"bow has no parameter {unknown[0]!r}; known: {', '.join(DEFAULTS)}")
    try:
        params = {name: PARAM_CHECKS[name](value, f"bow {name}") for name, value in {**DEFAULTS, **params}.items()}
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    _check_sizes(params)
    return params


def _check_sizes(params: dict) -> None:
    """ValueError for sizes that cannot be fitted in bounded memory, or words that outnumber the
    patches k-means could cluster."""
    n_values = params["patch"] ** 2 * 3
    if params["whiten"] and n_values > MAX_WHITEN_VALUES:
        raise ValueError(
            f"bow whiten needs a (values x values) matrix: patch {params['patch']} has "
            f"{n_values} values, more than {MAX_WHITEN_VALUES}; use a smaller patch or whiten false"
        )
    most = min(params["sample_patches"], SAMPLE_BYTES // (4 * n_values))
    if params["words"] > most:
        raise ValueError(
            f"bow words {params['words']} needs as many patches, but at most {most} are "
            f"sampled (sample_patches {params['sample_patches']}, and {SAMPLE_BYTES >> 20} MB "
            f"of {params['patch']}x{params['patch']} patches); use fewer words"
        )


def sample_count(images_shape: tuple, params: dict) -> int:
    """Patches to sample from images of ``images_shape``: ``sample_patches``, capped (with a
    warning) at the patches the images hold, as more would only repeat them, and at
    ``SAMPLE_BYTES``; ValueError if fewer than ``words`` remain."""
    held = patches.positions(images_shape, params["patch"], params["stride"])
    limits = {
        f"the {held} patches the {images_shape[0]} training images hold": held,
        f"{SAMPLE_BYTES >> 20} MB of patches": SAMPLE_BYTES // (4 * params["patch"] ** 2 * 3),
    }
    reason = min(limits, key=lambda limit: limits[limit])
    count = min(params["sample_patches"], limits[reason])
    if params["words"] > count:
        raise ValueError(
            f"bow words {params['words']} is more than the {count} patches there are "
            f"to learn them from ({reason}); use at most {count} words, a smaller stride, "
            f"or more images"
        )
    if count < params["sample_patches"]:
        log.warning("features: bow sample_patches %d capped at %d, %s", params["sample_patches"], count, reason)
    return count


def n_features(height: int, width: int, **params) -> int:
    """Length of the feature vector of a (height, width) image: regions * words."""
    params = check_params(params)
    rows, cols = patches.grid(height, width, params["patch"], params["stride"])
    if params["pooling"] == "quadrants" and (rows < 2 or cols < 2):
        raise ValueError(
            f"bow quadrants pooling needs at least 2 patch positions down and across; "
            f"{height}x{width} images with patch {params['patch']} and stride "
            f"{params['stride']} have {rows}x{cols}: use pooling global or a smaller "
            "patch or stride"
        )
    return encoding.POOLINGS[params["pooling"]] * params["words"]


def fit(images: np.ndarray, params: dict, rng: np.random.Generator) -> dict:
    """Learn the state from training images (n_images, height, width, 3) uint8; see the module."""
    params = check_params(params)
    sample, mean, matrix = training_patches(images, params, rng)
    vocabulary, _ = kmeans.kmeans(sample, params["words"], rng, params["kmeans_iterations"], params["kmeans_tol"])
    return {
        "whiten_mean": mean.astype(np.float32),
        "whiten_matrix": matrix.astype(np.float32),
        "vocabulary": vocabulary,
    }


def training_patches(images: np.ndarray, params: dict, rng: np.random.Generator):
    """The first half of ``fit``: (patches (sample_patches, n_values) float32 normalized and
    whitened, whitening mean (n_values,), whitening matrix (n_values, n_values)), the points
    k-means clusters."""
    images, params = check_images(images), check_params(params)
    n_features(images.shape[1], images.shape[2], **params)
    if len(images) == 0:
        raise ValueError("bow needs at least one training image to learn its vocabulary")
    count = sample_count(images.shape, params)
    sample = patches.sample(images, count, params["patch"], params["stride"], rng)
    sample = patches.normalize(sample)
    if not params["whiten"]:
        return sample, np.zeros(sample.shape[1]), np.eye(sample.shape[1])
    mean, matrix = whitening.fit(sample)
    return whitening.apply(sample, mean, matrix), mean, matrix


def encode(images: np.ndarray, state: dict, params: dict, dtype="float32") -> np.ndarray:
    """(n_images, height, width, 3) uint8 -> (n_images, n_features) of ``dtype`` (also the
    precision of the arithmetic), features in (region, word) order."""
    images, params = check_images(images), check_params(params)
    check_state(state, params)
    n_features(images.shape[1], images.shape[2], **params)
    return encoding.encode(
        images,
        state,
        params["patch"],
        params["stride"],
        params["whiten"],
        params["encoding"],
        params["pooling"],
        params["power"],
        dtype,
    )


def state_shapes(params: dict) -> dict:
    """{name: shape} of the fitted state for ``params`` (see the module)."""
    params = check_params(params)
    n_values = params["patch"] ** 2 * 3
    return {
        "whiten_mean": (n_values,),
        "whiten_matrix": (n_values, n_values),
        "vocabulary": (params["words"], n_values),
    }


def check_state(state: dict, params: dict) -> None:
    """ValueError unless ``state`` holds exactly ``STATE_KEYS``, finite float32 arrays of the
    shapes ``params`` give."""
    expected = state_shapes(params)
    if set(state) != set(STATE_KEYS):
        raise ValueError(f"bow state must hold exactly {', '.join(STATE_KEYS)}; got {', '.join(sorted(state))}")
    for name, shape in expected.items():
        array = state[name]
        if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != np.float32:
            got = f"{array.shape} {array.dtype}" if isinstance(array, np.ndarray) else type(array).__name__
            raise ValueError(
                f"bow state {name} must be {shape} float32 for these parameters; got {got}: refit the features"
            )
        if not np.isfinite(array).all():
            raise ValueError(f"bow state {name} has non-finite values: refit the features")
