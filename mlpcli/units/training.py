"""One unit of k-fold or search work: a pure function from (config, rows, seed stream) to arrays.

``train_unit`` trains one network on ``train_rows`` and validates on ``val_rows``; it writes no
file and returns plain data (weights, standardization, history, metrics), so whoever runs it (this
process, a worker process, a Dask worker) gives the same bytes, and only the client writes the run
directory (``rebuild`` turns the output back into a model to save). The data travels separately:
``X`` and ``labels`` are shared with each worker once; ``UnitData`` is the small rest.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Dataset
from ..data.shape import preprocess_of
from ..errors import TrainingDiverged
from ..features.standardize import Standardizer
from ..predictor import Predictor
from ..progress import log
from ..train.fit import Prepared, Trained, build_network, train_model
from ..train.loop import History


@dataclass(frozen=True)
class UnitData:
    """What a unit needs of the prepared data besides X and the labels."""

    class_names: tuple
    image_shape: tuple  # (height, width, 3)
    features: tuple
    states: tuple = ()  # the fitted feature states (small: a vocabulary, a whitening matrix)
    fingerprint: str | None = None  # the data's, recorded in each unit's metrics as in a train run

    @classmethod
    def of(cls, prepared: Prepared) -> UnitData:
        return cls(
            tuple(prepared.dataset.class_names),
            prepared.image_shape,
            tuple(prepared.features),
            tuple(prepared.states or ()),
            prepared.dataset.fingerprint,
        )

    def prepared(self, X: np.ndarray, labels: np.ndarray, mirrored: np.ndarray | None = None) -> Prepared:
        # No images: training needs only their shape, which an empty array keeps.
        images = np.empty((0, *self.image_shape), dtype=np.uint8)
        dataset = Dataset(images, labels, self.class_names, self.fingerprint)
        return Prepared(dataset, X, self.features, self.states or None, mirrored)


def share_data(executor, prepared: Prepared) -> tuple:
    """(X, labels, UnitData, mirrored) of ``prepared`` for ``train_unit``'s arguments of those
    names: the arrays shared with ``executor``'s workers once (``mirrored`` None if there is none)."""
    mirrored = None if prepared.mirrored is None else executor.share(prepared.mirrored)
    return executor.share(prepared.X), executor.share(prepared.dataset.labels), UnitData.of(prepared), mirrored


@dataclass(frozen=True)
class UnitOutput:
    """A trained network as plain data: ``weights`` by parameter path, the standardizer's ``mean``
    and ``std`` (n_features,), the history and the metrics; ``diverged`` (a message) and
    ``diverged_epoch`` (1-based, as ``TrainingDiverged.epoch``) instead when training diverged,
    with the other fields empty."""

    weights: dict
    mean: np.ndarray | None
    std: np.ndarray | None
    history: History | None
    metrics: dict
    diverged: str | None = None
    diverged_epoch: int | None = None


def train_unit(
    config,
    X: np.ndarray,
    labels: np.ndarray,
    data: UnitData,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    stream: tuple = (),
    label: str = "",
    quiet: bool = False,
    mirrored: np.ndarray | None = None,
    *,
    checkpoint: Path | None = None,
    stop=None,
) -> UnitOutput:
    """Train ``config`` on ``X[train_rows]`` (X (n_samples, n_features), labels (n_samples,) int64).

    ``stream`` picks the random sub-streams (a fold's number), so the result depends only on the
    arguments. ``quiet`` keeps the per-epoch log and progress bars off (a search shows its own table).
    ``mirrored`` (n_samples, n_features): the mirrored images' features, for ``train.tta: flip``.
    A diverged training is a result (``diverged``), not an error: a search ranks it last.
    ``checkpoint`` and ``stop`` (in this process only, ``units.inline``): continue from that file,
    and when ``stop`` is set save it and raise ``Interrupted``; the result is the same bytes.
    """
    with _log_level(logging.WARNING if quiet else None):
        try:
            trained = train_model(
                config,
                data.prepared(X, labels, mirrored),
                train_rows,
                val_rows,
                stream=stream,
                label=label,
                checkpoint=checkpoint,
                stop=stop,
            )
        except TrainingDiverged as exc:
            return UnitOutput({}, None, None, None, {}, diverged=str(exc), diverged_epoch=exc.epoch)
    predictor = trained.predictor
    return UnitOutput(
        predictor.network.state_dict(),
        predictor.standardizer.mean,
        predictor.standardizer.std,
        trained.history,
        trained.metrics,
    )


@contextmanager
def _log_level(level: int | None):
    saved = log.level
    if level is not None:
        log.setLevel(max(level, log.getEffectiveLevel()))
    try:
        yield
    finally:
        log.setLevel(saved)


def rebuild(config, data: UnitData, output: UnitOutput) -> Trained:
    """The ``Trained`` model a unit returned, ready for ``records.save_run``."""
    if output.mean is None or output.std is None or output.history is None:
        raise ValueError(f"rebuild: the unit diverged ({output.diverged}); it has no network to rebuild")
    network = build_network(
        config, output.mean.size, len(data.class_names), data.image_shape, np.random.default_rng(0)
    )  # any initialization: the weights replace it
    network.load_state_dict(output.weights)
    predictor = Predictor(
        network,
        Standardizer(output.mean, output.std),
        data.class_names,
        data.image_shape[:2],
        data.features,
        config.model.loss,
        data.states or None,
        preprocess_of(config.data),
        config.train.tta,
    )
    return Trained(predictor, output.history, output.metrics)
