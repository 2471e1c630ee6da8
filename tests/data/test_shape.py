"""Fast decoding (JPEG draft scaling) and the shape policies of ``data.resize``."""

from concurrent.futures import ProcessPoolExecutor
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from mlpcli.data import folder as folder_module
from mlpcli.data.images import load_image, to_rgb
from mlpcli.data.shape import Preprocess, crop_box, fit

#: Mean absolute difference (0-255 units) allowed between a draft decode and a full decode
#: followed by the same resize. Measured on the photo below at 1200x900: 0.29-1.01 over the
#: sizes and policies tested here (0.08-0.23 on a 4032x3024 photo), max 30 at a pad edge.
DRAFT_TOLERANCE = 1.5


def photo(width, height, seed=1):
    """A photo-like RGB image: smooth gradients, blurred shapes, sensor noise."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [127 + 100 * np.sin(cols / width * rng.uniform(2, 6) + c) * np.cos(rows / height * 3) for c in range(3)], -1
    )
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        row, col, r = rng.integers(0, height), rng.integers(0, width), rng.integers(width // 20, width // 5)
        draw.ellipse((col - r, row - r, col + r, row + r), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    noisy = np.asarray(image.filter(ImageFilter.GaussianBlur(2))) + rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def full_decode(path, spec):
    """The reference: every pixel decoded, then the same resize."""
    with Image.open(path) as image:
        return np.asarray(fit(to_rgb(image), spec))


@pytest.mark.parametrize("size", [(32, 32), (128, 128), (96, 64)])
@pytest.mark.parametrize("resize", ["squash", "center_crop", "pad"])
def test_draft_decoding_matches_a_full_decode_within_the_tolerance(tmp_path, size, resize):
    path = tmp_path / "photo.jpg"
    photo(1200, 900).save(path, quality=90)
    spec = Preprocess(size, resize)
    fast = load_image(path, spec)
    assert fast.shape == (*size, 3)
    assert np.abs(fast.astype(int) - full_decode(path, spec)).mean() <= DRAFT_TOLERANCE


def test_draft_decoding_really_decodes_fewer_pixels(tmp_path, monkeypatch):
    """Fails if the draft call is removed (the bytes would equal a full decode's)."""
    path = tmp_path / "photo.jpg"
    photo(1200, 900).save(path, quality=90)
    spec = Preprocess((32, 32))
    assert not np.array_equal(load_image(path, spec), full_decode(path, spec))


@pytest.mark.parametrize("orientation", [1, 6])
def test_the_draft_comes_before_any_full_size_work(tmp_path, monkeypatch, orientation):
    """Every pixel operation load_image does (decode, EXIF turn, mode conversion, copy, resize)
    sees at most the drafted 1/8-scale image that Pillow reports, never the stored 1024x768 one:
    the whole cost of a large photo is its entropy decoding. Checked by the sizes Pillow reports,
    not by timing. Fails if the EXIF turn or a conversion moves before the draft (tried: with
    ``exif_transpose`` before ``_draft`` the transpose saw 1024x768), or if an upright RGB photo
    is copied (tried: ``exif_transpose`` and ``convert("RGB")`` each copied it before)."""
    from PIL import ImageFile

    seen = []

    def spy(name, method):
        def wrapper(self, *args, **kwargs):
            result = method(self, *args, **kwargs)
            seen.append((name, self.size))  # after load: the size the decoder produced
            return result

        monkeypatch.setattr(Image.Image if name != "load" else ImageFile.ImageFile, name, wrapper)

    for name in ("load", "convert", "transpose", "copy", "resize"):
        spy(name, getattr(ImageFile.ImageFile, name))
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo(1024, 768).save(path, quality=90, exif=exif)
    assert load_image(path, Preprocess((32, 32))).shape == (32, 32, 3)
    assert ("load", (128, 96)) in seen and max(w * h for _, (w, h) in seen) == 128 * 96, seen
    if orientation == 1:  # upright RGB: nothing to turn or convert, so no copy of the pixels either
        assert [name for name, _ in seen if name in ("copy", "convert", "transpose")] == [], seen


def test_cifar_sized_jpegs_decode_to_the_same_bytes_as_before(tmp_path):
    """32 px JPEGs at image_size 32 (CIFAR): nothing may change, under every policy."""
    rng = np.random.default_rng(0)
    for index in range(20):
        path = tmp_path / f"{index}.jpg"
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path, quality=75)
        with Image.open(path) as image:
            before = np.asarray(image.convert("RGB"))  # what load_image gave before draft decoding
        for resize in ("squash", "center_crop", "pad"):
            assert np.array_equal(load_image(path, Preprocess((32, 32), resize)), before)


