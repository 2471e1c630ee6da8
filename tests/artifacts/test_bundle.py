import json

import numpy as np
import pytest

from mlpcli.artifacts import load_model, new_run_dir, point_latest, save_model
from mlpcli.errors import ArtifactError
from mlpcli.features import FeatureConfig
from mlpcli.features.standardize import Standardizer
from mlpcli.nn import build_mlp
from mlpcli.predictor import FoldEnsemble, Predictor


def make_predictor(seed=0, classes=("a", "b", "c")):
    rng = np.random.default_rng(seed)
    network = build_mlp(48, len(classes), [5], rng=rng)
    standardizer = Standardizer(rng.random(48).astype(np.float32), (rng.random(48) + 0.5).astype(np.float32))
    return Predictor(network, standardizer, classes, (4, 4), [FeatureConfig("raw", {})])


def images(n=5, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)


def test_round_trip_predicts_identically(tmp_path):
    predictor = make_predictor()
    save_model(tmp_path / "m", predictor)
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(images()), predictor.predict_proba(images()))
    with np.load(tmp_path / "m" / "weights.npz", allow_pickle=False) as stored:
        assert "network/0.W" in stored.files and "standardizer/mean" in stored.files


def test_ensemble_is_the_mean_of_its_members(tmp_path):
    members = [make_predictor(seed) for seed in range(3)]
    for i, member in enumerate(members):
        save_model(tmp_path / f"fold_{i}", member)
    ensemble = FoldEnsemble(members)
    save_model(tmp_path, ensemble, [f"fold_{i}" for i in range(3)])
    expected = np.mean([m.predict_proba(images()) for m in members], axis=0)
    np.testing.assert_allclose(load_model(tmp_path).predict_proba(images()), expected, rtol=1e-6)


def test_ensemble_refuses_members_that_disagree(tmp_path):
    save_model(tmp_path / "fold_0", make_predictor(0))
    save_model(tmp_path / "fold_1", make_predictor(1, classes=("a", "b", "z")))
    save_model(tmp_path, FoldEnsemble([make_predictor(0)]), ["fold_0", "fold_1"])
    with pytest.raises(ArtifactError, match="member 2 has different class_names"):
        load_model(tmp_path)


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda d: (d / "model.json").unlink(), "model.json is missing"),
        (lambda d: (d / "model.json").write_text("{not json"), "unreadable model description"),
        (lambda d: _edit(d, format_version=99), "newer than this mlpcli"),
        (lambda d: _edit(d, architecture=[{"type": "Evil"}]), "invalid architecture"),
        (lambda d: (d / "weights.npz").write_bytes(b"PK\x03\x04 truncated"), "unreadable weights"),
        (lambda d: (d / "weights.npz").unlink(), "weights file is missing"),
        (
            lambda d: _edit(
                d, architecture=[{"type": "Linear", "n_in": 48, "n_out": 3, "bias": True, "dtype": "float32"}]
            ),
            "weights do not match",
        ),
    ],
)
def test_damaged_models_are_refused_with_a_message(tmp_path, tamper, message):
    save_model(tmp_path, make_predictor())
    tamper(tmp_path)
    with pytest.raises(ArtifactError, match=message):
        load_model(tmp_path)


def _edit(directory, **changes):
    meta = json.loads((directory / "model.json").read_text())
    meta.update(changes)
    (directory / "model.json").write_text(json.dumps(meta))


def test_run_dirs_are_never_reused(tmp_path):
    first = new_run_dir(tmp_path, "x")
    second = new_run_dir(tmp_path, "x")
    assert first != second and first.is_dir() and second.is_dir()
    (first / "file").write_text("keep me")
    with pytest.raises(ArtifactError, match="already exists and is not empty"):
        new_run_dir(tmp_path, "x", out=first)
    point_latest(tmp_path, second)
    assert (tmp_path / "latest").resolve() == second.resolve()
    point_latest(tmp_path, first)
    assert (tmp_path / "latest").resolve() == first.resolve()


def test_runs_outside_the_output_dir_do_not_become_latest(tmp_path):
    inside = new_run_dir(tmp_path / "runs", "x")
    point_latest(tmp_path / "runs", inside)
    elsewhere = new_run_dir(tmp_path / "runs", "x", out=tmp_path / "scratch" / "run")
    point_latest(tmp_path / "runs", elsewhere)
    assert (tmp_path / "runs" / "latest").resolve() == inside.resolve()


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from mlpcli.fileio import write_text

    umask = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
