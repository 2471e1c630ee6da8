"""Augmentation (issue 25): each transform does what it says, in every mode, seeded.

Each test was checked against a broken implementation (flip up-down instead of left-right, the
crop's offsets drawn from 0 .. 2 * pad - 1, the jitter's mean taken before the brightness, the
erased rectangle one row short, the trainer ignoring the copies or the augmented pixels) and fails there.
"""

import os
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import assert_same_up_to_batch_rounding

from mlpcli.config import from_dict
from mlpcli.features.pipeline import extract_features
from mlpcli.train import loop
from mlpcli.train.augment import ERASE_FILL, augment_images, crop, erase, erase_boxes, jitter
from mlpcli.train.copies import BLOCK, AugmentedImages, pick_versions
from mlpcli.train.fit import holdout_split, prepare, train_model

HOG = [{"name": "hog", "cell": 4}]


def settings(**values):
    """A train.augment section with every transform off but ``values``."""
    base = {"flip": False, "crop_padding": 0, "brightness": 0.0, "contrast": 0.0, "erase": 0.0, "copies": 2}
    return SimpleNamespace(**{**base, **values})


def asymmetric_images(n=6, size=8):
    """(n, size, size, 3) float32 in (0, 1], no image equal to its mirror."""
    values = np.arange(1, n * size * size * 3 + 1, dtype=np.float32)
    return (values / values.max()).reshape(n, size, size, 3)


