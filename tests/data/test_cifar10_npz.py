import pickle

import numpy as np
import pytest
from conftest import Payload

from mlpcli.data import load_labelled
from mlpcli.data.cifar10 import load_cifar10, read_batch
from mlpcli.data.npz import load_npz
from mlpcli.errors import DataError

CLASSES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


def write_cifar10(root, n_per_batch=4, seed=0):
    """A miniature CIFAR-10 python directory with the official layout and pickle format."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "batches.meta", "wb") as handle:
        pickle.dump({b"label_names": CLASSES, b"num_vis": 3072}, handle, protocol=2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"labels": rng.integers(0, 10, n_per_batch).tolist(),
            b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
            b"filenames": [b"x.png"] * n_per_batch,
        }
        with open(root / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)
    return root


def test_cifar10_layout_is_rgb_planes(tmp_path):
    root = write_cifar10(tmp_path / "cifar")
    raw = read_batch(root / "data_batch_1")[b"data"]
    dataset = load_cifar10(root, "train")
    assert dataset.images.shape == (20, 32, 32, 3) and dataset.class_names[0] == "airplane"
    assert dataset.images[0, 0, 1, 0] == raw[0, 1]  # red plane first
    assert dataset.images[0, 0, 0, 2] == raw[0, 2048]  # blue plane last
    assert dataset.images[0, 1, 0, 1] == raw[0, 1024 + 32]  # row-major within a plane
    assert len(load_cifar10(root, "test")) == 4


def test_malicious_pickle_is_refused_without_running(tmp_path):
    root = write_cifar10(tmp_path / "cifar")
    marker = tmp_path / "pwned"
    with open(root / "data_batch_3", "wb") as handle:
        pickle.dump({b"data": Payload(str(marker)), b"labels": []}, handle, protocol=2)
    with pytest.raises(DataError, match="data_batch_3: not a valid CIFAR-10 batch.*refusing to load io.open"):
        load_cifar10(root, "train")
    assert not marker.exists()


def test_evaluate_loader_detects_cifar_and_npz(tmp_path):
    root = write_cifar10(tmp_path / "cifar")
    assert len(load_labelled(root, (32, 32))) == 4  # the test split
    images = np.zeros((3, 8, 8, 3), np.uint8)
    np.savez(tmp_path / "d.npz", images=images, labels=np.array([0, 1, 1]), class_names=np.array(["a", "b"]))
    dataset = load_labelled(tmp_path / "d.npz", (16, 16))
    assert dataset.images.shape == (3, 16, 16, 3) and dataset.class_names == ("a", "b")


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"images": np.zeros((2, 4, 4, 3), np.uint8)}, "needs arrays 'images' and 'labels'"),
        ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.zeros(2, int)}, "'images' must be"),
        ({"images": np.zeros((2, 4, 4, 3), np.uint8), "labels": np.zeros(3, int)}, "'labels' must be"),
        (
            {
                "images": np.zeros((2, 4, 4, 3), np.uint8),
                "labels": np.array([0, 2]),
                "class_names": np.array(["a", "b"]),
            },
            "labels must lie in",
        ),
    ],
)
def test_npz_contents_are_checked(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=message):
        load_npz(tmp_path / "d.npz")


def test_npz_with_pickled_objects_is_refused(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.array([object()], dtype=object), labels=np.zeros(1, int))
    with pytest.raises(DataError, match="cannot read as npz"):
        load_npz(tmp_path / "d.npz")
