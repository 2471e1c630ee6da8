"""The bow feature in the pipeline: config checks, fitting on training rows only, the fitted state
in the feature cache key and in the model bundle, and `mlpcli train` / `predict` end to end."""

import dataclasses
import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import assert_same_up_to_batch_rounding, write_config
from PIL import Image

from mlpcli.artifacts import load_model, save_model
from mlpcli.cli import cli
from mlpcli.config import load_config
from mlpcli.config.reference import config_reference_markdown
from mlpcli.data.split import holdout_rows
from mlpcli.errors import ArtifactError, ConfigError
from mlpcli.features import FEATURES, bow, validate_feature
from mlpcli.features.pipeline import cache_key, extract_features, fit_features
from mlpcli.kfold.run import plan_kfold
from mlpcli.predictor import FoldEnsemble
from mlpcli.train.fit import holdout_split, prepare, train_model

TINY = {"name": "bow", "patch": 3, "stride": 2, "words": 6, "sample_patches": 400, "kmeans_iterations": 5}


def write_npz(path, seed=0, n_per_class=12, size=12):
    """Three classes of random images with class-dependent colors, as an npz data set."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), n_per_class)
    images = rng.integers(0, 120, (len(labels), size, size, 3))
    images[np.arange(len(labels)), :, :, labels] += 120
    np.savez(path, images=images.astype(np.uint8), labels=labels, class_names=np.array(["a", "b", "c"]))
    return path


def npz_config(tmp_path, data_path, **sections):
    data = {
        "format": "npz",
        "path": str(data_path),
        "image_size": 12,
        "val_fraction": 0.25,
        "cache_dir": str(tmp_path / "cache"),
    }
    sections = {"features": [TINY], "kfold": {"k": 3, "holdout": 0.25}, **sections}
    return load_config(write_config(tmp_path / "config.yaml", data=data, **sections))


def changed_images(data_path, rows, out_path):
    """A copy of the npz at ``data_path`` with the images of ``rows`` replaced by noise."""
    with np.load(data_path) as stored:
        arrays = dict(stored)
    arrays["images"][rows] = np.random.default_rng(99).integers(0, 256, arrays["images"][rows].shape)
    np.savez(out_path, **arrays)
    return out_path


def vocabulary(prepared):
    return prepared.states[0]["vocabulary"]


# Config


def test_bow_parameters_are_checked_and_documented():
    feature = validate_feature(TINY, "features[0]")
    assert feature.params["words"] == 6 and feature.params["encoding"] == "triangle"
    with pytest.raises(ConfigError, match=r"features\[0\]\.words"):
        validate_feature({**TINY, "words": 0}, "features[0]")
    with pytest.raises(ConfigError, match=r"features\[0\]\.kmeans_tol: must be a number >= 0 and < 1; got 1$"):
        validate_feature({**TINY, "kmeans_tol": 1}, "features[0]")
    kind = FEATURES["bow"]
    assert kind.fitted and set(kind.param_docs) == set(kind.defaults)
    assert "labels are never used" in kind.doc and "validation images never change" in kind.doc


def test_kmeans_tol_has_one_bound_in_the_reference_the_config_and_a_direct_call():
    """The reference documented the config check's `<= 1` while bow's own second check refused 1.
    Now one validator: the reference row, the config error and a direct call all say `< 1`.
    Fails against the two former checks (the reference row said <= 1)."""
    row = next(
        line for line in config_reference_markdown().splitlines() if line.startswith("| `features[].kmeans_tol` |")
    )
    assert "| a number >= 0 and < 1 |" in row
    assert validate_feature({**TINY, "kmeans_tol": 0.9999}, "features[0]").params["kmeans_tol"] == 0.9999
    with pytest.raises(ConfigError, match=r"^features\[0\]\.kmeans_tol: must be a number >= 0 and < 1; got 1$"):
        validate_feature({**TINY, "kmeans_tol": 1}, "features[0]")
    with pytest.raises(ValueError, match=r"^bow kmeans_tol: must be a number >= 0 and < 1; got 1$"):
        bow.check_params({"kmeans_tol": 1})


@pytest.mark.parametrize(
    "name, values",
    [
        ("kmeans_tol", [-0.1, 0, 0.5, 0.9999, 1, 1.5, True]),
        ("words", [0, 1, 7, 2.0, True]),
        ("pooling", ["global", "max"]),
        ("whiten", [False, "yes"]),
    ],
)
def test_a_config_and_a_direct_call_accept_the_same_bow_values(name, values):
    """validate_feature (config, model.json) and bow.check_params (direct calls) run the same
    validator, so they accept the same values."""
    for value in values:
        try:
            config_ok = validate_feature({**TINY, name: value}, "features[0]") is not None
        except ConfigError:
            config_ok = False
        try:
            direct_ok = bow.check_params({name: value}) is not None
        except ValueError:
            direct_ok = False
        assert config_ok == direct_ok, (name, value)


# Fitting on training rows only


def test_train_vocabulary_ignores_validation_images(tmp_path):
    data = write_npz(tmp_path / "data.npz")
    config = npz_config(tmp_path, data)
    first = prepare(config, use_cache=False)
    train_rows, val_rows = holdout_split(config, first.dataset.labels)
    changed = npz_config(tmp_path, changed_images(data, val_rows, tmp_path / "val.npz"))
    second = prepare(changed, use_cache=False)
    assert vocabulary(first).tobytes() == vocabulary(second).tobytes()
    # The comparison can tell: a changed training image changes the vocabulary.
    other = npz_config(tmp_path, changed_images(data, train_rows[:3], tmp_path / "train.npz"))
    assert vocabulary(prepare(other, use_cache=False)).tobytes() != vocabulary(first).tobytes()


def test_kfold_vocabulary_ignores_holdout_images(tmp_path):
    data = write_npz(tmp_path / "data.npz")
    config = npz_config(tmp_path, data)
    plan = plan_kfold(config, use_cache=False)
    assert len(plan.holdout) > 0
    changed = npz_config(tmp_path, changed_images(data, plan.holdout, tmp_path / "holdout.npz"))
    again = plan_kfold(changed, use_cache=False)
    assert vocabulary(plan.prepared[0]).tobytes() == vocabulary(again.prepared[0]).tobytes()
    rows = np.setdiff1d(np.arange(len(plan.prepared[0].dataset)), plan.holdout)
    other = npz_config(tmp_path, changed_images(data, rows[:3], tmp_path / "rows.npz"))
    assert (
        vocabulary(plan_kfold(other, use_cache=False).prepared[0]).tobytes() != vocabulary(plan.prepared[0]).tobytes()
    )
    # kfold fits on a different set of rows than train: the split it ignores is kfold.holdout.
    kept, _ = holdout_rows(plan.prepared[0].dataset.labels, 0.25, config.seed)
    assert np.array_equal(np.sort(kept), rows)


def test_a_grid_over_the_seed_fits_each_candidates_own_vocabulary(tmp_path):
    """bow's k-means draws from the seed, so --grid seed=1,2 needs two vocabularies, each the one a
    plain k-fold with that seed fits (no holdout: the same fitting rows). Fails with the old
    sharing key (no seed): candidate 2 reused candidate 1's vocabulary."""
    data = write_npz(tmp_path / "data.npz")
    config = npz_config(tmp_path, data, kfold={"k": 3, "holdout": 0.0})
    plan = plan_kfold(config, grid=["seed=1,2"], use_cache=False)
    vocabularies = [vocabulary(prepared).tobytes() for prepared in plan.prepared]
    assert vocabularies[0] != vocabularies[1]
    for seed, fitted in zip((1, 2), vocabularies):
        alone = plan_kfold(dataclasses.replace(config, seed=seed), use_cache=False)
        assert vocabulary(alone.prepared[0]).tobytes() == fitted


