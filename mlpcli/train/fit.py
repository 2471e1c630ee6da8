"""From a validated Config to a trained model: data, features, network, training, metrics.

``train`` and ``kfold`` share these steps; only how rows are split differs.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__, cache, seeding
from ..cache_folder import enforce_limit
from ..data import Dataset, load_dataset
from ..data.shape import preprocess_of
from ..data.split import balance_warnings, holdout_rows, require_two_classes
from ..features import FEATURES, FeatureConfig
from ..features.pipeline import cached_features, cached_fit
from ..features.standardize import Standardizer, check_finite
from ..memory import return_freed_memory
from ..metrics import confusion_matrix
from ..nn import Layer, Sequential, build_extractor, mlp_layers
from ..predictor import Predictor
from ..progress import log
from .augment import active
from .copies import augmented_features
from .imbalance import check_class_weight, class_weights
from .loop import History, Trainer, evaluate_rows
from .tta import mirrored_features

RAW = (FeatureConfig("raw", {}),)


def network_features(config) -> tuple:
    """What the network's input rows are made of: the configured features, or raw pixels for
    the end-to-end extractor."""
    return RAW if config.mode == "end_to_end" else config.features


def augmentation(config) -> str | None:
    """How ``train.augment`` reaches the network's input: ``pixels`` (raw rows augmented in each
    minibatch: ``features: [raw]`` and mode end_to_end, where it costs nothing beyond the
    augmentation itself), ``copies`` (any other features: augmented copies extracted once and
    cached, see ``train.copies``), or None (no augmentation)."""
    if not active(config.train.augment):
        return None
    return "pixels" if network_features(config) == RAW else "copies"


@dataclass
class Prepared:
    """The data set and its unstandardized feature matrix X (n_samples, n_features); ``states``
    are the fitted extractors' states (aligned with ``features``, None for unfitted ones),
    fitted on the training rows only; ``mirrored`` (n_samples, n_features), when k-fold made it
    for ``train.tta: flip``, the features of every image's left-right mirror (``train.tta``)."""

    dataset: Dataset
    X: np.ndarray
    features: tuple
    states: tuple | None = None  # None: (None,) * len(features), filled in by __post_init__
    mirrored: np.ndarray | None = None

    def __post_init__(self):
        if self.states is None:
            self.states = (None,) * len(self.features)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        height, width = self.dataset.images.shape[1:3]
        return (height, width, 3)


def resolve(config):
    """The config a run records: ``seed: null`` draws a seed (so the run can be repeated) and a
    relative ``data.path`` (and ``data.val_path``) becomes absolute (so ``--resume`` works from
    any directory)."""
    if config.seed is None:
        config = dataclasses.replace(config, seed=seeding.draw_seed())
    for key in ("path", "val_path"):
        path = getattr(config.data, key)
        if path is not None and not Path(path).is_absolute():
            data = dataclasses.replace(config.data, **{key: str(Path(path).resolve())})
            config = dataclasses.replace(config, data=data)
    return config


def recorded_config(written, resolved) -> str:
    """``resolved`` as YAML for the run's config.yaml, saying how a relative data.path was written."""
    from ..config import dump_yaml

    note = ""
    if written is not None and written.data.path != resolved.data.path:
        note = f"# data.path was written as {written.data.path!r} (resolved in {Path.cwd()})\n"
    return note + dump_yaml(resolved)


