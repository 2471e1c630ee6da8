"""Standardizing a run's own feature matrix once, in place, trains the same model to the byte."""

import numpy as np

from mlpcli.config import from_dict
from mlpcli.features.standardize import Standardizer
from mlpcli.train.fit import holdout_split, prepare, train_model


def _config(tmp_path, mode="features"):
    raw = {"seed": 3, "data": {"format": "synthetic", "n_per_class": 20, "image_size": 12,
                               "cache_dir": str(tmp_path / "cache")},
           "model": {"hidden": [8], "weight_decay": 1e-3}, "train": {"epochs": 2, "batch_size": 16, "lr": 0.05}}
    if mode == "end_to_end":
        raw.update(mode="end_to_end", extractor={"blocks": [{"filters": 4, "kernel": 3, "pool": 2}]})
        raw["train"]["augment"] = {"flip": True, "crop_padding": 1}
    return from_dict(raw)


def _train(config, in_place):
    prepared = prepare(config)
    original = prepared.X.copy()
    rows = holdout_split(config, prepared.dataset.labels)
    trained = train_model(config, prepared, *rows, standardize_in_place=in_place)
    return prepared, original, rows, trained


def test_in_place_standardization_trains_the_same_bytes_and_leaves_x_standardized(tmp_path):
    for mode in ("features", "end_to_end"):
        config = _config(tmp_path, mode)
        _, _, _, per_batch = _train(config, False)
        prepared, original, (train_rows, _), once = _train(config, True)
        weights = per_batch.predictor.network.state_dict()
        assert all(weights[k].tobytes() == v.tobytes() for k, v in once.predictor.network.state_dict().items())
        for split in ("train", "val"):
            assert once.metrics[split]["loss"] == per_batch.metrics[split]["loss"]
            assert once.metrics[split]["confusion"] == per_batch.metrics[split]["confusion"]
        # The predictor keeps the real statistics (new images arrive unstandardized) ...
        assert once.predictor.standardizer.mean.tobytes() == per_batch.predictor.standardizer.mean.tobytes()
        # ... and X itself was standardized with them.
        expected = Standardizer.fit(original, train_rows).transform(original)
        assert prepared.X.tobytes() == expected.tobytes()


def test_a_read_only_matrix_is_standardized_batch_by_batch(tmp_path):
    config = _config(tmp_path)
    prepared = prepare(config)
    prepared.X.setflags(write=False)
    before = prepared.X.copy()
    train_model(config, prepared, *holdout_split(config, prepared.dataset.labels), standardize_in_place=True)
    assert np.array_equal(prepared.X, before)
