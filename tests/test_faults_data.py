"""Bad data files, one test per fault, each with its defined behaviour (issue 6, part 4).

Default ``data.on_error: fail``: every image is tried, then one DataError names each unreadable
file (exit 1). ``data.on_error: skip``: unreadable images are left out, counted and each named with
its reason; a class or a whole data set left with no images is still a DataError.
"""

import logging
import os
import pickle
import resource
import struct
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import Payload, write_config, write_image_folder
from PIL import Image

from mlpcli.artifacts import save_model
from mlpcli.cli import cli
from mlpcli.data import folder as folder_module
from mlpcli.data.cifar10 import load_cifar10
from mlpcli.data.folder import load_folder, scan_folder
from mlpcli.data.images import load_image
from mlpcli.data.split import stratified_split
from mlpcli.errors import ConfigError, DataError
from mlpcli.features import FeatureConfig
from mlpcli.features.standardize import Standardizer
from mlpcli.kfold.folds import stratified_folds
from mlpcli.nn import build_mlp
from mlpcli.predictor import Predictor

RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def png_bytes(width, height, bit_depth, color_type, pixels: bytes = b"") -> bytes:
    """A PNG written by hand: header, one zlib stream of filter-0 rows, end. Lets a test declare
    any size or bit depth, including ones no encoder would write for it."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


def noise(size=(24, 24), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def refused(path, *fragments, image_size=(8, 8)):
    with pytest.raises(DataError) as info:
        load_image(path, image_size)
    assert str(path) in str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value)


# --- one image file -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt, suffix", [("PNG", ".png"), ("JPEG", ".jpg")])
@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.6, 0.95])
def test_a_truncated_image_is_a_data_error(tmp_path, fmt, suffix, fraction):
    whole = tmp_path / f"whole{suffix}"
    Image.fromarray(noise()).save(whole, format=fmt)
    cut = tmp_path / f"cut{suffix}"
    data = whole.read_bytes()
    cut.write_bytes(data[: int(len(data) * fraction)])
    refused(cut, "cannot read as an image")


def test_corrupt_bytes_in_a_png_are_a_data_error(tmp_path):
    path = tmp_path / "x.png"
    Image.fromarray(noise()).save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = bytes(16)
    path.write_bytes(bytes(data))
    refused(path, "cannot read as an image")


def test_a_jpeg_with_a_corrupt_header_is_a_data_error(tmp_path):
    path = tmp_path / "x.jpg"
    Image.fromarray(noise((64, 64))).save(path, quality=90)
    data = bytearray(path.read_bytes())
    frame = data.find(b"\xff\xc0")  # start of frame: its height bytes become 0
    data[frame + 5 : frame + 7] = b"\0\0"
    path.write_bytes(bytes(data))
    refused(path, "cannot read as an image")


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.7, 0.9])
def test_corrupt_jpeg_pixel_data_decodes_or_is_a_data_error(tmp_path, fraction):
    """Documented limit: JPEG has no checksum over its compressed data, so damage there usually
    cannot be told from content and decodes to wrong pixels (the decoder refuses only what it
    cannot parse). Either way: an (8, 8, 3) uint8 image or a DataError naming the file."""
    path = tmp_path / "x.jpg"
    Image.fromarray(noise((64, 64))).save(path, quality=90)
    data = bytearray(path.read_bytes())
    at = int(len(data) * fraction)
    data[at : at + 16] = bytes(16)
    path.write_bytes(bytes(data))
    try:
        image = load_image(path, (8, 8))
    except DataError as exc:
        assert str(path) in str(exc)
    else:
        assert image.shape == (8, 8, 3) and image.dtype == np.uint8


def test_a_zero_byte_file_is_a_data_error(tmp_path):
    (tmp_path / "empty.png").touch()
    refused(tmp_path / "empty.png", "cannot identify image file")


def test_a_png_that_is_text_is_a_data_error(tmp_path):
    (tmp_path / "notes.png").write_text("these are my notes, not an image\n")
    refused(tmp_path / "notes.png", "cannot identify image file")


@pytest.mark.parametrize("side", [100_000, 10_000])
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path, side):
    """A few hundred bytes declaring side x side RGB pixels (30 GB at 100,000): refused before any
    pixel is allocated. 10,000^2 lies between Pillow's warning and error limits; it is refused too."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(side, side, 8, 2, b"\0" * 4))
    assert path.stat().st_size < 200
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused(
        path,
        f"image has {side * side:,} pixels, over the limit of 89,478,485 pixels",
        "possible decompression bomb",
        "--max-pixels",
        "data.max_image_pixels",
    )
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 100_000  # nothing like the 300 MB to 30 GB the header asks for


