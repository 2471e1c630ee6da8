"""LOADERS: each loader says whether a path is its format; evaluate --data asks them."""

import numpy as np
import pytest
from PIL import Image

from mlpcli.data import LOADERS, detect_format, load_labelled
from mlpcli.errors import DataError


def _folder(root, classes=("a", "b"), size=(12, 10)):
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        Image.new("RGB", size, (40 * index, 90, 200)).save(root / name / "x.png")
    return root


def test_every_loader_given_a_path_says_whether_the_path_is_its_format(tmp_path):
    folder = _folder(tmp_path / "images")
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 8, 8, 3), np.uint8), labels=np.array([0, 1]))
    cifar = tmp_path / "cifar"
    cifar.mkdir()
    (cifar / "batches.meta").write_bytes(b"")
    assert detect_format(folder) == "folder"
    assert detect_format(tmp_path / "d.npz") == "npz"
    assert detect_format(cifar) == "cifar10"  # a folder too: cifar10 is asked first
    assert all(loader.detect is None for name, loader in LOADERS.items() if not loader.needs_path)


def test_load_labelled_reads_what_detect_format_found(tmp_path):
    dataset = load_labelled(_folder(tmp_path / "images"), (8, 8))
    assert dataset.images.shape == (2, 8, 8, 3) and dataset.class_names == ("a", "b")


def test_a_path_no_loader_claims_is_a_data_error_naming_it(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="notes.txt: not a labelled data set"):
        detect_format(tmp_path / "notes.txt")
    with pytest.raises(DataError, match="missing: no such file or folder"):
        detect_format(tmp_path / "missing")
