"""From images to class probabilities: one trained network, or an ensemble of fold networks."""

from __future__ import annotations

import numpy as np

from .choices import TTA_MODES
from .data.shape import Preprocess
from .features.pipeline import extract_features, state_digest
from .imagerows import ImageRows
from .nn import softmax

#: Values (floats) one evaluation chunk may hold at its widest layer: with the im2col rows of a
#: convolution counted, a chunk's temporaries stay near a few tens of MB, small beside the
#: feature matrix being scored (scoring the 45,000 training rows of raw CIFAR-10 at the end of a
#: run added 190 MB to the process's peak with 4x these sizes), and no slower: the products of a
#: 1,024-row chunk already run at the BLAS rate.
EVAL_VALUES = 1 << 23
#: Rows per evaluation chunk at most, for networks whose layers are all narrow.
EVAL_CHUNK = 1024


def network_scores(network, X: np.ndarray, rows: np.ndarray | None, standardizer) -> np.ndarray:
    """Class scores (len(rows), n_classes) for ``X[rows]`` (all of X if ``rows`` is None),
    computed in chunks sized from the network's widest layer."""
    per_sample = network.values_per_sample((X.shape[1],))
    chunk = max(1, min(EVAL_CHUNK, EVAL_VALUES // per_sample))
    n = len(X) if rows is None else len(rows)
    parts = []
    for start in range(0, n, chunk):
        # All rows: a slice is a view, so standardizing makes the chunk's only copy.
        part = X[start : start + chunk] if rows is None else X[rows[start : start + chunk]]
        parts.append(network.forward(standardizer.transform(part), training=False))
    if not parts:
        return np.empty((0, 0), dtype=X.dtype)
    return np.concatenate(parts)


class Mirrored:
    """The left-right mirror of images (n_images, height, width, 3), read slice by slice.

    Only the column axis is reversed (row r, column c comes from column width-1-c), lazily, so
    any array-like ``images`` (a memory map, ``ShardedImages``) is mirrored without a copy of
    the whole set. Each slice is made contiguous: extractors then see the same memory layout as
    for any decoded image, so their sums run in the same order.
    """

    def __init__(self, images) -> None:
        self.images = images
        self.shape = tuple(images.shape)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(self.images[index])[..., ::-1, :])


def flip_average(predict, images) -> np.ndarray:
    """Test-time flips: the mean of ``predict(images)`` and ``predict`` of their mirror, both
    (n_images, n_classes) probabilities; a flipped object looks like the original to a person,
    so the two passes' errors partly cancel."""
    return (predict(images) + predict(Mirrored(images))) / 2


def check_tta(tta: str) -> str:
    if tta not in TTA_MODES:
        raise ValueError(f"tta must be one of {', '.join(TTA_MODES)}; got {tta!r}")
    return tta


class Predictor:
    """A trained network with the preprocessing it was trained with.

    ``features`` is the list of FeatureConfig the network's input was made with (``raw`` in
    end-to-end mode); ``states`` their fitted states (None for an unfitted extractor; see
    ``features.pipeline``); ``standardizer`` holds the training rows' statistics; ``preprocess``
    (a ``data.shape.Preprocess``) how a file becomes its input image (default: squash to RGB);
    ``tta`` the test-time augmentation ``predict_proba`` applies (``choices.TTA_MODES``).
    """

    def __init__(
        self,
        network,
        standardizer,
        class_names,
        image_size,
        features,
        loss: str = "softmax",
        states=None,
        preprocess=None,
        tta: str = "none",
    ):
        self.network = network
        self.standardizer = standardizer
        self.class_names = tuple(class_names)
        self.image_size = tuple(image_size)
        self.preprocess = preprocess or Preprocess(self.image_size)
        if tuple(self.preprocess.size) != self.image_size:
            raise ValueError(f"preprocess size {self.preprocess.size} differs from image_size {self.image_size}")
        self.features = tuple(features)
        self.states = (None,) * len(self.features) if states is None else tuple(states)
        if len(self.states) != len(self.features):
            raise ValueError(f"{len(self.states)} feature states for {len(self.features)} features")
        self.loss = loss
        self.tta = check_tta(tta)

    @property
    def dtype(self):
        return self.network.dtype

    def extract(self, images: ImageRows) -> np.ndarray:
        """(n_images, height, width, 3) uint8 -> unstandardized features (n_images, n_features)."""
        return extract_features(images, self.features, self.dtype, progress=len(images) > 10000, states=self.states)

    def predict_proba_features(self, X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Features (n_samples, n_features) -> probabilities (n_samples, n_classes) of ``X[rows]``
        (all rows if None), gathered chunk by chunk (``X`` may be a memory map larger than memory).

        Scores go through a softmax whatever the training loss, so outputs are comparable
        probabilities (for the squared loss they are a monotone reading of the scores).
        """
        return softmax(network_scores(self.network, X, rows, self.standardizer))

    def predict_proba(self, images: ImageRows) -> np.ndarray:
        """Images (n_images, height, width, 3) uint8 -> probabilities (n_images, n_classes),
        averaged with the mirrored images' when ``tta`` is flip."""
        return _predict_images(self, images)


def _predict_images(model, images) -> np.ndarray:
    def plain(batch) -> np.ndarray:
        return model.predict_proba_features(model.extract(batch))

    return flip_average(plain, images) if model.tta == "flip" else plain(images)


def state_digests(states) -> tuple:
    return tuple(state_digest(state) for state in states)


class FoldEnsemble:
    """k fold models that predict with the mean of their probabilities.

    Each member saw a different part of the data, so their overfitting to noise partly cancels.
    All members share classes, image size and features, so features are extracted once.
    """

    def __init__(self, members: list[Predictor]) -> None:
        first = members[0]
        for index, member in enumerate(members[1:], start=2):
            for attribute in ("class_names", "image_size", "preprocess", "features", "dtype", "tta"):
                if getattr(member, attribute) != getattr(first, attribute):
                    raise ValueError(
                        f"ensemble member {index} has different {attribute} than member 1: "
                        f"{getattr(member, attribute)} vs {getattr(first, attribute)}"
                    )
            if state_digests(member.states) != state_digests(first.states):
                raise ValueError(
                    f"ensemble member {index} has different fitted feature states than "
                    "member 1 (the folds of one run share one)"
                )
        self.members = list(members)
        self.class_names = first.class_names
        self.image_size = first.image_size
        self.preprocess = first.preprocess
        self.features = first.features
        self.states = first.states
        self.tta = first.tta

    def extract(self, images: ImageRows) -> np.ndarray:
        return self.members[0].extract(images)

    def predict_proba_features(self, X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        total = self.members[0].predict_proba_features(X, rows)
        for member in self.members[1:]:
            total += member.predict_proba_features(X, rows)
        return total / len(self.members)

    def predict_proba(self, images: ImageRows) -> np.ndarray:
        return _predict_images(self, images)
