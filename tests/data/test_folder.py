import numpy as np
import pytest
from PIL import Image

from mlpcli.data.folder import load_folder, scan_folder
from mlpcli.data.images import load_image
from mlpcli.errors import DataError


def test_scan_sorts_classes_ignores_dot_entries_and_matches_extensions_case_insensitively(tmp_path):
    for name in ("zebra", "ant", ".hidden"):
        (tmp_path / name).mkdir()
    pixel = Image.new("RGB", (4, 4))
    pixel.save(tmp_path / "zebra" / "a.PNG")
    pixel.save(tmp_path / "zebra" / "b.JpEg", format="JPEG")
    pixel.save(tmp_path / "ant" / "c.bmp")
    pixel.save(tmp_path / "ant" / ".d.png")
    pixel.save(tmp_path / ".hidden" / "e.png")
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    paths, labels, classes = scan_folder(tmp_path)
    assert classes == ("ant", "zebra")
    assert [p.name for p in paths] == ["c.bmp", "a.PNG", "b.JpEg"]
    assert labels.tolist() == [0, 1, 1] and labels.dtype == np.int64


def test_load_folder_resizes_to_image_size(image_folder):
    dataset = load_folder(image_folder, image_size=(12, 10))
    assert dataset.images.shape == (18, 12, 10, 3) and dataset.images.dtype == np.uint8
    assert dataset.class_names == ("cat", "dog", "frog")
    assert np.bincount(dataset.labels).tolist() == [6, 6, 6]


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16"])
def test_any_mode_becomes_rgb(tmp_path, mode):
    image = (
        Image.new("RGB", (5, 7), (200, 40, 10)).convert(mode)
        if mode != "I;16"
        else Image.fromarray(np.full((7, 5), 40000, dtype=np.uint16))
    )
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I;16") else "x.png")
    image.save(path)
    array = load_image(path, (7, 5))
    assert array.shape == (7, 5, 3) and array.dtype == np.uint8
    if mode == "I;16":
        assert 150 <= array[0, 0, 0] <= 160  # 40000 / 257, not clipped to 255


def test_transparent_pixels_show_as_white(tmp_path):
    Image.new("RGBA", (3, 3), (255, 0, 0, 0)).save(tmp_path / "t.png")
    assert load_image(tmp_path / "t.png", (3, 3))[0, 0].tolist() == [255, 255, 255]


def test_errors_name_the_path(tmp_path):
    with pytest.raises(DataError, match="data folder not found"):
        scan_folder(tmp_path / "missing")
    with pytest.raises(DataError, match="no class folders"):
        scan_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: class folder has no images"):
        scan_folder(tmp_path)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not really a png")
    with pytest.raises(DataError, match="bad.png: cannot read as an image"):
        load_image(bad, (4, 4))


def test_unreadable_image_fails_or_is_skipped(image_folder):
    (image_folder / "cat" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match="broken.png"):
        load_folder(image_folder, (8, 8))
    dataset = load_folder(image_folder, (8, 8), on_error="skip")
    assert len(dataset) == 18 and not any("broken" in s for s in dataset.sources)


def test_decoded_images_are_cached_and_cache_follows_changes(image_folder, tmp_path):
    cache = tmp_path / "cache"
    first = load_folder(image_folder, (8, 8), cache_dir=str(cache))
    assert len(list(cache.glob("images/*.npy"))) == len(list(cache.glob("images/*.json"))) == 1
    again = load_folder(image_folder, (8, 8), cache_dir=str(cache))
    assert isinstance(again.images, np.memmap)
    np.testing.assert_array_equal(first.images, again.images)
    assert again.fingerprint == first.fingerprint
    Image.new("RGB", (4, 4)).save(image_folder / "dog" / "new.png")
    changed = load_folder(image_folder, (8, 8), cache_dir=str(cache))
    assert changed.fingerprint != first.fingerprint and len(changed) == 19