@pytest.mark.parametrize("grid", [["seed=1,2"], ["kfold.holdout=0.1,0.4"]])
def test_no_grid_candidates_vocabulary_sees_the_holdout(tmp_path, grid):
    """Every candidate trains and validates on the plan's folds, so its vocabulary is fitted
    outside the plan's holdout, whatever its own seed or kfold.holdout: changing the holdout's
    images changes no vocabulary. Fails when a candidate's own split picks the fitting rows."""
    data = write_npz(tmp_path / "data.npz")
    config = npz_config(tmp_path, data)
    plan = plan_kfold(config, grid=grid, use_cache=False)
    changed = npz_config(tmp_path, changed_images(data, plan.holdout, tmp_path / "holdout.npz"))
    again = plan_kfold(changed, grid=grid, use_cache=False)
    assert np.array_equal(plan.holdout, again.holdout)
    for before, after in zip(plan.prepared, again.prepared):
        assert vocabulary(before).tobytes() == vocabulary(after).tobytes()


def test_cache_key_changes_with_the_state(tmp_path):
    features = (validate_feature(TINY, "features[0]"),)
    images = np.random.default_rng(0).integers(0, 256, (6, 12, 12, 3), dtype=np.uint8)
    state = fit_features(images, features, np.random.default_rng(0))
    same = fit_features(images, features, np.random.default_rng(0))
    other = ({**state[0], "vocabulary": state[0]["vocabulary"].copy()},)
    other[0]["vocabulary"][0, 0] += 1
    assert cache_key("data", features, "float32", state) == cache_key("data", features, "float32", same)
    assert cache_key("data", features, "float32", state) != cache_key("data", features, "float32", other)


