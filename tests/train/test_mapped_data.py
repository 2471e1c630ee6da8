"""Training reads its feature matrix from a memory-mapped file and never copies or writes it, so
memory does not grow with the number of images (``benchmarks/photos.py`` measures the peak)."""

import numpy as np

from mlpcli.config import from_dict
from mlpcli.train.fit import holdout_split, prepare, train_model


def _config(tmp_path):
    return from_dict(
        {
            "seed": 3,
            "data": {"format": "synthetic", "n_per_class": 20, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
            "features": ["raw", {"name": "hog", "cell": 4}],
            "model": {"hidden": [8]},
            "train": {"epochs": 2, "batch_size": 16, "lr": 0.05},
        }
    )


def test_features_are_a_read_only_map_that_training_leaves_alone(tmp_path):
    config = _config(tmp_path)
    for use_cache in (True, False):
        prepared = prepare(config, use_cache=use_cache)
        assert isinstance(prepared.X, np.memmap) and not prepared.X.flags.writeable
        where = str(prepared.X.filename)
        assert (str(tmp_path / "cache") in where) == use_cache and ("mlpcli-scratch-" in where) != use_cache
        before = np.array(prepared.X)
        train_model(config, prepared, *holdout_split(config, prepared.dataset.labels))
        np.testing.assert_array_equal(prepared.X, before)


def test_mapped_and_in_memory_features_train_the_same_bytes(tmp_path):
    config = _config(tmp_path)
    mapped = prepare(config)
    rows = holdout_split(config, mapped.dataset.labels)
    from_map = train_model(config, mapped, *rows).predictor.network.state_dict()
    mapped.X = np.array(mapped.X)
    in_memory = train_model(config, mapped, *rows).predictor.network.state_dict()
    assert all(from_map[key].tobytes() == value.tobytes() for key, value in in_memory.items())