def test_an_exif_rotated_photo_is_drafted_in_its_stored_orientation(tmp_path):
    """A portrait photo stored landscape with EXIF orientation 6: rows and columns swap."""
    path = tmp_path / "portrait.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    photo(1200, 600).save(path, quality=90, exif=exif)
    spec = Preprocess((96, 48))
    fast = load_image(path, spec)
    with Image.open(path) as image:
        from PIL import ImageOps

        reference = np.asarray(fit(to_rgb(ImageOps.exif_transpose(image)), spec))
    assert np.abs(fast.astype(int) - reference).mean() <= DRAFT_TOLERANCE


def test_center_crop_keeps_the_middle_and_pad_keeps_everything():
    wide = Image.new("RGB", (300, 100), (255, 0, 0))
    wide.paste((0, 0, 255), (100, 0, 200, 100))  # a blue square in the middle of red
    crop = np.asarray(fit(wide, Preprocess((10, 10), "center_crop")))
    assert (crop[:, 1:-1, 2] == 255).all() and (crop[:, 1:-1, 0] == 0).all()  # edges may blend in red
    padded = np.asarray(fit(wide, Preprocess((30, 30), "pad", pad_fill=7)))
    assert (padded[:10] == 7).all() and (padded[-10:] == 7).all()  # 30x10 band in the middle
    assert padded[15, 0, 0] == 255 and padded[15, 15, 2] == 255
    squash = np.asarray(fit(wide, Preprocess((10, 10), "squash")))
    assert squash[5, 0, 0] == 255 and squash[5, 5, 2] == 255


def test_crop_box_is_the_largest_centred_window_of_the_target_aspect():
    assert crop_box((400, 300), (32, 32)) == (50.0, 0.0, 350.0, 300.0)
    assert crop_box((300, 400), (64, 32)) == (0.0, 125.0, 300.0, 275.0)


def test_gray_gives_three_equal_channels():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8))
    gray = np.asarray(fit(image, Preprocess((8, 8), color="gray")))
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    assert np.array_equal(gray[..., 0], np.asarray(image.convert("L")))


class _Recording(ProcessPoolExecutor):
    workers: ClassVar[list] = []

    def __init__(self, max_workers, **options):
        type(self).workers.append(max_workers)
        super().__init__(max_workers, **options)


def test_the_decode_pool_follows_threads(tmp_path, monkeypatch):
    """Fails with the pool sized by os.cpu_count(): one thread must mean no pool."""
    paths = []
    for index in range(6):
        paths.append(tmp_path / f"{index}.png")
        Image.new("RGB", (10, 10), (index, 0, 0)).save(paths[-1])
    monkeypatch.setattr(folder_module, "PARALLEL_MIN", 1)
    monkeypatch.setattr(folder_module, "ProcessPoolExecutor", _Recording)
    _Recording.workers = []
    from mlpcli import threads

    monkeypatch.setattr(threads, "threads", lambda: 1)  # what --threads 1 makes it
    single = folder_module.decode_all(paths, (4, 4))[0]
    monkeypatch.setattr(threads, "threads", lambda: 2)
    pooled = folder_module.decode_all(paths, (4, 4))[0]
    assert _Recording.workers == [2] and np.array_equal(single, pooled)