def prepare(config, use_cache: bool = True, split: str = "train", split_config=None, mapper=None) -> Prepared:
    """Load the data, fit the fitted extractors on the training rows (``fitting_rows`` of
    ``split_config``, default ``config``) and extract features once for every row (from the disk
    cache when possible). k-fold passes its base config as ``split_config``: every candidate of
    a grid or search shares its holdout, so no candidate's vocabulary sees a holdout row.
    ``mapper`` (``--cluster``): image files are decoded and features extracted in shards on a
    cluster's workers, to the same bytes (see ``features.spread``); fitting stays here."""
    dataset = load_dataset(config.data, config.seed, cache=use_cache, mapper=mapper)
    require_two_classes(dataset.labels, dataset.class_names, config.data.path or f"{config.data.format} data")
    check_class_weight(config.train.class_weight, dataset.class_names)  # before any extraction or fold
    features = network_features(config)
    log.info("data: %d images, %d classes, %dx%d", len(dataset), len(dataset.class_names), *dataset.images.shape[1:3])
    states = (None,) * len(features)
    if any(FEATURES[f.name].fitted for f in features):
        rows = fitting_rows(split_config or config, dataset.labels, split, dataset.fixed_val)
        states = cached_fit(dataset, rows, features, config.seed, config.data.cache_dir if use_cache else None)
    cache_dir = config.data.cache_dir if use_cache else None
    if augmentation(config) == "copies":
        X = augmented_features(
            dataset, features, config.model.dtype, cache_dir, states, config.train.augment, config.seed
        )
    else:
        X = cached_features(dataset, features, config.model.dtype, cache_dir, states, mapper)
    check_finite(X, f"features of {config.data.path or config.data.format + ' data'}")
    if use_cache:
        enforce_limit(config.data.cache_dir, int(config.data.cache_max_gb * 1e9), cache.used_paths())
    return_freed_memory()  # what decoding and extraction freed, kept by the heap, grows with the images
    return Prepared(dataset, X, features, states)


def fitting_rows(config, labels: np.ndarray, split: str, fixed_val=None) -> np.ndarray:
    """The rows fitted extractors learn from: never a validation row. ``split`` is ``train`` (the
    training rows of ``holdout_split``) or ``kfold`` (all rows outside ``kfold.holdout``, as every
    fold validates on some of the others; kfold and search)."""
    if split == "train":
        return holdout_split(config, labels, fixed_val)[0]
    if split == "kfold":
        return holdout_rows(labels, config.kfold.holdout, config.seed)[0]
    raise ValueError(f"split must be train or kfold; got {split!r}")


def build_network(config, n_features: int, n_classes: int, image_shape, rng) -> Sequential:
    """The configured MLP, behind the trainable extractor in end-to-end mode."""
    model = config.model
    layers: list[Layer] = []
    if config.mode == "end_to_end":
        extractor = config.extractor
        blocks = [dataclasses.asdict(b) for b in extractor.blocks]
        layers, n_features = build_extractor(
            blocks,
            image_shape,
            extractor.init,
            extractor.trainable,
            rng,
            model.dtype,
            extractor.batchnorm,
            extractor.norm_after_pool,
        )
    layers += mlp_layers(
        n_features,
        n_classes,
        list(model.hidden),
        model.activation,
        model.init,
        rng,
        model.dtype,
        model.bias,
        model.dropout,
        model.batchnorm,
    )
    return Sequential(layers)


@dataclass
class Trained:
    predictor: Predictor
    history: History
    metrics: dict


def train_model(
    config,
    prepared: Prepared,
    train_rows,
    val_rows,
    stream: tuple[int, ...] = (),
    label: str = "",
    checkpoint=None,
    stop=None,
) -> Trained:
    """Fit a fresh network on ``train_rows``, validating on ``val_rows``.

    ``stream`` selects independent random sub-streams (e.g. one per fold) from the config's seed.
    ``checkpoint`` (a path) and ``stop`` (a StopFlag) make the training resumable; see Trainer.fit.
    ``prepared.X`` is usually a read-only memory map shared with other runs (folds, trials): each
    minibatch is standardized as it is gathered, and X is never copied or written.
    """
    started = time.perf_counter()
    X, y = prepared.X, prepared.dataset.labels
    n_classes = len(prepared.dataset.class_names)
    data_warnings = balance_warnings(y, np.concatenate([train_rows, val_rows]), val_rows, prepared.dataset.class_names)
    for warning in data_warnings:
        log.warning("%swarning: %s", f"{label}: " if label else "", warning)
    standardizer = Standardizer.fit(X, train_rows)
    network = build_network(
        config, X.shape[1], n_classes, prepared.image_shape, seeding.rng(config.seed, "init", *stream)
    )
    trainer = build_trainer(config, prepared, network, standardizer, train_rows, stream, label)
    weights = trainer.class_weights
    if config.train.tta == "flip":
        trainer.val_mirror = mirrored_features(prepared, val_rows, config.model.dtype, label)
    history = trainer.fit(X, y, train_rows, val_rows, checkpoint, stop)
    splits, mirrored = {"train": train_rows, "val": val_rows}, {"val": trainer.val_mirror}
    metrics = split_metrics(network, standardizer, X, y, splits, config.model.loss, n_classes, mirrored)
    metrics.update(_run_facts(prepared, history, data_warnings, time.perf_counter() - started))
    if weights is not None:  # balanced's numbers depend on the training rows: record what was used
        metrics["class_weights"] = dict(zip(prepared.dataset.class_names, weights.tolist()))
    return Trained(_predictor(config, prepared, network, standardizer), history, metrics)


