"""From images to class probabilities: one trained network, or an ensemble of fold networks."""

from __future__ import annotations

import numpy as np

from .features.pipeline import extract_features
from .nn import softmax
from .train import scores_for


class Predictor:
    """A trained network with the preprocessing it was trained with.

    ``features`` is the list of FeatureConfig the network's input was made with (``raw`` in
    end-to-end mode); ``standardizer`` holds the training rows' statistics.
    """

    def __init__(self, network, standardizer, class_names, image_size, features, loss: str = "softmax"):
        self.network = network
        self.standardizer = standardizer
        self.class_names = tuple(class_names)
        self.image_size = tuple(image_size)
        self.features = tuple(features)
        self.loss = loss

    @property
    def dtype(self):
        return self.network.dtype

    def extract(self, images: np.ndarray) -> np.ndarray:
        """(n_images, height, width, 3) uint8 -> unstandardized features (n_images, n_features)."""
        return extract_features(images, self.features, self.dtype, progress=len(images) > 10000)

    def predict_proba_features(self, X: np.ndarray) -> np.ndarray:
        """Features (n_samples, n_features) -> probabilities (n_samples, n_classes).

        Scores go through a softmax whatever the training loss, so outputs are comparable
        probabilities (for the squared loss they are a monotone reading of the scores).
        """
        return softmax(scores_for(self.network, X, None, self.standardizer))

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return self.predict_proba_features(self.extract(images))


class FoldEnsemble:
    """k fold models that predict with the mean of their probabilities.

    Each member saw a different part of the data, so their overfitting to noise partly cancels.
    All members share classes, image size and features, so features are extracted once.
    """

    def __init__(self, members: list[Predictor]) -> None:
        first = members[0]
        for index, member in enumerate(members[1:], start=2):
            for attribute in ("class_names", "image_size", "features", "dtype"):
                if getattr(member, attribute) != getattr(first, attribute):
                    raise ValueError(f"ensemble member {index} has different {attribute} than member 1: "
                                     f"{getattr(member, attribute)} vs {getattr(first, attribute)}")
        self.members = list(members)
        self.class_names = first.class_names
        self.image_size = first.image_size
        self.features = first.features

    def extract(self, images: np.ndarray) -> np.ndarray:
        return self.members[0].extract(images)

    def predict_proba_features(self, X: np.ndarray) -> np.ndarray:
        total = self.members[0].predict_proba_features(X)
        for member in self.members[1:]:
            total += member.predict_proba_features(X)
        return total / len(self.members)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return self.predict_proba_features(self.extract(images))
