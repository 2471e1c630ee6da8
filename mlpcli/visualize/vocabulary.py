"""The vocabulary of a bag-of-visual-words feature as image patches (Coates et al. 2011, figure 1).

Words live in whitened patch space: ``z = (x - mean) @ W`` with ``W`` the (symmetric, invertible)
ZCA matrix of ``bow.whitening``. Un-whitening ``x = z @ W^-1 + mean`` brings a word back to a
contrast-normalized patch, (patch, patch, 3) in (row, col, channel) order, which ``labelled_grid``
min-max scales to pixels: the words show as the edges, bars and colour blobs k-means found.
"""

from __future__ import annotations

import numpy as np

from .weights import WeightPicture

MAX_WORDS = 256  # words drawn: a 16 x 16 grid
WORD_SIDE = 24  # target tile side in pixels after upscaling


def word_patches(state: dict, patch: int) -> np.ndarray:
    """A bow state (see ``features.bow``) -> the words un-whitened, (words, patch, patch, 3) float64."""
    matrix = state["whiten_matrix"].astype(np.float64)
    words = state["vocabulary"].astype(np.float64)
    # z = (x - mean) @ W, so x = z @ W^-1 + mean: solve W^T x^T = z^T rather than inverting W.
    pixels = np.linalg.solve(matrix.T, words.T).T + state["whiten_mean"].astype(np.float64)
    return pixels.reshape(len(words), patch, patch, 3)


def vocabulary_pictures(predictor) -> list[WeightPicture]:
    """One picture per bow feature of ``predictor`` (a Predictor or FoldEnsemble): its first
    ``MAX_WORDS`` words as tiles; empty when the model has no bow feature."""
    pictures = []
    for index, (feature, state) in enumerate(zip(predictor.features, predictor.states)):
        if feature.name != "bow" or state is None:
            continue
        patch = feature.params["patch"]
        tiles = word_patches(state, patch)
        shown = tiles[:MAX_WORDS]
        suffix = "" if index == 0 else f"_{index}"
        pictures.append(
            WeightPicture(
                "bow_vocabulary",
                f"bow_vocabulary{suffix}.png",
                list(shown),
                [str(i) for i in range(1, len(shown) + 1)],
                max(1, round(WORD_SIDE / patch)),
                16,
                f"features[{index}] bow: {len(shown)} of {len(tiles)} words as un-whitened {patch}x{patch} patches",
            )
        )
    return pictures
