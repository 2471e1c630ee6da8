"""Images -> feature matrix: fit the fitted extractors, run them all, concatenate, cache on disk.

``states`` is a tuple aligned with ``features``: the fitted state (a dict of arrays) of each fitted
extractor, None for the others; ``fit_features`` makes it, the model bundle stores it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import numpy as np

from .. import cache
from ..errors import ConfigError
from ..fileio import atomic_save_npz
from ..imagerows import ImageRows
from ..nn import parallel
from ..progress import bar, log
from . import FEATURES

#: Bytes of images and features one chunk of extraction holds (each thread works on one chunk;
#: an extractor's temporaries are a few times this): chunks are sized in bytes, not images, so
#: 128-px photos and 32-px CIFAR images cost the same memory per chunk.
CHUNK_BYTES = 16 << 20
# Bump when an extractor's output changes, so stale caches are not reused.
CACHE_VERSION = 2  # 2: HOG gray from the exact integer luma


def feature_widths(features, height: int, width: int) -> list[int]:
    """Output length of each configured extractor for images of ``height`` x ``width``."""
    widths = []
    for index, feature in enumerate(features):
        try:
            widths.append(FEATURES[feature.name].n_features(height, width, **feature.params))
        except ValueError as exc:
            raise ConfigError(f"features[{index}] ({feature.name}): {exc}") from None
    return widths


def fit_features(images: np.ndarray, features, rng: np.random.Generator) -> tuple:
    """Fit every fitted extractor on ``images`` (n_images, height, width, 3) uint8, the training
    rows only, in order from ``rng``: the states, None for the extractors that are not fitted."""
    states: list = []  # one fitted state (any type the extractor makes), or None, per feature
    for index, feature in enumerate(features):
        fit = FEATURES[feature.name].fit
        if fit is None:  # not a fitted extractor
            states.append(None)
            continue
        log.info("features: fitting %s on %d images", feature.name, len(images))
        started = time.perf_counter()
        try:
            states.append(fit(images, feature.params, rng))
        except ValueError as exc:
            raise ConfigError(f"features[{index}] ({feature.name}): {exc}") from None
        log.info("features: fitted %s in %.1f s", feature.name, time.perf_counter() - started)
    return tuple(states)


def cached_fit(dataset, rows: np.ndarray, features, seed: int, cache_dir: str | None) -> tuple:
    """``fit_features`` on ``dataset.images[rows]`` with the seed's ``features`` stream, reusing
    the states saved by an earlier run on the same data (by fingerprint), rows, seed and
    parameters: fitting is deterministic in those, so the saved states are the ones it would
    make. ``cache_dir=None`` bypasses the cache."""
    from .. import seeding

    def fit() -> tuple:
        return fit_features(dataset.images[rows], features, seeding.rng(seed, "features"))

    if cache_dir is None or dataset.fingerprint is None:
        return fit()
    path = _fitted_path(dataset.fingerprint, rows, features, seed, cache_dir)
    states = cache.load(path, lambda file: _read_states(file, features), "fitted features")
    if states is not None:
        log.info("features: fitted states loaded from cache %s", path)
        return states
    states = fit()
    arrays = {f"{index}/{name}": value for index, state in enumerate(states) for name, value in (state or {}).items()}
    cache.store(path, lambda file: atomic_save_npz(file, arrays), "fitted features")
    return states


def _fitted_path(fingerprint: str, rows: np.ndarray, features, seed: int, cache_dir: str) -> Path:
    """The cache file of the states fitted on these rows of this data, with this seed and the
    parameters of these features that fitting reads."""
    description = {
        "data": fingerprint,
        "seed": seed,
        "version": CACHE_VERSION,
        "rows": hashlib.sha256(np.asarray(rows, np.int64).tobytes()).hexdigest(),
        # Positions matter (the states are stored by index); only what fitting reads is keyed.
        "features": [{"name": f.name, **{k: f.params[k] for k in FEATURES[f.name].fit_params}} for f in features],
    }
    key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:24]
    return Path(cache_dir) / f"fitted-{key}.npz"


def _read_states(file: Path, features) -> tuple | None:
    """The fitted states stored in ``file`` (one dict or None per feature), or None if they do not
    have the shapes and dtype that ``features`` make."""
    expected = {
        f"{index}/{name}": tuple(shape)
        for index, f in enumerate(features)
        for name, shape in FEATURES[f.name].state_shapes_of(f.params).items()
    }
    with np.load(file, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    if {name: a.shape for name, a in arrays.items()} != expected or any(a.dtype != np.float32 for a in arrays.values()):
        return None
    return tuple(
        {name.split("/", 1)[1]: a for name, a in arrays.items() if name.startswith(f"{index}/")}
        if FEATURES[f.name].fitted
        else None
        for index, f in enumerate(features)
    )


def no_states(features) -> tuple:
    """The states of ``features`` when none is fitted; ValueError if one needs a state."""
    fitted = [f.name for f in features if FEATURES[f.name].fitted]
    if fitted:
        raise ValueError(f"features {', '.join(fitted)} need a fitted state (see fit_features)")
    return (None,) * len(features)


def chunk_images(height: int, width: int, n_features: int, dtype) -> int:
    """Images per extraction chunk: ``CHUNK_BYTES`` of images and their features, at least 1."""
    per_image = height * width * 3 + n_features * np.dtype(dtype).itemsize
    return max(1, CHUNK_BYTES // per_image)


def extract_features(
    images: ImageRows,
    features,
    dtype="float32",
    progress: bool = True,
    states=None,
    out: np.ndarray | None = None,
    mapper=None,
) -> np.ndarray:
    """(n_images, height, width, 3) uint8 -> (n_images, n_features) of ``dtype``, written into
    ``out`` if given (e.g. a memory-mapped file: then only the chunks being worked on are in
    memory, whatever the number of images).

    Extractors run in order on chunks of images (``chunk_images``) and write into one matrix, so
    peak memory is the result plus a chunk's temporaries per thread; the chunks run side by side
    on the threads of ``nn.parallel`` (NumPy releases the GIL in its passes). ``images`` may be
    any array-like whose slices are arrays (a memory map, ``ShardedImages``). ``states`` as from
    ``fit_features`` (None: no extractor is fitted). ``mapper`` (see ``features.spread``) runs
    shards of whole chunks on a cluster's workers instead: the same chunks, so the same bytes.
    """
    states = no_states(features) if states is None else tuple(states)
    n, height, width = images.shape[:3]
    bounds = np.cumsum([0, *feature_widths(features, height, width)])
    X = np.empty((n, bounds[-1]), dtype=dtype) if out is None else out
    size = chunk_images(height, width, int(bounds[-1]), dtype)
    if mapper is not None:
        from .spread import extract_spread

        extract_spread(images, features, states, dtype, size, X, mapper)
        return X
    lock = threading.Lock()
    with bar(n, "features", unit="img") if progress and n > size else bar(0, "") as progress_bar:

        def extract_chunk(index: int) -> None:
            start = index * size
            chunk = np.asarray(images[start : start + size])
            extract_into(chunk, features, states, dtype, bounds, X[start : start + len(chunk)])
            with lock:
                progress_bar.update(len(chunk))

        n_chunks = -(-n // size)
        if any(FEATURES[f.name].fitted for f in features):  # bow encodes on its own threads
            for index in range(n_chunks):
                extract_chunk(index)
        else:  # chunks side by side: each image's features depend on that image alone
            parallel.run(extract_chunk, n_chunks)
    return X


def extract_into(chunk: np.ndarray, features, states: tuple, dtype, bounds, out: np.ndarray) -> None:
    """Every extractor on ``chunk`` (n_images, height, width, 3) uint8, each writing its columns
    ``bounds[i]:bounds[i + 1]`` of ``out`` (n_images, n_features)."""
    for feature, state, lo, hi in zip(features, states, bounds[:-1], bounds[1:]):
        extra = {"state": state} if FEATURES[feature.name].fitted else {}
        out[:, lo:hi] = FEATURES[feature.name].extract(chunk, dtype=dtype, **extra, **feature.params)


def state_digest(state: dict | None) -> str | None:
    """A hash of a fitted state's names, dtypes, shapes and bytes (None for no state)."""
    if state is None:
        return None
    digest = hashlib.sha256()
    for name in sorted(state):
        array = np.ascontiguousarray(state[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def cache_key(fingerprint: str, features, dtype, states=None) -> str:
    states = (None,) * len(features) if states is None else states
    description = {
        "data": fingerprint,
        "dtype": np.dtype(dtype).name,
        "version": CACHE_VERSION,
        "features": [
            {"name": f.name, **f.params, **({"state": state_digest(s)} if s is not None else {})}
            for f, s in zip(features, states)
        ],
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:24]


def cached_features(
    dataset, features, dtype="float32", cache_dir: str | None = ".mlpcli-cache", states=None, mapper=None
) -> np.ndarray:
    """``extract_features`` for a Dataset into a memory-mapped ``.npy`` (read-only), reusing the
    matrix saved by an earlier run on the same data (by fingerprint) with the same parameters and
    fitted states. ``cache_dir=None`` bypasses the cache (the matrix goes to a scratch file); a
    damaged entry is rebuilt and an unwritable cache folder only warned about (see ``cache``).
    ``mapper``: extract on a cluster's workers (``extract_features``)."""
    states = no_states(features) if states is None else tuple(states)
    n, height, width = dataset.images.shape[:3]
    shape = (n, sum(feature_widths(features, height, width)))
    path = None
    if cache_dir is not None and dataset.fingerprint is not None:
        path = Path(cache_dir) / f"features-{cache_key(dataset.fingerprint, features, dtype, states)}.npy"
        X = cache.load_mapped(path, shape, dtype, "features")
        if X is not None:
            log.info("features: loaded from cache %s", path)
            return X
    started = time.perf_counter()

    def fill(out: np.ndarray) -> None:
        extract_features(dataset.images, features, dtype, states=states, out=out, mapper=mapper)

    X = cache.mapped_array(path, shape, dtype, fill, "features")
    log.info("features: extracted %d x %d in %.1f s", *X.shape, time.perf_counter() - started)
    return X
