"""Shared fixtures: small image folders and configs built on the fly (no test needs ../shared)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image


def write_image_folder(
    root: Path, n_per_class: int = 6, classes=("cat", "dog", "frog"), size=(20, 24), seed: int = 0
) -> Path:
    """root/<class>/<i>.png with a class-dependent mean color, so a model can learn them."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            base = np.zeros(3)
            base[label % 3] = 180
            pixels = np.clip(base + rng.normal(0, 30, size=(*size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:03d}.png")
    return root


class Payload:
    """Pickles into a call that creates ``marker``: if the file exists afterwards, code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


#: What mlpcli promises for float32 results computed from batches of different shapes (one image
#: against a folder, one chunk size against another): the same up to float32 rounding, within
#: these tolerances (README, "Same bytes, same numbers"). A BLAS kernel may round a row of a
#: product differently with the number of rows in the call (AMD's Haswell kernel does, by one or
#: two units in the last place), so such results are never compared for equality.
BATCH_SHAPE_RTOL = 1e-5
BATCH_SHAPE_ATOL = 1e-6


def assert_same_up_to_batch_rounding(actual, expected) -> None:
    """``actual`` and ``expected``, float32 results of batches of different shapes, agree as
    promised (``BATCH_SHAPE_RTOL``, ``BATCH_SHAPE_ATOL``) and have the same shape and dtype."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, rtol=BATCH_SHAPE_RTOL, atol=BATCH_SHAPE_ATOL)


@pytest.fixture
def image_folder(tmp_path) -> Path:
    return write_image_folder(tmp_path / "images")


def write_config(path: Path, **sections) -> Path:
    """A small fast config: synthetic data, raw pixels at 16x16, overridden by ``sections``."""
    config = {
        "seed": 3,
        "data": {
            "format": "synthetic",
            "n_per_class": 30,
            "image_size": 16,
            "val_fraction": 0.25,
            "cache_dir": str(path.parent / "cache"),
        },
        "model": {"hidden": [16]},
        "train": {"epochs": 3, "batch_size": 16, "lr": 0.05},
        "output": {"dir": str(path.parent / "runs")},
    }
    for section, values in sections.items():
        if isinstance(values, dict) and isinstance(config.get(section), dict):
            config[section].update(values)
        else:
            config[section] = values
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def small_config(tmp_path) -> Path:
    return write_config(tmp_path / "config.yaml")


@pytest.fixture
def set_threads():
    """``nn.parallel.set_threads``; the environment's thread count is back afterwards."""
    from mlpcli.nn import parallel

    yield parallel.set_threads
    parallel.set_threads(None)


class StopAfter:
    """A StopFlag stand-in that asks to stop after ``calls`` checks."""

    def __init__(self, calls):
        self.calls, self.signal_name = calls, "SIGINT"

    def is_set(self):
        self.calls -= 1
        return self.calls < 0


def stopping_after(calls):
    """A stand-in for ``train.stop.graceful_stop`` whose flag asks to stop after ``calls`` checks
    (monkeypatch it over the real one to interrupt a run at a chosen minibatch)."""

    @contextmanager
    def graceful_stop(event=None):
        yield StopAfter(calls)

    return graceful_stop