def test_extracting_a_fitted_feature_without_its_state_is_refused():
    features = (validate_feature(TINY, "features[0]"),)
    with pytest.raises(ValueError, match="fitted state"):
        extract_features(np.zeros((2, 12, 12, 3), np.uint8), features)


# The model bundle


@pytest.fixture
def trained(tmp_path):
    config = npz_config(tmp_path, write_npz(tmp_path / "data.npz"))
    prepared = prepare(config, use_cache=False)
    train_rows, val_rows = holdout_split(config, prepared.dataset.labels)
    return prepared, train_model(config, prepared, train_rows, val_rows).predictor


def test_bundle_round_trip_gives_the_same_probabilities(tmp_path, trained):
    prepared, predictor = trained
    save_model(tmp_path / "m", predictor)
    loaded = load_model(tmp_path / "m")
    for name, value in predictor.states[0].items():
        np.testing.assert_array_equal(loaded.states[0][name], value)
    images = prepared.dataset.images[:7]
    # The same calls on the same images: the same bytes.
    np.testing.assert_array_equal(loaded.predict_proba(images), predictor.predict_proba(images))
    # The features the network was trained on are the ones predict extracts (from 7 images, not
    # the whole set in chunks: the same up to rounding).
    assert_same_up_to_batch_rounding(loaded.extract(images), prepared.X[:7])


def test_ensemble_members_share_the_state(tmp_path, trained):
    _, predictor = trained
    ensemble = FoldEnsemble([predictor, predictor])
    assert ensemble.states is predictor.states
    for member in ("f1", "f2"):
        save_model(tmp_path / "e" / member, predictor)
    save_model(tmp_path / "e", ensemble, ["f1", "f2"])
    assert load_model(tmp_path / "e").states[0]["vocabulary"].tobytes() == predictor.states[0]["vocabulary"].tobytes()


def rewrite_weights(path, **replaced):
    with np.load(path, allow_pickle=False) as stored:
        arrays = {**dict(stored), **replaced}
    np.savez(path, **arrays)


def test_tampered_vocabulary_shape_is_refused(tmp_path, trained):
    _, predictor = trained
    save_model(tmp_path / "m", predictor)
    words = predictor.states[0]["vocabulary"]
    rewrite_weights(tmp_path / "m" / "weights.npz", **{"features/0/vocabulary": np.vstack([words, words[:1]])})
    with pytest.raises(ArtifactError, match="features/0/vocabulary"):
        load_model(tmp_path / "m")


def test_missing_or_mislabelled_state_is_refused(tmp_path, trained):
    _, predictor = trained
    save_model(tmp_path / "m", predictor)
    path = tmp_path / "m" / "weights.npz"
    with np.load(path, allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files if key != "features/0/vocabulary"}
    np.savez(path, **arrays)
    with pytest.raises(ArtifactError, match="missing.*features/0/vocabulary"):
        load_model(tmp_path / "m")
    save_model(tmp_path / "n", predictor)
    meta = json.loads((tmp_path / "n" / "model.json").read_text())
    meta["features"][0]["words"] += 1  # model.json now asks for a vocabulary the weights lack
    (tmp_path / "n" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError):
        load_model(tmp_path / "n")


def test_old_bundles_without_feature_arrays_still_load(tmp_path):
    config = npz_config(tmp_path, write_npz(tmp_path / "data.npz"), features=["raw"])
    prepared = prepare(config, use_cache=False)
    predictor = train_model(config, prepared, *holdout_split(config, prepared.dataset.labels)).predictor
    save_model(tmp_path / "m", predictor)
    with zipfile.ZipFile(tmp_path / "m" / "weights.npz") as archive:
        assert not [name for name in archive.namelist() if name.startswith("features/")]
    assert load_model(tmp_path / "m").states == (None,)


