import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config

from mlpcli.cli import cli
from mlpcli.config import from_dict, grid_combinations, parse_grid
from mlpcli.errors import ConfigError
from mlpcli.kfold.folds import stratified_folds
from mlpcli.kfold.run import fold_dirs, plan_kfold, train_folds
from mlpcli.kfold.select import load_folds


@pytest.mark.parametrize("counts, k", [([10, 10, 10], 5), ([13, 7, 5, 9], 5), ([3, 4], 3), ([100, 1 + 2], 3)])
def test_folds_partition_stratify_and_balance(counts, k):
    labels = np.repeat(np.arange(len(counts)), counts)
    folds = stratified_folds(labels, k, np.random.default_rng(0))
    assert len(folds) == k
    assert np.array_equal(np.sort(np.concatenate(folds)), np.arange(len(labels)))  # each validated once
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    for label in range(len(counts)):
        per_fold = [np.sum(labels[f] == label) for f in folds]
        assert max(per_fold) - min(per_fold) <= 1


def test_folds_are_deterministic_per_seed():
    labels = np.repeat(np.arange(3), 20)
    a = stratified_folds(labels, 4, np.random.default_rng(1))
    b = stratified_folds(labels, 4, np.random.default_rng(1))
    c = stratified_folds(labels, 4, np.random.default_rng(2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_class_smaller_than_k_is_a_clear_error():
    labels = np.array([0] * 10 + [1] * 2)
    with pytest.raises(ConfigError, match=r"kfold.k: 3 folds need at least 3 samples per class, but class 'b' has 2"):
        stratified_folds(labels, 3, np.random.default_rng(0), class_names=("a", "b"))


def test_grid_values_keep_brackets_together():
    grid = parse_grid(["model.hidden=[64],[128,64]", "train.lr=0.1,0.01"])
    assert grid == [("model.hidden", [[64], [128, 64]]), ("train.lr", [0.1, 0.01])]
    assert len(grid_combinations(grid)) == 4 and grid_combinations([]) == [{}]
    with pytest.raises(ConfigError):
        parse_grid(["train.lr"])


def small(tmp_path, **train):
    return from_dict(
        {
            "seed": 4,
            "data": {"format": "synthetic", "n_per_class": 20, "image_size": 12, "cache_dir": str(tmp_path / "cache")},
            "model": {"hidden": [8]},
            "train": {"epochs": 2, "batch_size": 16, "lr": 0.05, **train},
            "output": {"dir": str(tmp_path / "runs")},
        }
    )


def test_standardization_is_fitted_on_each_fold_training_rows_only(tmp_path):
    plan = plan_kfold(small(tmp_path), k=4)
    X = plan.prepared[0].X
    dirs = fold_dirs(tmp_path / "run", plan)
    train_folds(plan, dirs)
    for rows, (predictor, _) in zip(plan.folds, load_folds(dirs)[0]):
        train_rows = np.setdiff1d(np.arange(len(X)), rows)
        np.testing.assert_allclose(predictor.standardizer.mean, X[train_rows].mean(axis=0), atol=1e-6)
        # Fitting on all rows would give these statistics instead; they must differ.
        assert not np.allclose(predictor.standardizer.mean, X.mean(axis=0), atol=1e-6)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_kfold_run_is_a_usable_model_and_ensemble_is_the_mean(tmp_path):
    config = write_config(tmp_path / "c.yaml", kfold={"holdout": 0.2})
    result = run("kfold", "--config", config, "--k", "3", "--out", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    keys = {"run_dir", "k", "select", "fold_accuracies", "mean_accuracy", "std_accuracy", "oof_accuracy"}
    assert keys <= set(summary)
    assert summary["select"] == "ensemble" and len(summary["fold_accuracies"]) == 3
    assert np.isclose(summary["mean_accuracy"], np.mean(summary["fold_accuracies"]))
    assert summary["holdout"]["n"] == 24
    run_dir = tmp_path / "run"
    for name in ("kfold_split_indices.json", "kfold_summary.json", "oof_predictions.npz", "config.yaml", "model.json"):
        assert (run_dir / name).is_file()
    splits = json.loads((run_dir / "kfold_split_indices.json").read_text())
    validated = sorted(sum(splits["folds"], []))
    assert validated == sorted(set(range(120)) - set(splits["holdout"]))

    from mlpcli.artifacts import load_model

    ensemble, members = load_model(run_dir), [load_model(run_dir / "folds" / f"fold_{i}") for i in (1, 2, 3)]
    images = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    expected = np.mean([m.predict_proba(images) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(images), expected, rtol=1e-6)
    synth = tmp_path / "synth"
    run("data", "synth", "--out", synth, "--n-per-class", "2", "--size", "16")
    assert run("predict", synth, "--model", run_dir).exit_code == 0
    assert run("evaluate", "--data", synth, "--model", run_dir).exit_code == 0


def test_best_selects_the_fold_with_the_highest_accuracy(tmp_path):
    config = write_config(tmp_path / "c.yaml")
    result = run("kfold", "--config", config, "--k", "3", "--select", "best", "--out", tmp_path / "run", "--json")
    summary = json.loads(result.stdout)
    best = int(np.argmax(summary["fold_accuracies"])) + 1
    assert summary["best_fold"] == best
    chosen = (tmp_path / "run" / "weights.npz").read_bytes()
    assert chosen == (tmp_path / "run" / "folds" / f"fold_{best}" / "weights.npz").read_bytes()


def test_jobs_2_gives_the_same_summary_and_weight_bytes_as_jobs_1(tmp_path):
    # 20x20 raw pixels (1200 features) into 32 units: a product OpenBLAS splits differently on one
    # and on two threads, so this fails unless every fold runs with the same BLAS threads.
    config = write_config(
        tmp_path / "c.yaml", data={"image_size": 20}, model={"hidden": [32]}, train={"batch_size": 32}
    )
    summaries = []
    for jobs in (1, 2):
        result = run("kfold", "--config", config, "--k", "3", "--jobs", jobs, "--out", tmp_path / f"j{jobs}", "--json")
        assert result.exit_code == 0, result.stderr
        summary = json.loads(result.stdout)
        summary.pop("run_dir")
        summaries.append(summary)
    assert summaries[0] == summaries[1]
    for fold in (1, 2, 3):
        weights = [(tmp_path / f"j{jobs}" / "folds" / f"fold_{fold}" / "weights.npz").read_bytes() for jobs in (1, 2)]
        assert weights[0] == weights[1]


def test_grid_runs_every_combination_and_keeps_the_best(tmp_path):
    config = write_config(tmp_path / "c.yaml")
    result = run(
        "kfold", "--config", config, "--k", "2", "--grid", "train.lr=0.001,0.1", "--json", "--out", tmp_path / "run"
    )
    summary = json.loads(result.stdout)
    assert [row["mean_accuracy"] for row in summary["grid"]] == sorted(
        (row["mean_accuracy"] for row in summary["grid"]), reverse=True
    )
    assert summary["best_params"] == summary["grid"][0]["params"]
    assert f"lr: {summary['best_params']['train.lr']}" in (tmp_path / "run" / "best_config.yaml").read_text()


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--k", "1"], 2, "Invalid value for '--k': 1 is not in the range x>=2"),
        (["--k", "40"], 2, "kfold.k: 40 folds need at least 40 samples per class"),
        (
            ["--grid", "train.lrr=0.1,0.2"],
            2,
            "--grid train.lrr=0.1,0.2: unknown key 'train.lrr'; did you mean 'train.lr'",
        ),
        (["--grid", "train.lr"], 2, "expected KEY=V1,V2"),
    ],
)
def test_kfold_usage_errors(tmp_path, args, code, message):
    config = write_config(tmp_path / "c.yaml")
    result = run("kfold", "--config", config, *args)
    assert result.exit_code == code and message in result.stderr, result.stderr


def test_threads_1_gives_the_same_summary_and_weight_bytes_as_threads_2(tmp_path):
    """README's promise: k-fold does not depend on --threads (each unit makes single-threaded BLAS
    calls in fixed blocks). Run in processes, since --threads must be set before NumPy loads.
    Fails if units run their products on the process's BLAS threads (on a kernel that splits
    sums with the thread count, such as OpenBLAS's Haswell kernel)."""
    import subprocess
    import sys

    config = write_config(
        tmp_path / "c.yaml",
        data={"image_size": 20},
        model={"hidden": [64], "batchnorm": True},
        train={"batch_size": 32},
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
                str(config),
                "--k",
                "3",
                "--out",
                str(tmp_path / f"t{threads}"),
                "-q",
            ],
            check=True,
            env=env,
            capture_output=True,
            timeout=300,
        )
    for name in ("kfold_summary.json", *(f"folds/fold_{i}/weights.npz" for i in (1, 2, 3))):
        assert (tmp_path / "t1" / name).read_bytes() == (tmp_path / "t2" / name).read_bytes(), name
    oof = "oof_predictions.npz"
    with np.load(tmp_path / "t1" / oof) as one, np.load(tmp_path / "t2" / oof) as two:
        assert {key: one[key].tobytes() for key in one} == {key: two[key].tobytes() for key in two}


def test_kfold_and_search_check_k_the_same_way(tmp_path):
    """One check for --k (kfold had its own message, search click's range)."""
    config = write_config(tmp_path / "c.yaml")
    errors = [run(command, "--config", config, "--k", "1") for command in ("kfold", "search")]
    assert [result.exit_code for result in errors] == [2, 2]
    assert errors[0].stderr.splitlines()[-1] == errors[1].stderr.splitlines()[-1], [e.stderr for e in errors]
