"""Decoding one file: EXIF orientation and the decompression-bomb pixel limit."""

import numpy as np
import pytest
from PIL import Image

from mlpcli.data import DEFAULT_MAX_IMAGE_PIXELS
from mlpcli.data import folder as folder_module
from mlpcli.data.folder import load_folder
from mlpcli.data.images import load_image, pixel_limit
from mlpcli.errors import DataError

RED, BLUE = (220, 20, 20), (20, 20, 220)


def test_the_default_limit_is_pillows_own():
    assert DEFAULT_MAX_IMAGE_PIXELS == 1024 * 1024 * 1024 // 4 // 3 == Image.MAX_IMAGE_PIXELS


def _sideways_photo(path, orientation: int):
    """A 16 wide x 8 tall JPEG, red left half, blue right half, with an EXIF orientation tag."""
    pixels = np.zeros((8, 16, 3), np.uint8)
    pixels[:, :8], pixels[:, 8:] = RED, BLUE
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, quality=95, exif=exif)
    return path


def test_exif_orientation_turns_the_photo_upright(tmp_path):
    # Orientation 6: the camera was turned a quarter clockwise; a viewer shows the image rotated
    # 90 degrees clockwise, so 8 wide x 16 tall with the red half on top.
    image = load_image(_sideways_photo(tmp_path / "photo.jpg", 6), (16, 8))
    assert image.shape == (16, 8, 3)
    np.testing.assert_allclose(image[:6].reshape(-1, 3).mean(axis=0), RED, atol=12)
    np.testing.assert_allclose(image[10:].reshape(-1, 3).mean(axis=0), BLUE, atol=12)
    # Orientation 3 (upside down): the halves swap sides.
    flipped = load_image(_sideways_photo(tmp_path / "flipped.jpg", 3), (8, 16))
    np.testing.assert_allclose(flipped[:, :6].reshape(-1, 3).mean(axis=0), BLUE, atol=12)


def test_only_a_jpeg_without_orientation_metadata_skips_the_orientation_step(tmp_path):
    from mlpcli.data.images import may_be_rotated

    pixels = np.random.default_rng(0).integers(0, 256, (8, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "plain.jpg")
    Image.fromarray(pixels).save(tmp_path / "xmp.jpg", xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
    Image.fromarray(pixels).save(tmp_path / "plain.png")
    expected = {"plain.jpg": False, "xmp.jpg": True, "plain.png": True}
    for name, rotated in expected.items():
        with Image.open(tmp_path / name) as image:
            assert may_be_rotated(image) == rotated, name
    assert may_be_rotated(Image.open(_sideways_photo(tmp_path / "photo.jpg", 6)))
    with Image.open(tmp_path / "plain.jpg") as image:  # skipping it changes nothing
        np.testing.assert_array_equal(load_image(tmp_path / "plain.jpg", (8, 16)), np.asarray(image.convert("RGB")))


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


def test_the_readme_states_the_limit_and_how_to_raise_it():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    failures = readme[readme.index("## Failure behaviour") : readme.index("## Configuration")]
    assert f"{DEFAULT_MAX_IMAGE_PIXELS:,} pixels" in failures
    assert "data.max_image_pixels" in failures and "--max-pixels" in failures
