"""Model bundles on disk: JSON and npz only, never pickle.

A model bundle is a folder with ``model.json`` (what the model is) and ``weights.npz`` (its
arrays: ``network/<path>``, ``standardizer/mean|std`` and, for each fitted feature extractor,
``features/<index>/<name>``, float32 of the shapes its ``state_shapes`` gives). An ensemble
bundle's ``model.json`` lists member bundles in sub-folders instead.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import numpy as np

from ..data.shape import Preprocess
from ..errors import ArtifactError
from ..features import FEATURES
from ..features.standardize import Standardizer
from ..fileio import atomic_save_npz, make_dir, write_json
from ..predictor import FoldEnsemble, Predictor
from .rundir import MODEL, WEIGHTS
from .schema import (
    FORMAT,
    FORMAT_VERSION,
    Description,
    build_network,
    check_buffers,
    describe,
    feature_state_shapes,
    member_dir,
)

#: model.json is a few kilobytes; a huge one is not a model description.
MAX_META_BYTES = 1 << 24


def save_model(directory: str | Path, predictor: Predictor | FoldEnsemble, member_dirs=None) -> None:
    """Write ``model.json`` (+ ``weights.npz`` for a single network) into ``directory``.

    For an ensemble, ``member_dirs`` are the members' bundle folders (already saved), relative to
    ``directory``.
    """
    directory = Path(directory)
    make_dir(directory)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class_names": list(predictor.class_names),
        "image_size": list(predictor.image_size),
        "features": [{"name": f.name, **f.params} for f in predictor.features],
        "preprocess": predictor.preprocess.describe(),
        "tta": predictor.tta,
    }
    if isinstance(predictor, FoldEnsemble):
        meta.update(kind="ensemble", members=[str(m) for m in member_dirs])
    else:
        meta.update(
            kind="network", loss=predictor.loss, dtype=predictor.dtype.name, architecture=predictor.network.spec()
        )
        arrays = {f"network/{path}": value for path, value in predictor.network.state_dict().items()}
        arrays["standardizer/mean"] = predictor.standardizer.mean
        arrays["standardizer/std"] = predictor.standardizer.std
        for index, state in enumerate(predictor.states):
            for name, value in (state or {}).items():
                arrays[f"features/{index}/{name}"] = value
        atomic_save_npz(directory / WEIGHTS, arrays)
    write_json(directory / MODEL, meta)


def load_model(directory: str | Path) -> Predictor | FoldEnsemble:
    """Load a bundle saved by ``save_model``; any problem is an ArtifactError naming the file.

    Nothing in the bundle is trusted: ``model.json`` is checked against the schema in
    ``schema`` and ``weights.npz`` against the architecture before its arrays are read, and
    no pickle is ever loaded. ``directory`` may also name the bundle's ``model.json`` itself.
    """
    directory = Path(directory).expanduser()
    if directory.name == MODEL and directory.is_file():
        directory = directory.parent
    elif not directory.exists():
        raise ArtifactError(
            f"{directory}: no such run directory (train one with `mlpcli train`, or "
            f"pass a run directory or its {MODEL})"
        )
    description = describe(_read_meta(directory), directory / MODEL)
    if description.kind == "network":
        return _load_network(directory, description)
    return _load_ensemble(directory, description)


def _load_ensemble(directory: Path, description: Description) -> FoldEnsemble:
    """Members are network bundles inside ``directory`` (never ensembles: no recursion)."""
    path = directory / MODEL
    members = []
    for member in description.members:
        folder = member_dir(directory, member, path)
        member_description = describe(_read_meta(folder), folder / MODEL)
        if member_description.kind != "network":
            raise ArtifactError(f"{folder / MODEL}: an ensemble member must be a single network")
        members.append(_load_network(folder, member_description))
    try:
        ensemble = FoldEnsemble(members)
    except ValueError as exc:
        raise ArtifactError(f"{path}: {exc}") from None
    if ensemble.preprocess.describe() != description.preprocess:
        raise ArtifactError(
            f"{path}: the ensemble's preprocess differs from its members' "
            f"({description.preprocess} vs {ensemble.preprocess.describe()})"
        )
    for attribute in ("class_names", "image_size", "features", "tta"):
        if getattr(ensemble, attribute) != getattr(description, attribute):
            raise ArtifactError(
                f"{path}: the ensemble's {attribute} differ from its members' "
                f"({getattr(description, attribute)} vs {getattr(ensemble, attribute)})"
            )
    return ensemble


def _read_meta(directory: Path):
    """The parsed ``model.json`` of ``directory`` (any JSON value; ``describe`` checks it)."""
    path = directory / MODEL
    if not path.is_file():
        raise ArtifactError(
            f"{directory}: not a model directory, {path.name} is missing "
            f"(an unfinished run has none; `mlpcli show {directory}` says more)"
        )
    try:
        if path.stat().st_size > MAX_META_BYTES:
            raise ArtifactError(f"{path}: {path.stat().st_size} bytes, too large for a model description")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and integers too long to convert.
        raise ArtifactError(f"{path}: unreadable model description ({type(exc).__name__}: {exc})") from None


def _load_network(directory: Path, description: Description) -> Predictor:
    if description.loss is None:  # only an ensemble has none, and an ensemble loads its members
        raise ArtifactError(f"{directory / MODEL}: no loss recorded; the model is unusable")
    network = build_network(description, directory / MODEL)
    expected = {f"network/{key}": value.shape for key, value in network.state_dict().items()}
    expected["standardizer/mean"] = expected["standardizer/std"] = (description.n_features,)
    dtypes = dict.fromkeys(expected, np.dtype(description.dtype))
    for key, shape in feature_state_shapes(description.features).items():
        expected[key], dtypes[key] = shape, np.dtype(np.float32)
    path = directory / WEIGHTS
    arrays = _read_weights(path, expected, dtypes)
    if not all(np.isfinite(value).all() for value in arrays.values()):
        raise ArtifactError(f"{path}: contains non-finite values; the model is unusable")
    if not (arrays["standardizer/std"] > 0).all():
        raise ArtifactError(f"{path}: standardizer/std has values <= 0; the model is unusable")
    network.load_state_dict(
        {key.removeprefix("network/"): value for key, value in arrays.items() if key.startswith("network/")}
    )
    check_buffers(network, path)
    standardizer = Standardizer(arrays["standardizer/mean"], arrays["standardizer/std"])
    return Predictor(
        network,
        standardizer,
        description.class_names,
        description.image_size,
        description.features,
        description.loss,
        _states(description.features, arrays),
        Preprocess(description.image_size, **description.preprocess),
        description.tta,
    )


def _states(features, arrays: dict) -> tuple:
    """The fitted states of ``features`` from the ``features/<index>/<name>`` arrays."""
    states = []
    for index, feature in enumerate(features):
        prefix = f"features/{index}/"
        state = {key.removeprefix(prefix): value for key, value in arrays.items() if key.startswith(prefix)}
        states.append(state if FEATURES[feature.name].fitted else None)
    return tuple(states)


def _read_weights(path: Path, expected: dict[str, tuple], dtypes: dict[str, np.dtype]) -> dict[str, np.ndarray]:
    """The arrays of ``weights.npz``, which must be exactly ``expected`` ({name: shape}) of
    ``dtypes`` ({name: dtype}).

    Each member's npy header is checked before its data is read, so a tampered header can neither
    make us allocate more than the architecture needs nor smuggle in a pickled object array.
    """
    if not path.is_file():
        raise ArtifactError(f"{path}: weights file is missing")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            stored = {name.removesuffix(".npy") for name in names}
            if len(stored) != len(names) or stored != set(expected):
                raise ArtifactError(
                    f"{path}: weights do not match model.json (missing "
                    f"{sorted(set(expected) - stored)}, unexpected {sorted(stored - set(expected))})"
                )
            return {key: _read_member(archive, f"{key}.npy", expected[key], dtypes[key], path) for key in expected}
    except ArtifactError:
        raise
    except Exception as exc:  # a damaged zip raises many kinds (BadZipFile, EOFError, zlib.error ...)
        raise ArtifactError(f"{path}: unreadable weights ({type(exc).__name__}: {exc})") from None


def _read_member(archive: zipfile.ZipFile, name: str, shape: tuple, dtype: np.dtype, path: Path) -> np.ndarray:
    with archive.open(name) as handle:
        version = np.lib.format.read_magic(handle)
        if version not in ((1, 0), (2, 0)):
            raise ArtifactError(f"{path}: {name}: unsupported npy format version {version}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        stored_shape, fortran_order, stored_dtype = read_header(handle)
        if stored_shape != shape or stored_dtype != dtype:
            raise ArtifactError(
                f"{path}: weights do not match model.json ({name} is {stored_shape} "
                f"{stored_dtype}, expected {shape} {dtype})"
            )
        size = math.prod(shape) * dtype.itemsize
        data = handle.read(size)
        # Reading on to the end makes zipfile check the CRC, so flipped bytes are caught too.
        if len(data) != size or handle.read(1):
            raise ArtifactError(
                f"{path}: {name} holds {'less' if len(data) != size else 'more'} data "
                f"than its header declares (truncated or tampered)"
            )
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")
    return array.copy()
