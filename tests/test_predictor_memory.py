"""Scoring in chunks holds one chunk at a time (issue 23): a chunk's gathered and standardized
rows die before the next chunk is gathered, whatever the number of rows scored."""

import weakref

import numpy as np

from mlpcli import predictor
from mlpcli.features.standardize import Standardizer
from mlpcli.nn import Sequential, mlp_layers


def test_network_scores_keeps_no_chunk_alive(monkeypatch):
    """Watched failing with Linear keeping its input when scoring (the last chunk stayed alive)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 6)).astype(np.float32)
    network = Sequential(mlp_layers(6, 3, [5], "relu", "auto", rng, "float32", True, 0.0, False))
    standardizer = Standardizer.fit(X)
    monkeypatch.setattr(predictor, "EVAL_CHUNK", 8)  # 7 chunks
    chunks = []
    transform = standardizer.transform

    def tracked(rows, out=None):
        result = transform(rows, out)
        chunks.append(weakref.ref(result))
        return result

    monkeypatch.setattr(standardizer, "transform", tracked)
    scores = predictor.network_scores(network, X, np.arange(50), standardizer)
    assert scores.shape == (50, 3) and len(chunks) == 7
    assert [chunk() for chunk in chunks] == [None] * 7
