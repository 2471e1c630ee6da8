"""Minibatch rows: gathered from the feature matrix into a reused buffer, standardized there.

The gather and the standardization are one pass over row chunks small enough to stay in cache,
the chunks side by side on the threads of ``nn.parallel``.
"""

from __future__ import annotations

import numpy as np

from ..nn import parallel


def gather(X: np.ndarray, rows: np.ndarray, out: np.ndarray, standardizer) -> np.ndarray:
    """``standardizer.transform(X[rows])`` written into ``out`` (len(rows), n_features); with
    ``standardizer`` None the rows as they are (to be augmented, then ``standardize``d).

    Every output row depends on its input row alone, so the result does not depend on the
    chunking or the thread count.
    """

    def chunk(start: int, stop: int) -> None:
        part = out[start:stop]
        np.take(X, rows[start:stop], axis=0, out=part, mode="clip")  # "clip": unbuffered; rows are valid
        if standardizer is not None:
            standardizer.transform(part, out=part)

    parallel.for_rows(chunk, len(rows), out.size)
    return out


def standardize(rows: np.ndarray, standardizer) -> np.ndarray:
    """``rows (n_samples, n_features)`` standardized in place, in row chunks on the threads."""

    def chunk(start: int, stop: int) -> None:
        standardizer.transform(rows[start:stop], out=rows[start:stop])

    parallel.for_rows(chunk, len(rows), rows.size)
    return rows
