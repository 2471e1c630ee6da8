"""bow's fit stays within what the images hold and within bounded memory (issue 21, item 6): the
sample is capped at the patches that exist (with a warning) and at ``SAMPLE_BYTES``; more words
than patches, or than distinct patches, are refused naming ``words``. Before the fix a patch as
large as the image drew all of ``sample_patches`` (400,000 patches, 14.6 GB) and any word count
was accepted; each test below failed then (checked by reverting mlpcli/features/bow)."""

import logging
import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config

from mlpcli.cli import cli
from mlpcli.features import bow
from mlpcli.features.bow import patches


def images(n_images, size, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n_images, size, size, 3), dtype=np.uint8)


def test_sample_is_capped_at_the_patches_the_images_hold_with_a_warning(caplog):
    params = dict(patch=8, stride=1, words=4, sample_patches=5000, pooling="global", whiten=False)
    with caplog.at_level(logging.WARNING, logger="mlpcli"):
        sample, _, _ = bow.training_patches(images(20, 8), params, np.random.default_rng(0))
    assert sample.shape == (20, 192)  # one patch per image, each once
    assert len(np.unique(sample, axis=0)) == 20
    assert any("sample_patches 5000 capped at 20" in r.getMessage() for r in caplog.records)


def test_fit_memory_does_not_follow_sample_patches_past_the_patches_that_exist():
    params = dict(patch=8, stride=1, words=4, sample_patches=200_000, pooling="global")
    tracemalloc.start()
    try:
        bow.fit(images(10, 8), params, np.random.default_rng(0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 200,000 patches of 192 float32 values alone would be 154 MB; k-means' distance blocks take
    # 16 MB per thread whatever the sample
    assert peak < 64 << 20


def test_sample_is_capped_at_sample_bytes(monkeypatch):
    monkeypatch.setattr(bow, "SAMPLE_BYTES", 300 * 48 * 4)
    monkeypatch.setattr(patches, "_GATHER_BYTES", 48 * 7)  # gathered 7 patches at a time
    params = bow.check_params(dict(patch=4, stride=1, words=4, sample_patches=100_000))
    sample, _, _ = bow.training_patches(images(30, 16), params, np.random.default_rng(0))
    assert sample.shape == (300, 48)
    monkeypatch.setattr(patches, "_GATHER_BYTES", 16 << 20)
    whole, _, _ = bow.training_patches(images(30, 16), params, np.random.default_rng(0))
    np.testing.assert_array_equal(sample, whole)  # chunking changes nothing


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(words=2000, sample_patches=1000), "words 2000 needs as many patches"),
        (dict(patch=37), "patch 37 has 4107 values"),
    ],
)
def test_impossible_sizes_are_refused_at_load(params, message):
    with pytest.raises(ValueError, match=message):
        bow.check_params(params)


def test_more_words_than_patches_is_refused():
    params = dict(patch=8, words=21, sample_patches=400_000, pooling="global")
    with pytest.raises(ValueError, match="words 21 is more than the 20 patches"):
        bow.fit(images(20, 8), params, np.random.default_rng(0))


def test_more_words_than_distinct_patches_is_refused():
    same = np.repeat(images(1, 8), 30, axis=0)  # 30 copies: 30 patch positions, 1 distinct patch
    params = dict(patch=8, words=3, sample_patches=30, pooling="global", whiten=False)
    with pytest.raises(ValueError, match="needs 3 distinct points for 3 words; the 30 points hold 1"):
        bow.fit(same, params, np.random.default_rng(0))


def test_cli_names_the_feature_and_words_and_exits_2(tmp_path):
    config = write_config(tmp_path / "c.yaml", features=[{"name": "bow", "patch": 16, "pooling": "global"}])
    result = CliRunner().invoke(cli, ["train", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "features[0] (bow): bow words 1600 is more than the" in result.stderr
    assert "Traceback" not in result.stderr