# End to end


def test_train_then_predict_with_a_tiny_bow_config(tmp_path):
    data = write_npz(tmp_path / "data.npz")
    config = write_config(
        tmp_path / "config.yaml",
        features=[TINY],
        data={"format": "npz", "path": str(data), "image_size": 12, "val_fraction": 0.25},
    )
    result = CliRunner().invoke(cli, ["train", "--config", str(config), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.stderr
    with np.load(data) as stored:
        image = stored["images"][0]
    Image.fromarray(image).save(tmp_path / "one.png")
    result = CliRunner().invoke(cli, ["predict", str(tmp_path / "one.png"), "--model", str(tmp_path / "run")])
    assert result.exit_code == 0, result.stderr
    label, probability = result.stdout.strip().splitlines()[1].split("\t")[1:3]
    expected = load_model(tmp_path / "run").predict_proba(image[None])[0]
    assert label == "abc"[expected.argmax()]
    assert float(probability) == pytest.approx(expected.max(), abs=1e-4)


def test_a_unit_of_work_carries_the_state_to_the_saved_model(tmp_path):
    """kfold --jobs and search train folds as units in other processes; the model they rebuild
    must predict with the plan's vocabulary."""
    from mlpcli.units.training import UnitData, rebuild, train_unit

    config = npz_config(tmp_path, write_npz(tmp_path / "data.npz"))
    plan = plan_kfold(config, use_cache=False)
    prepared = plan.prepared[0]
    data = UnitData.of(prepared)
    val = plan.folds[0]
    train = np.setdiff1d(np.concatenate(plan.folds), val)
    output = train_unit(config, prepared.X, prepared.dataset.labels, data, train, val, (0,))
    predictor = rebuild(config, data, output).predictor
    assert predictor.states[0]["vocabulary"] is prepared.states[0]["vocabulary"]
    assert_same_up_to_batch_rounding(predictor.extract(prepared.dataset.images[:4]), prepared.X[:4])


def test_fitted_states_are_cached_by_data_rows_seed_and_parameters(tmp_path):
    data = write_npz(tmp_path / "data.npz")
    config = npz_config(tmp_path, data)
    first = prepare(config)
    cached = list((tmp_path / "cache").glob("fitted-*.npz"))
    assert len(cached) == 1
    # A tampered entry is what the next run gets: proof that it reads the cache ...
    with np.load(cached[0]) as stored:
        arrays = dict(stored)
    arrays["0/vocabulary"] = arrays["0/vocabulary"] + 1
    np.savez(cached[0], **arrays)
    again = prepare(config)
    np.testing.assert_array_equal(vocabulary(again), vocabulary(first) + 1)
    # ... and another seed or validation split does not use it.
    reseeded = npz_config(tmp_path, data, seed=4)
    assert vocabulary(prepare(reseeded)).tobytes() == vocabulary(prepare(reseeded, use_cache=False)).tobytes()
    assert len(list((tmp_path / "cache").glob("fitted-*.npz"))) == 2


def test_parameters_fitting_does_not_read_reuse_the_fitted_state(tmp_path):
    """Encoding, pooling and power only use the vocabulary: changing them finds the cached
    (here tampered) state; a parameter fitting reads (words, sample_patches) fits afresh."""
    data = write_npz(tmp_path / "data.npz")
    first = prepare(npz_config(tmp_path, data))
    (cached,) = (tmp_path / "cache").glob("fitted-*.npz")
    with np.load(cached) as stored:
        arrays = dict(stored)
    arrays["0/vocabulary"] = arrays["0/vocabulary"] + 1
    np.savez(cached, **arrays)
    for change in ({"power": 0.5}, {"encoding": "hard"}, {"pooling": "global"}):
        reused = prepare(npz_config(tmp_path, data, features=[{**TINY, **change}]))
        np.testing.assert_array_equal(vocabulary(reused), vocabulary(first) + 1)
    for change in ({"words": 5}, {"sample_patches": 300}):
        refitted = prepare(npz_config(tmp_path, data, features=[{**TINY, **change}]))
        fresh = prepare(npz_config(tmp_path, data, features=[{**TINY, **change}]), use_cache=False)
        assert vocabulary(refitted).tobytes() == vocabulary(fresh).tobytes()
    assert len(list((tmp_path / "cache").glob("fitted-*.npz"))) == 3
    assert set(bow.FIT_PARAMS) <= set(bow.DEFAULTS)