def config(tmp_path, features=None, e2e=False, **augment):
    raw = {
        "seed": 2,
        "data": {"format": "synthetic", "n_per_class": 12, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
        "model": {"hidden": [8]},
        "train": {"epochs": 2, "batch_size": 16, "lr": 0.05, "augment": augment},
    }
    if features:
        raw["features"] = features
    if e2e:
        raw.update(mode="end_to_end", extractor={"blocks": [{"filters": 2, "kernel": 3, "pool": 2}]})
    return from_dict(raw)


def network_inputs(cfg, monkeypatch):
    """Train ``cfg``; returns (prepared, [(sample rows, the unstandardized rows the network got)])."""
    seen = []
    original = loop.Trainer._inputs

    def recording(self, X, n_samples, rows, batch):
        out = original(self, X, n_samples, rows, batch)
        seen.append((rows.copy(), out * self.standardizer.std + self.standardizer.mean))
        return out

    monkeypatch.setattr(loop.Trainer, "_inputs", recording)
    prepared = prepare(cfg)
    train_model(cfg, prepared, *holdout_split(cfg, prepared.dataset.labels))
    return prepared, seen


@pytest.mark.parametrize("e2e", [False, True])
def test_flip_mirrors_the_pixels_the_network_sees(tmp_path, monkeypatch, e2e):
    """features: [raw] and end_to_end: every training row is its image or that image mirrored
    left-right (up to the standardization's rounding), and both happen."""
    prepared, seen = network_inputs(config(tmp_path, e2e=e2e, flip=True), monkeypatch)
    shape = prepared.image_shape
    kinds = set()
    for rows, pixels in seen:
        plain = np.asarray(prepared.X[rows]).reshape(len(rows), *shape)
        mirrored = plain[:, :, ::-1]
        got = pixels.reshape(plain.shape)
        is_plain = np.isclose(got, plain, atol=1e-5).all(axis=(1, 2, 3))
        is_mirrored = np.isclose(got, mirrored, atol=1e-5).all(axis=(1, 2, 3))
        assert (is_plain | is_mirrored).all()
        asymmetric = ~np.isclose(plain, mirrored, atol=1e-3).all(axis=(1, 2, 3))
        kinds |= {"plain" if p else "mirrored" for p in is_plain[asymmetric]}
    assert kinds == {"plain", "mirrored"}


def test_a_flipped_copy_holds_the_features_of_the_mirrored_image(tmp_path):
    """A fixed feature (hog): each augmented copy's row is hog of the image or of its mirror."""
    cfg = config(tmp_path, features=HOG, flip=True, copies=2)
    prepared = prepare(cfg)
    images, n = np.asarray(prepared.dataset.images), len(prepared.dataset)
    plain = extract_features(images, cfg.features)
    mirrored = extract_features(images[:, :, ::-1].copy(), cfg.features)
    assert prepared.X.shape == (3 * n, plain.shape[1])
    assert_same_up_to_batch_rounding(prepared.X[:n], plain)
    for copy in (1, 2):
        rows = prepared.X[copy * n : (copy + 1) * n]
        is_mirrored = np.isclose(rows, mirrored, rtol=1e-5, atol=1e-6).all(axis=1)
        is_plain = np.isclose(rows, plain, rtol=1e-5, atol=1e-6).all(axis=1)
        assert (is_plain | is_mirrored).all()
        assert (is_mirrored & ~is_plain).any() and (is_plain & ~is_mirrored).any()


def test_training_on_fixed_features_draws_rows_from_the_copies(tmp_path, monkeypatch):
    prepared, seen = network_inputs(config(tmp_path, features=HOG, flip=True, brightness=0.3, copies=2), monkeypatch)
    n = len(prepared.dataset)
    versions = set()
    for rows, got in seen:
        stacked = np.stack([prepared.X[rows + c * n] for c in range(3)])  # (versions, rows, features)
        match = np.isclose(got[None], stacked, rtol=1e-4, atol=1e-5).all(axis=2)
        assert match.any(axis=0).all()
        versions |= set(match.argmax(axis=0).tolist())
    assert versions == {0, 1, 2}


def test_augmented_copies_do_not_depend_on_how_they_are_sliced():
    """A copy's draws are per block of BLOCK images, so any chunking gives the same bytes."""
    images = (asymmetric_images(BLOCK + 40, 4) * 255).astype(np.uint8)
    view = AugmentedImages(images, settings(flip=True, crop_padding=1, erase=0.5), seed=3, copy=1)
    whole = view[0 : len(images)]
    pieces = np.concatenate([view[0:100], view[100 : BLOCK + 7], view[BLOCK + 7 : len(images)]])
    assert np.array_equal(whole, pieces)
    assert not np.array_equal(whole, AugmentedImages(images, view.augment, seed=3, copy=2)[0 : len(images)])


def test_pick_versions_draws_the_original_and_every_copy():
    rows = np.arange(10)
    picked = pick_versions(np.tile(rows, 50), 10, 3, np.random.default_rng(0))
    assert set(picked % 10) == set(rows) and set(picked // 10) == {0, 1, 2, 3}


def test_crop_reaches_every_offset_both_edges_included():
    pad = 2
    images = np.repeat(asymmetric_images(1), 400, axis=0)
    out = augment_images(images, settings(crop_padding=pad), np.random.default_rng(0))
    offsets = set()
    for row0 in range(2 * pad + 1):
        for col0 in range(2 * pad + 1):
            window = crop(images[:1].copy(), pad, np.array([row0]), np.array([col0]))
            if np.equal(out, window).all(axis=(1, 2, 3)).any():
                offsets.add((row0, col0))
    assert offsets == {(r, c) for r in range(2 * pad + 1) for c in range(2 * pad + 1)}
    # The extreme windows: shifted so that the black padding fills the first / last two rows.
    top = crop(images[:1].copy(), pad, np.array([0]), np.array([pad]))
    assert (top[0, :pad] == 0).all() and np.array_equal(top[0, pad:], images[0, :-pad])


def test_jitter_on_a_hand_example():
    """brightness 1.5 then contrast 2 around the mean after brightness, clipped to [0, 1]."""
    image = np.array([0.2, 0.4, 0.6, 0.8], np.float32).reshape(1, 2, 2, 1).repeat(3, axis=3)
    out = jitter(image.copy(), np.array([1.5]), np.array([2.0]))
    # x * 1.5 = 0.3 0.6 0.9 1.2, mean 0.75; (x - 0.75) * 2 + 0.75 = -0.15 0.45 1.05 1.65
    np.testing.assert_allclose(out[0, :, :, 0].ravel(), [0.0, 0.45, 1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(jitter(image.copy(), np.array([1.0]), np.array([1.0])), image, atol=1e-7)
    flat = jitter(image.copy(), np.array([1.0]), np.array([0.0]))
    np.testing.assert_allclose(flat, 0.5, atol=1e-6)


def test_jitter_factors_stay_in_their_range():
    images = np.full((500, 2, 2, 3), 0.5, np.float32)
    out = augment_images(images, settings(brightness=0.2), np.random.default_rng(1))
    assert out.min() >= 0.4 - 1e-6 and out.max() <= 0.6 + 1e-6 and out.std() > 0.05


def test_erase_fills_exactly_the_rectangle_of_the_erased_images():
    images = np.zeros((2, 4, 5, 3), np.float32)
    out = erase(images.copy(), np.array([True, False]), np.array([[1, 2, 2, 3], [0, 0, 4, 5]]))
    expected = np.zeros((4, 5, 3), np.float32)
    expected[1:3, 2:5] = ERASE_FILL
    assert np.array_equal(out[0], expected) and np.array_equal(out[1], images[1])


def test_erase_boxes_fit_the_image_and_cover_their_area():
    boxes = erase_boxes(2000, 10, 16, np.random.default_rng(2))
    row0, col0, rows, cols = boxes.T
    assert (row0 >= 0).all() and (col0 >= 0).all() and (row0 + rows <= 10).all() and (col0 + cols <= 16).all()
    assert (row0 == 0).any() and (row0 + rows == 10).any() and (col0 == 0).any() and (col0 + cols == 16).any()
    area = rows * cols / 160
    assert area.min() >= 0.005 and area.max() <= 0.6 and 0.1 < area.mean() < 0.3
    out = augment_images(np.zeros((1000, 10, 16, 3), np.float32), settings(erase=0.5), np.random.default_rng(3))
    erased = (out == ERASE_FILL).any(axis=(1, 2, 3))
    assert 0.4 < erased.mean() < 0.6


def test_augmented_raw_training_gives_the_same_bytes_on_1_and_2_threads(tmp_path):
    """k-fold's promise (README, "Same bytes, same numbers") with every augmentation on raw
    pixels: the draws are made on the calling thread and the gather and standardization are per
    row, so --threads changes no byte. In processes, since --threads must be set before NumPy
    loads; each run is killed if it outlives its deadline."""
    import subprocess
    import sys

    from conftest import write_config

    augment = {"flip": True, "crop_padding": 2, "brightness": 0.2, "contrast": 0.2, "erase": 0.5}
    cfg = write_config(
        tmp_path / "c.yaml",
        data={"image_size": 20},
        model={"hidden": [32]},
        train={"batch_size": 32, "augment": augment},
    )
    env = {**os.environ, "CI": "1"}
    for threads in (1, 2):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mlpcli",
                "--threads",
                str(threads),
                "kfold",
                "--config",
                str(cfg),
                "--k",
                "2",
                "--out",
                str(tmp_path / f"t{threads}"),
                "-q",
            ],
            check=True,
            env=env,
            capture_output=True,
            timeout=300,
        )
    for name in ("kfold_summary.json", "folds/fold_1/weights.npz", "folds/fold_2/weights.npz"):
        assert (tmp_path / "t1" / name).read_bytes() == (tmp_path / "t2" / name).read_bytes(), name


def test_kfold_candidates_that_differ_in_augmentation_get_their_own_copies(tmp_path):
    """A --grid over train.augment keys: each candidate trains on its own stacked matrix (sharing
    the first candidate's would train the second on 1 copy where it asked for 2)."""
    from mlpcli.kfold.run import plan_kfold

    cfg = config(tmp_path, features=HOG, flip=True, copies=1)
    plan = plan_kfold(cfg, k=2, grid=["train.augment.copies=1,2", "train.augment.flip=true,false"])
    n = len(plan.prepared[0].dataset)
    copies = {
        (c.train.augment.copies, c.train.augment.flip): len(p.X) // n for c, p in zip(plan.configs, plan.prepared)
    }
    assert copies == {(1, True): 2, (2, True): 3, (1, False): 1, (2, False): 1}
