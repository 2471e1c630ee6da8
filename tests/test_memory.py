"""The data phase ends by handing the heap's free pages back (``mlpcli.memory``): without it the
anonymous memory kept after decoding and extraction grew with the number of images (issue 23;
benchmarks/photos_memory.py measures the effect: see the README's "Large data sets")."""

from __future__ import annotations

import sys

import pytest

from mlpcli import memory
from mlpcli.config import from_dict
from mlpcli.train import fit


def test_prepare_returns_the_freed_memory_after_the_features_are_built(tmp_path, monkeypatch):
    """Fails if prepare stops calling it, or calls it before the features exist."""
    calls = []
    real_cached = fit.cached_features

    def cached(*args, **kwargs):
        calls.append("features")
        return real_cached(*args, **kwargs)

    monkeypatch.setattr(fit, "cached_features", cached)
    monkeypatch.setattr(fit, "return_freed_memory", lambda: calls.append("trim"))
    config = from_dict(
        {"data": {"format": "synthetic", "n_per_class": 4, "image_size": 8, "cache_dir": str(tmp_path / "cache")}}
    )
    fit.prepare(config)
    assert calls == ["features", "trim"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim is Linux's")
def test_on_linux_the_trim_is_found_and_runs():
    assert memory.return_freed_memory() is (memory._malloc_trim() is not None)
    assert memory._malloc_trim() is not None


def test_without_malloc_trim_it_does_nothing(monkeypatch):
    """Other C libraries (macOS, musl) have no malloc_trim: nothing to do, no error."""
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    assert memory.return_freed_memory() is False
