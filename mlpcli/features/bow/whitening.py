"""ZCA whitening: a linear map that gives the fitted sample an (almost) identity covariance.

``z = (x - mean) @ matrix`` with ``matrix = V diag(1 / sqrt(lambda + eps)) V^T`` from the sample's
covariance ``V diag(lambda) V^T``. ZCA (rather than PCA) whitening keeps ``z`` in pixel space, so
whitened patches and the words learned from them still look like image patches. ``eps`` keeps the
near-zero directions from being amplified into noise: the whitened covariance is
``V diag(lambda / (lambda + eps)) V^T``, the identity when ``eps = 0``.
"""

from __future__ import annotations

import numpy as np

#: Regularizer of whitening after contrast normalization (values of unit variance per patch),
#: as in Coates et al. 2011.
EPS = 0.1

_CHUNK_ROWS = 65536  # float64 covariance accumulated over chunks: no float64 copy of the sample


def fit(samples: np.ndarray, eps: float = EPS) -> tuple[np.ndarray, np.ndarray]:
    """samples (n_samples, n_values) -> (mean (n_values,), matrix (n_values, n_values)), float64."""
    mean = samples.mean(axis=0, dtype=np.float64)
    covariance = np.zeros((samples.shape[1],) * 2)
    for start in range(0, len(samples), _CHUNK_ROWS):
        centered = samples[start : start + _CHUNK_ROWS] - mean
        covariance += centered.T @ centered
    covariance /= len(samples)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    # eigh can return tiny negative eigenvalues of a singular covariance; they are zero.
    scale = 1 / np.sqrt(np.maximum(eigenvalues, 0) + eps)
    return mean, (eigenvectors * scale) @ eigenvectors.T


def apply(samples: np.ndarray, mean: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(n_samples, n_values) -> whitened (n_samples, n_values), in the dtype of ``samples``."""
    dtype = samples.dtype
    return (samples - mean.astype(dtype)) @ matrix.astype(dtype)