def _predictor(config, prepared: Prepared, network, standardizer) -> Predictor:
    """The trained ``network`` with everything ``predict`` needs to feed it as in training."""
    dataset = prepared.dataset
    return Predictor(
        network,
        standardizer,
        dataset.class_names,
        dataset.images.shape[1:3],
        prepared.features,
        config.model.loss,
        prepared.states,
        preprocess_of(config.data),
        config.train.tta,
    )


def _run_facts(prepared: Prepared, history, data_warnings: list, seconds: float) -> dict:
    """What ``metrics.json`` records beside the scores: epochs, time, warnings, versions, data."""
    return {
        "epochs": len(history.epochs),
        "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early,
        "seconds": seconds,
        "warnings": data_warnings,
        "class_names": list(prepared.dataset.class_names),
        "mlpcli_version": __version__,
        "data_fingerprint": prepared.dataset.fingerprint,
    }


def build_trainer(config, prepared: Prepared, network, standardizer, train_rows, stream: tuple, label: str) -> Trainer:
    """The Trainer of ``network`` under ``config.train``: its seeded generators (sub-streams
    ``stream``), where augmentation applies, the class weights of the training rows."""
    X, y = prepared.X, prepared.dataset.labels
    rngs = {name: seeding.rng(config.seed, name, *stream) for name in ("shuffle", "augment", "dropout")}
    how = augmentation(config)
    if how == "copies" and len(X) == len(y):
        raise ValueError("train.augment: X holds no augmented copies; prepare() it with this config")
    weights = class_weights(config.train.class_weight, y[train_rows], prepared.dataset.class_names)
    return Trainer(
        network,
        standardizer,
        config.train,
        config.model,
        rngs,
        prepared.image_shape if how == "pixels" else None,
        label,
        n_copies=len(X) // len(y) - 1 if how == "copies" else 0,
        class_weights=weights,
    )


def split_metrics(
    network, standardizer, X, y, splits: dict, loss_name: str, n_classes: int, mirrored: dict | None = None
) -> dict:
    """{split: {"accuracy", "loss", "n", "confusion"}} for each named set of rows; ``confusion``
    is (n_classes, n_classes) counts as nested lists, rows true classes (all zero for no rows),
    so ``show`` can draw the validation confusion without a separate evaluation. ``mirrored``
    {split: mirrored rows' features or None} scores that split with test-time flips."""
    result = {}
    for name, rows in splits.items():
        loss, acc, predicted = evaluate_rows(network, X, y, rows, standardizer, loss_name, (mirrored or {}).get(name))
        result[name] = {
            "accuracy": acc,
            "loss": loss,
            "n": int(len(rows)),
            "confusion": confusion_matrix(y[rows], predicted, n_classes).tolist(),
        }
    return result


def holdout_split(config, labels: np.ndarray, fixed_val: np.ndarray | None = None):
    """The train/validation rows: the fixed split ``fixed_val`` (n_samples,) bool if given
    (``data.val_path``, a CSV's split column), else ``data.val_fraction``, stratified and seeded."""
    if fixed_val is not None:
        return np.flatnonzero(~fixed_val), np.flatnonzero(fixed_val)
    return holdout_rows(labels, config.data.val_fraction, config.seed)
