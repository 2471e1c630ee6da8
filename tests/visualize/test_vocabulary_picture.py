"""`mlpcli show` draws a bow feature's words as un-whitened patches."""

from pathlib import Path

import numpy as np
from PIL import Image

from mlpcli.artifacts import load_model
from mlpcli.commands import run_kfold, run_show, run_train
from mlpcli.config import from_dict
from mlpcli.features.bow import patches, whitening
from mlpcli.visualize.tiles import PAD, to_uint8, upscale
from mlpcli.visualize.vocabulary import WORD_SIDE, word_patches

BOW = {"name": "bow", "patch": 4, "stride": 2, "words": 5, "sample_patches": 300, "kmeans_iterations": 5}


def _config(root: Path, **sections):
    raw = {
        "seed": 1,
        "data": {"format": "synthetic", "n_per_class": 12, "image_size": 16, "cache_dir": str(root / "cache")},
        "features": [BOW],
        "model": {"hidden": []},
        "train": {"epochs": 1, "batch_size": 16, "lr": 0.05},
        "output": {"dir": str(root / "runs")},
    }
    return from_dict({**raw, **sections})


def test_word_patches_undo_the_whitening():
    rng = np.random.default_rng(0)
    sample = patches.normalize(rng.normal(size=(500, 27)).astype(np.float32) * [1 + i for i in range(27)])
    mean, matrix = whitening.fit(sample)
    originals = sample[:4].astype(np.float64)
    state = {"whiten_mean": mean, "whiten_matrix": matrix, "vocabulary": whitening.apply(originals, mean, matrix)}
    np.testing.assert_allclose(word_patches(state, 3), originals.reshape(4, 3, 3, 3), atol=1e-8)


def test_show_draws_the_vocabulary_of_a_bow_run(tmp_path):
    run_dir = Path(run_train(_config(tmp_path), out=tmp_path / "run")["run_dir"])
    result = run_show(run_dir, out_dir=tmp_path / "pics")
    [drawn] = result["vocabularies"]
    path = Path(drawn["path"])
    assert path.name == "bow_vocabulary.png" and str(path) in result["pictures"]
    picture = np.asarray(Image.open(path).convert("RGB"))
    model = load_model(run_dir)
    words = word_patches(model.states[0], BOW["patch"])
    assert len(words) == BOW["words"]
    scale = round(WORD_SIDE / BOW["patch"])
    side = BOW["patch"] * scale
    for index, word in enumerate(words):
        col = PAD + index * (side + PAD)
        tile = picture[PAD : PAD + side, col : col + side]
        np.testing.assert_array_equal(tile, upscale(to_uint8(word), scale))


def test_show_draws_no_vocabulary_without_bow(tmp_path):
    run_dir = run_train(_config(tmp_path, features=["raw"]), out=tmp_path / "run")["run_dir"]
    assert run_show(run_dir, out_dir=tmp_path / "pics")["vocabularies"] == []


def test_kfold_ensemble_shows_the_shared_vocabulary(tmp_path):
    run_dir = run_kfold(_config(tmp_path), k=2, out=tmp_path / "kfold")["run_dir"]
    result = run_show(run_dir, out_dir=tmp_path / "pics")
    assert [Path(d["path"]).name for d in result["vocabularies"]] == ["bow_vocabulary.png"]
