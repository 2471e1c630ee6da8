"""Decoding one file: the decompression-bomb pixel limit."""

import numpy as np
import pytest
from PIL import Image

from mlpcli.data import DEFAULT_MAX_IMAGE_PIXELS
from mlpcli.data import folder as folder_module
from mlpcli.data.folder import load_folder
from mlpcli.data.images import load_image, pixel_limit
from mlpcli.errors import DataError

def test_the_default_limit_is_pillows_own():
    assert DEFAULT_MAX_IMAGE_PIXELS == 1024 * 1024 * 1024 // 4 // 3 == Image.MAX_IMAGE_PIXELS


def _photo(path, width=24, height=20):
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(path)
    return path


@pytest.mark.parametrize("limit", [100, 300])  # over 2x the limit (Pillow raises) and under (it warns)
def test_the_pixel_limit_is_stated_and_configurable(tmp_path, limit):
    path = _photo(tmp_path / "big.png")
    with pytest.raises(DataError) as info:
        load_image(path, (8, 8), max_pixels=limit)
    assert f"image has 480 pixels, over the limit of {limit} pixels" in str(info.value)
    assert Image.MAX_IMAGE_PIXELS == DEFAULT_MAX_IMAGE_PIXELS  # restored after the load
    assert load_image(path, (8, 8), max_pixels=480).shape == (8, 8, 3)
    assert Image.MAX_IMAGE_PIXELS == DEFAULT_MAX_IMAGE_PIXELS


def test_the_limit_holds_in_the_decode_workers(tmp_path, monkeypatch):
    for cls in ("a", "b"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(4):
            _photo(tmp_path / "data" / cls / f"{i}.png")
    monkeypatch.setattr(folder_module, "PARALLEL_MIN", 1)
    monkeypatch.setattr(folder_module, "DECODE_CHUNK", 3)
    with pytest.raises(DataError) as info:
        load_folder(tmp_path / "data", (8, 8), max_pixels=100)
    assert str(info.value).startswith("8 images could not be read")
    assert str(info.value).count("over the limit of 100 pixels") == 8
    assert len(load_folder(tmp_path / "data", (8, 8), max_pixels=480)) == 8


def test_pixel_limit_nests_and_refuses_a_conflicting_limit():
    with pixel_limit(1000):
        with pixel_limit(1000):
            assert Image.MAX_IMAGE_PIXELS == 1000
        assert Image.MAX_IMAGE_PIXELS == 1000
        with pytest.raises(RuntimeError):
            with pixel_limit(5):
                pass
    assert Image.MAX_IMAGE_PIXELS == DEFAULT_MAX_IMAGE_PIXELS
