"""Run directories and model bundles on disk: JSON and npz only, never pickle.

A model bundle is a folder with ``model.json`` (what the model is) and ``weights.npz`` (its
arrays). An ensemble bundle's ``model.json`` lists member bundles in sub-folders instead.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np

from .errors import ArtifactError
from .features import FEATURES, FeatureConfig
from .features.standardize import Standardizer
from .fileio import atomic_save_npz, write_json
from .nn import network_from_spec
from .predictor import FoldEnsemble, Predictor

FORMAT = "mlpcli-model"
FORMAT_VERSION = 1


def new_run_dir(output_dir: str | Path, name: str, out: str | Path | None = None) -> Path:
    """Create and return a fresh run directory; never reuses one that has files in it.

    With ``out`` that folder is the run directory; otherwise ``<output_dir>/<timestamp>-<name>``.
    """
    if out is not None:
        run_dir = Path(out)
        if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
            raise ArtifactError(f"--out {run_dir}: already exists and is not empty; "
                                f"choose a new folder or remove it")
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        run_dir = Path(output_dir) / (f"{stamp}-{name}" + (f"-{attempt}" if attempt > 1 else ""))
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:
            continue
    raise ArtifactError(f"{output_dir}: cannot find a free run directory name")


def point_latest(output_dir: str | Path, run_dir: Path) -> None:
    """Make ``<output_dir>/latest`` a symlink to ``run_dir``, replacing the old link atomically."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    link = output_dir / "latest"
    if link.exists() and not link.is_symlink():
        return  # a real folder named "latest" belongs to the user; leave it alone
    tmp = output_dir / f".latest.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.path.relpath(run_dir.resolve(), output_dir.resolve()))
    os.replace(tmp, link)


def save_model(directory: str | Path, predictor: Predictor | FoldEnsemble, member_dirs=None) -> None:
    """Write ``model.json`` (+ ``weights.npz`` for a single network) into ``directory``.

    For an ensemble, ``member_dirs`` are the members' bundle folders (already saved), relative to
    ``directory``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "class_names": list(predictor.class_names), "image_size": list(predictor.image_size),
            "features": [{"name": f.name, **f.params} for f in predictor.features]}
    if isinstance(predictor, FoldEnsemble):
        meta.update(kind="ensemble", members=[str(m) for m in member_dirs])
    else:
        meta.update(kind="network", loss=predictor.loss, dtype=predictor.dtype.name,
                    architecture=predictor.network.spec())
        arrays = {f"network/{path}": value for path, value in predictor.network.state_dict().items()}
        arrays["standardizer/mean"] = predictor.standardizer.mean
        arrays["standardizer/std"] = predictor.standardizer.std
        atomic_save_npz(directory / "weights.npz", arrays)
    write_json(directory / "model.json", meta)


def load_model(directory: str | Path) -> Predictor | FoldEnsemble:
    """Load a bundle saved by ``save_model``; any problem is an ArtifactError naming the file."""
    directory = Path(directory)
    meta = _read_meta(directory)
    if meta["kind"] == "ensemble":
        members = [load_model(directory / member) for member in meta["members"]]
        try:
            return FoldEnsemble(members)
        except ValueError as exc:
            raise ArtifactError(f"{directory / 'model.json'}: {exc}") from None
    return _load_network(directory, meta)


def _read_meta(directory: Path) -> dict:
    path = directory / "model.json"
    if not path.is_file():
        hint = " (train one with `mlpcli train`)" if not directory.exists() else ""
        raise ArtifactError(f"{directory}: not a model directory, {path.name} is missing{hint}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable model description ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not an mlpcli model description")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArtifactError(f"{path}: model format version {version!r} is newer than this mlpcli "
                            f"understands ({FORMAT_VERSION}); upgrade mlpcli")
    required = {"kind", "class_names", "image_size", "features"}
    required |= {"members"} if meta.get("kind") == "ensemble" else {"architecture", "loss", "dtype"}
    missing = sorted(required - set(meta))
    if missing or meta["kind"] not in ("network", "ensemble"):
        raise ArtifactError(f"{path}: malformed model description (missing {', '.join(missing) or 'kind'})")
    return meta


def _load_network(directory: Path, meta: dict) -> Predictor:
    path = directory / "model.json"
    try:
        network = network_from_spec(meta["architecture"])
        features = [_feature(item) for item in meta["features"]]
    except (TypeError, ValueError, KeyError) as exc:
        raise ArtifactError(f"{path}: invalid architecture or features ({exc})") from None
    arrays = _read_weights(directory / "weights.npz")
    state = {key.removeprefix("network/"): value for key, value in arrays.items() if key.startswith("network/")}
    try:
        network.load_state_dict(state)
        standardizer = Standardizer(arrays["standardizer/mean"], arrays["standardizer/std"])
    except (KeyError, ValueError) as exc:
        raise ArtifactError(f"{directory / 'weights.npz'}: weights do not match model.json ({exc})") from None
    if not all(np.isfinite(v).all() for v in arrays.values()):
        raise ArtifactError(f"{directory / 'weights.npz'}: contains non-finite values; the model is unusable")
    return Predictor(network, standardizer, meta["class_names"], meta["image_size"], features, meta["loss"])


def _feature(item: dict) -> FeatureConfig:
    params = {k: v for k, v in item.items() if k != "name"}
    if item["name"] not in FEATURES or set(params) - set(FEATURES[item["name"]].defaults):
        raise ValueError(f"unknown feature {item!r}")
    return FeatureConfig(item["name"], params)


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ArtifactError(f"{path}: weights file is missing")
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except Exception as exc:  # a damaged zip raises many kinds (BadZipFile, EOFError, ValueError ...)
        raise ArtifactError(f"{path}: unreadable weights ({type(exc).__name__}: {exc})") from None


def save_run(run_dir: Path, config_yaml: str, trained, extra_metrics: dict | None = None) -> None:
    """Write a training run: resolved config, metrics, per-epoch history and the model bundle."""
    from .fileio import write_text
    from .train import HISTORY_COLUMNS

    save_model(run_dir, trained.predictor)
    write_text(run_dir / "config.yaml", config_yaml)
    lines = [",".join(HISTORY_COLUMNS)]
    lines += [",".join(_csv_number(row[c]) for c in HISTORY_COLUMNS) for row in trained.history.epochs]
    write_text(run_dir / "history.csv", "\n".join(lines) + "\n")
    write_json(run_dir / "metrics.json", {**trained.metrics, **(extra_metrics or {})})


def _csv_number(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"