def test_a_16_bit_grayscale_png_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "gray16.png"
    Image.fromarray(np.array([[0, 40000, 65535]], dtype=np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I;16")
    image = load_image(path, (1, 3))
    assert image[0, :, 0].tolist() == [0, 155, 255] and (image == image[..., :1]).all()  # 40000 / 257


def test_a_16_bit_rgb_png_loads_as_8_bit_rgb(tmp_path):
    values = np.array([[[40000, 20000, 1000], [65535, 0, 257]]], dtype=">u2")
    path = tmp_path / "rgb16.png"
    path.write_bytes(png_bytes(2, 1, 16, 2, b"\0" + values.tobytes()))
    image = load_image(path, (1, 2))
    assert image.dtype == np.uint8
    np.testing.assert_allclose(image, values.astype(np.float64) / 257, atol=1)


def test_a_cmyk_jpeg_loads_as_the_rgb_it_shows(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("RGB", (8, 8), (200, 40, 10)).convert("CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    image = load_image(path, (8, 8))
    np.testing.assert_allclose(image.reshape(-1, 3).mean(axis=0), [200, 40, 10], atol=4)


@pytest.mark.skipif(RUNNING_AS_ROOT, reason="root reads files whatever their permissions")
def test_a_file_without_read_permission_is_a_data_error(tmp_path):
    path = tmp_path / "locked.png"
    Image.fromarray(noise()).save(path)
    path.chmod(0)
    refused(path, "Permission denied")


def test_a_permission_error_from_the_decoder_is_a_data_error(tmp_path, monkeypatch):
    """The same mapping as the test above, checkable as root: PermissionError -> DataError."""
    path = tmp_path / "locked.png"
    Image.fromarray(noise()).save(path)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", denied)
    refused(path, "Permission denied")


def test_an_odd_decoder_exception_is_a_data_error(tmp_path, monkeypatch):
    path = tmp_path / "odd.png"
    Image.fromarray(noise()).save(path)

    def broken(*args, **kwargs):
        raise struct.error("unpack requires a buffer of 4 bytes")

    monkeypatch.setattr(Image, "open", broken)
    refused(path, "cannot read as an image (error: unpack requires")


# --- image folders ------------------------------------------------------------------------------


def test_a_symlink_loop_in_a_class_folder_is_not_followed(image_folder):
    (image_folder / "cat" / "up").symlink_to("..", target_is_directory=True)
    (image_folder / "cat" / "self").symlink_to(image_folder / "cat", target_is_directory=True)
    (image_folder / "dog" / "deeper").mkdir()
    Image.fromarray(noise()).save(image_folder / "dog" / "deeper" / "hidden.png")
    paths, labels, classes = scan_folder(image_folder)
    assert classes == ("cat", "dog", "frog") and len(paths) == 18
    assert all(p.parent.parent == image_folder for p in paths)  # sub-folders are never entered
    assert len(load_folder(image_folder, (8, 8))) == 18


def test_a_symlinked_class_folder_is_a_class(tmp_path):
    elsewhere = write_image_folder(tmp_path / "elsewhere", n_per_class=2, classes=("bird",))
    root = write_image_folder(tmp_path / "root", n_per_class=2, classes=("cat",))
    (root / "bird").symlink_to(elsewhere / "bird", target_is_directory=True)
    assert scan_folder(root)[2] == ("bird", "cat")


def test_a_symlink_to_an_image_is_followed(image_folder, tmp_path):
    target = tmp_path / "elsewhere.png"
    Image.fromarray(noise(seed=5)).save(target)
    (image_folder / "dog" / "linked.png").symlink_to(target)
    dataset = load_folder(image_folder, (24, 24))
    index = dataset.sources.index(str(image_folder / "dog" / "linked.png"))
    np.testing.assert_array_equal(dataset.images[index], noise(seed=5))


@pytest.mark.parametrize(
    "make_link",
    [
        lambda link: link.symlink_to(link.parent / "missing.png"),  # dangling
        lambda link: link.symlink_to(link),  # a loop onto itself
    ],
)
def test_an_image_link_that_leads_nowhere_is_an_unreadable_image(image_folder, make_link):
    link = image_folder / "frog" / "broken.png"
    make_link(link)
    with pytest.raises(DataError, match="broken.png"):
        load_folder(image_folder, (8, 8))
    dataset = load_folder(image_folder, (8, 8), on_error="skip")
    assert len(dataset) == 18 and str(link) not in dataset.sources


def test_an_empty_class_folder_is_a_data_error_naming_it(image_folder):
    (image_folder / "newt").mkdir()
    with pytest.raises(DataError, match=f"{image_folder / 'newt'}: class folder has no images"):
        load_folder(image_folder, (8, 8))


def test_a_class_folder_with_only_non_images_is_a_data_error(image_folder):
    (image_folder / "newt").mkdir()
    (image_folder / "newt" / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match="newt: class folder has no images"):
        scan_folder(image_folder)


def test_a_class_with_one_image_loads_and_stays_in_training(tmp_path):
    root = write_image_folder(tmp_path / "images", n_per_class=6, classes=("cat", "dog"))
    write_image_folder(root, n_per_class=1, classes=("newt",))
    dataset = load_folder(root, (8, 8))
    assert np.bincount(dataset.labels).tolist() == [6, 6, 1]
    newt = np.flatnonzero(dataset.labels == 2)
    for fraction in (0.2, 0.5, 0.6, 0.9):
        train, val = stratified_split(dataset.labels, fraction, np.random.default_rng(0))
        assert newt[0] in train and newt[0] not in val
    # k-fold needs every class in every fold: a one-image class is a config error naming it.
    with pytest.raises(ConfigError, match="class 'newt' has 1"):
        stratified_folds(dataset.labels, 2, np.random.default_rng(0), dataset.class_names)


def test_on_error_fail_names_the_first_bad_file(image_folder):
    (image_folder / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    with pytest.raises(DataError, match=r"dog/broken.jpg: cannot read as an image"):
        load_folder(image_folder, (8, 8))


def test_on_error_skip_counts_and_names_every_one(image_folder, caplog):
    for i in range(5):
        (image_folder / "cat" / f"bad{i}.png").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="mlpcli"):
        dataset = load_folder(image_folder, (8, 8), on_error="skip")
    assert len(dataset) == 18 and np.bincount(dataset.labels).tolist() == [6, 6, 6]
    message = caplog.text
    assert "skipped 5 unreadable image(s)" in message
    assert all(f"bad{i}.png: cannot read as an image" in message for i in range(5))
    assert [item["path"] for item in dataset.skipped] == [str(image_folder / "cat" / f"bad{i}.png") for i in range(5)]
    assert all(item["reason"].startswith("cannot read as an image") for item in dataset.skipped)


def test_on_error_fail_names_every_bad_file_not_only_the_first(image_folder, monkeypatch):
    (image_folder / "cat" / "bad.png").write_bytes(b"")
    (image_folder / "frog" / "worse.jpg").write_bytes(b"\xff\xd8 no")
    for parallel in (False, True):
        if parallel:  # across worker processes, each holding one of the bad files
            monkeypatch.setattr(folder_module, "PARALLEL_MIN", 1)
            monkeypatch.setattr(folder_module, "DECODE_CHUNK", 4)
        with pytest.raises(DataError) as info:
            load_folder(image_folder, (8, 8))
        message = str(info.value)
        assert message.startswith("2 images could not be read")
        assert "cat/bad.png: cannot read" in message and "frog/worse.jpg: cannot read" in message
        assert "--on-error skip" in message


def test_a_skip_run_cached_keeps_the_reasons(image_folder, tmp_path):
    (image_folder / "dog" / "bad.png").write_bytes(b"")
    first = load_folder(image_folder, (8, 8), on_error="skip", cache_dir=str(tmp_path / "cache"))
    again = load_folder(image_folder, (8, 8), on_error="skip", cache_dir=str(tmp_path / "cache"))
    assert again.skipped == first.skipped and len(first.skipped) == 1


def test_skipping_every_image_of_a_class_is_a_data_error_naming_the_class(image_folder):
    for path in (image_folder / "dog").iterdir():
        path.write_bytes(b"garbage")
    with pytest.raises(DataError, match=f"{image_folder / 'dog'}: every image of this class was unreadable"):
        load_folder(image_folder, (8, 8), on_error="skip")


def test_skipping_every_image_is_a_data_error(image_folder, tmp_path):
    for path in image_folder.rglob("*.png"):
        path.write_bytes(b"")
    for cache_dir in (None, str(tmp_path / "cache")):
        with pytest.raises(DataError, match="none of the 18 images could be read"):
            load_folder(image_folder, (8, 8), on_error="skip", cache_dir=cache_dir)


@pytest.mark.parametrize(
    "damage",
    [
        lambda shard: shard.write_bytes(shard.read_bytes()[:100]),  # truncated
        lambda shard: np.save(shard, np.zeros((2, 8, 8, 3), np.uint8)),  # wrong shape
        lambda shard: shard.with_suffix(".json").write_text("{not json"),  # garbage description
        lambda shard: shard.with_suffix(".json").write_text('{"kept": [true]}'),  # wrong description
    ],
)
def test_a_damaged_decode_cache_is_ignored_and_rebuilt(image_folder, tmp_path, caplog, damage):
    # A copy: the loaded images are mapped from the very file the damage writes over.
    first = np.array(load_folder(image_folder, (8, 8), cache_dir=str(tmp_path / "cache")).images)
    (shard,) = (tmp_path / "cache" / "images").glob("*.npy")
    damage(shard)
    with caplog.at_level(logging.WARNING, logger="mlpcli"):
        again = load_folder(image_folder, (8, 8), cache_dir=str(tmp_path / "cache"))
    assert "ignoring unreadable cache file" in caplog.text
    np.testing.assert_array_equal(again.images, first)


def test_errors_cross_the_worker_processes(image_folder, monkeypatch):
    monkeypatch.setattr(folder_module, "PARALLEL_MIN", 1)
    monkeypatch.setattr(folder_module, "DECODE_CHUNK", 4)
    (image_folder / "frog" / "zz.png").write_bytes(b"")
    with pytest.raises(DataError, match="zz.png: cannot read as an image"):
        load_folder(image_folder, (8, 8))
    assert len(load_folder(image_folder, (8, 8), on_error="skip")) == 18


@pytest.mark.skipif(RUNNING_AS_ROOT, reason="root lists folders whatever their permissions")
def test_a_class_folder_without_permission_is_a_data_error(image_folder):
    (image_folder / "dog").chmod(0)
    try:
        with pytest.raises(DataError, match="dog: cannot list the folder"):
            scan_folder(image_folder)
    finally:
        (image_folder / "dog").chmod(0o755)


# --- the command line ---------------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_train_on_a_folder_with_a_bad_image_exits_1_naming_it(image_folder, tmp_path):
    (image_folder / "frog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    config = write_config(tmp_path / "c.yaml", data={"format": "folder", "path": str(image_folder), "image_size": 8})
    result = run("train", "--config", config, "--out", tmp_path / "run")
    assert result.exit_code == 1
    assert "\nerror: " in "\n" + result.stderr and "frog/broken.png" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "model.json").exists()


def test_predict_with_a_bad_image_among_good_ones_exits_1_naming_it(tmp_path):
    rng = np.random.default_rng(0)
    standardizer = Standardizer(np.zeros(48, np.float32), np.ones(48, np.float32))
    predictor = Predictor(build_mlp(48, 2, [], rng=rng), standardizer, ("a", "b"), (4, 4), [FeatureConfig("raw", {})])
    save_model(tmp_path / "model", predictor)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(noise(seed=i)).save(photos / f"{i}.png")
    (photos / "1b.png").write_bytes(b"")
    (photos / "loop").symlink_to(photos, target_is_directory=True)  # not followed, not a hang
    result = run("predict", photos, "--model", tmp_path / "model")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and "1b.png: cannot read as an image" in result.stderr
    (photos / "1b.png").unlink()
    result = run("predict", photos, "--model", tmp_path / "model", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count('"path"') == 3


# --- CIFAR-10 pickles ---------------------------------------------------------------------------


def write_cifar10(root, n_per_batch=2):
    """A miniature CIFAR-10 python directory (as in tests/data/test_cifar10_npz.py)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    with open(root / "batches.meta", "wb") as handle:
        pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, handle, protocol=2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"labels": rng.integers(0, 10, n_per_batch).tolist(),
            b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
        }
        with open(root / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)
    return root


def test_the_miniature_cifar10_loads(tmp_path):
    assert len(load_cifar10(write_cifar10(tmp_path / "cifar"))) == 10


def test_a_malicious_cifar10_meta_file_is_refused_without_running(tmp_path):
    root = write_cifar10(tmp_path / "cifar")
    marker = tmp_path / "pwned"
    with open(root / "batches.meta", "wb") as handle:
        pickle.dump({b"label_names": [Payload(str(marker))]}, handle, protocol=2)
    with pytest.raises(DataError, match="batches.meta: not a valid CIFAR-10 batch.*refusing to load"):
        load_cifar10(root)
    assert not marker.exists()


def test_an_object_array_carrying_a_payload_is_refused_without_running(tmp_path):
    root = write_cifar10(tmp_path / "cifar")
    marker = tmp_path / "pwned"
    with open(root / "data_batch_2", "wb") as handle:
        pickle.dump({b"data": np.array([Payload(str(marker))], dtype=object), b"labels": [0]}, handle, protocol=2)
    with pytest.raises(DataError, match="data_batch_2: not a valid CIFAR-10 batch.*refusing to load"):
        load_cifar10(root)
    assert not marker.exists()


def test_an_object_array_of_plain_values_is_refused_as_unexpected(tmp_path):
    root = write_cifar10(tmp_path / "cifar")
    with open(root / "data_batch_4", "wb") as handle:
        pickle.dump({b"data": np.array([[1, "x"]], dtype=object), b"labels": [0]}, handle, protocol=2)
    with pytest.raises(DataError, match="data_batch_4: unexpected contents"):
        load_cifar10(root)


@pytest.mark.parametrize("content", [b"", b"\x80\x02", b"not a pickle at all", b"\x80\x02]q\x00(" * 1000])
def test_a_damaged_cifar10_batch_is_a_data_error(tmp_path, content):
    root = write_cifar10(tmp_path / "cifar")
    (root / "data_batch_5").write_bytes(content)
    with pytest.raises(DataError, match="data_batch_5"):
        load_cifar10(root)


def test_train_names_data_on_error_not_an_option_it_lacks(tmp_path, image_folder):
    """train has no --on-error: its message names the config key (issue 21 item 8; it said
    "--on-error skip" before, checked by reverting the hint)."""
    from click.testing import CliRunner
    from conftest import write_config

    from mlpcli.cli import cli

    (image_folder / "cat" / "bad.png").write_bytes(b"")
    (image_folder / "dog" / "bad.png").write_bytes(b"")
    config = write_config(tmp_path / "c.yaml", data={"format": "folder", "path": str(image_folder)})
    result = CliRunner().invoke(cli, ["train", "--config", str(config)])
    assert result.exit_code == 1 and "2 images could not be read" in result.stderr
    assert "data.on_error: skip" in result.stderr and "--on-error" not in result.stderr
