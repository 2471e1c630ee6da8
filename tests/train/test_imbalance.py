"""train.class_weight and train.sampler: the weights' formula, the weighted network's gradient,
the balanced sampler's class frequencies, config errors, and both in train, kfold and search.

Each was seen to fail with the feature broken on purpose (weights ignored by the objective,
the balanced order replaced by a permutation, the formula's k dropped), then restored.
"""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import StopAfter, write_config, write_image_folder

from mlpcli.cli import cli
from mlpcli.config import from_dict
from mlpcli.errors import ConfigError, Interrupted
from mlpcli.nn import SGD, build_mlp
from mlpcli.nn.gradcheck import check_network
from mlpcli.train.checkpoint import checkpoint_progress
from mlpcli.train.fit import holdout_split, prepare, train_model
from mlpcli.train.imbalance import class_weights, epoch_order
from mlpcli.train.objective import Objective


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_balanced_weights_are_n_over_k_n_c_on_a_hand_example():
    # 8 training rows: 6 cats, 2 dogs, no frog. k = 2 classes present: 8 / (2 * 6), 8 / (2 * 2).
    labels = np.array([0, 0, 0, 1, 0, 0, 1, 0])
    weights = class_weights("balanced", labels, ("cat", "dog", "frog"))
    np.testing.assert_allclose(weights, [8 / 12, 2.0, 0.0], rtol=1e-15)
    # Every present class then carries the same total weight: n / k.
    assert np.bincount(labels, weights[labels]).tolist() == pytest.approx([4.0, 4.0])
    assert class_weights("none", labels, ("cat", "dog", "frog")) is None
    np.testing.assert_array_equal(class_weights({"dog": 2.5}, labels, ("cat", "dog", "frog")), [1.0, 2.5, 1.0])


def test_class_weight_mistakes_are_config_errors_naming_the_key():
    with pytest.raises(ConfigError, match=r"train\.class_weight\.dgo: no class 'dgo'.*classes: cat, dog"):
        class_weights({"dgo": 2}, np.array([0, 1]), ("cat", "dog"))
    with pytest.raises(ConfigError, match=r"train\.class_weight: every class .* weight 0"):
        class_weights({"cat": 0, "dog": 0}, np.array([0, 1]), ("cat", "dog"))
    with pytest.raises(ConfigError, match=r"train\.class_weight\.cat: must be a number >= 0"):
        from_dict({"train": {"class_weight": {"cat": -1}}})
    with pytest.raises(ConfigError, match=r"train\.class_weight: must be none, balanced, or a mapping"):
        from_dict({"train": {"class_weight": "balance"}})
    with pytest.raises(ConfigError, match=r"train\.sampler: must be one of shuffle, balanced"):
        from_dict({"train": {"sampler": "weighted"}})
    with pytest.raises(ConfigError, match=r"train\.rebalance_after: only used with train\.class_weight \(balanced or"):
        from_dict({"train": {"rebalance_after": 3}})
    with pytest.raises(ConfigError, match=r"train\.rebalance_after: 20 is not below train\.epochs \(20\)"):
        from_dict({"train": {"rebalance_after": 20, "sampler": "balanced"}})


def test_an_unknown_class_name_exits_2_before_training(tmp_path):
    config = write_config(tmp_path / "c.yaml")
    result = run("train", "--config", config, "--set", "train.class_weight={circel: 2}", "--out", tmp_path / "r")
    assert result.exit_code == 2
    assert "train.class_weight.circel: no class 'circel'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_gradient_check_of_the_class_weighted_network_in_float64(smoothing):
    rng = np.random.default_rng(0)
    network = build_mlp(6, 3, [5], "relu", rng=rng, dtype="float64")
    x = rng.standard_normal((7, 6))
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    model = from_dict({"model": {"label_smoothing": smoothing}}).model
    objective = Objective(model, class_weights("balanced", labels, ("a", "b", "c")))
    errors = check_network(network, x, labels, objective, SGD(weight_decay=1e-3))
    assert max(errors.values()) < 1e-7, errors
    # The weights reach the gradient: the plain objective's differs.
    _, weighted = objective(network.forward(x), labels)
    _, plain = Objective(model)(network.forward(x), labels)
    assert not np.allclose(weighted, plain)


def test_balanced_sampler_class_frequencies_approach_uniform_on_imbalanced_labels():
    labels = np.repeat([0, 1, 2], [90, 9, 1])
    rows = np.arange(100) + 1000  # the order holds row indices, not positions
    labels = np.concatenate([np.zeros(1000, np.int64), labels])
    rng = np.random.default_rng(1)
    drawn = np.concatenate([epoch_order("balanced", rows, labels, rng) for _ in range(300)])
    assert drawn.min() >= 1000 and len(drawn) == 30_000
    frequencies = np.bincount(labels[drawn], minlength=3) / len(drawn)
    np.testing.assert_allclose(frequencies, 1 / 3, atol=0.01)
    # Within a class every row is about equally likely: class 0's 90 rows share its third.
    per_row = np.bincount(drawn - 1000, minlength=100)[:90] / len(drawn)
    np.testing.assert_allclose(per_row, 1 / 270, rtol=0.5)
    order = epoch_order("shuffle", rows, labels, np.random.default_rng(1))
    assert sorted(order) == sorted(rows)


def test_training_draws_its_epoch_order_from_the_balanced_sampler(tmp_path):
    """The checkpoint's order of a run stopped mid-epoch holds the rare class about as often as
    the others (a permutation would hold it at its 10% share, each row once)."""
    folder = write_image_folder(tmp_path / "img", n_per_class=40, classes=("a", "b"), size=(8, 8))
    for path in sorted((folder / "b").iterdir())[4:]:
        path.unlink()
    cfg = from_dict(
        {
            "seed": 1,
            "data": {
                "format": "folder",
                "path": str(folder),
                "val_fraction": 0.0,
                "cache_dir": str(tmp_path / "cache"),
            },
            "model": {"hidden": [4]},
            "train": {"epochs": 2, "batch_size": 4, "sampler": "balanced"},
        }
    )
    prepared = prepare(cfg)
    checkpoint = tmp_path / "checkpoint.npz"
    with pytest.raises(Interrupted):
        train_model(
            cfg, prepared, *holdout_split(cfg, prepared.dataset.labels), checkpoint=checkpoint, stop=StopAfter(2)
        )
    with np.load(checkpoint) as stored:
        order = stored["order"]
    assert len(order) == 44
    assert 0.25 < np.mean(prepared.dataset.labels[order] == 1) < 0.75


def imbalanced_folder(tmp_path):
    folder = write_image_folder(tmp_path / "img", n_per_class=24, size=(8, 8))
    for path in sorted((folder / "frog").iterdir())[6:]:
        path.unlink()
    return folder


def test_kfold_folds_train_with_their_own_balanced_weights(tmp_path):
    config = write_config(
        tmp_path / "c.yaml",
        data={"format": "folder", "path": str(imbalanced_folder(tmp_path)), "image_size": 8},
        train={"class_weight": "balanced", "sampler": "balanced", "mixup": 0.2, "epochs": 2},
    )
    result = run("kfold", "--config", config, "--k", "3", "--out", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    splits = json.loads((tmp_path / "run" / "kfold_split_indices.json").read_text())
    labels = np.repeat([0, 1, 2], [24, 24, 6])  # folder rows are class by class, files sorted
    for i, val in enumerate(splits["folds"], start=1):
        metrics = json.loads((tmp_path / "run" / "folds" / f"fold_{i}" / "metrics.json").read_text())
        counts = np.bincount(np.delete(labels, val), minlength=3)
        expected = counts.sum() / (3 * counts)
        assert list(metrics["class_weights"].values()) == pytest.approx(expected.tolist(), rel=1e-12)


def test_a_search_can_vary_class_weight_and_sampler(tmp_path):
    search = {
        "strategy": "grid",
        "space": {
            "train.class_weight": {"choice": ["none", "balanced"]},
            "train.sampler": {"choice": ["shuffle", "balanced"]},
        },
    }
    config = write_config(
        tmp_path / "s.yaml",
        data={"format": "folder", "path": str(imbalanced_folder(tmp_path)), "image_size": 8},
        train={"epochs": 2},
        search=search,
    )
    result = run("search", "--config", config, "--k", "2", "--out", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    params = sorted(json.dumps(r["params"], sort_keys=True) for r in json.loads(result.stdout)["trials"])
    assert len(params) == 4 and len(set(params)) == 4


def small_float64_config(tmp_path, seed, **train):
    """A 2-epoch float64 run on the imbalanced folder (made once per tmp_path) with ``train`` keys."""
    folder = tmp_path / "img"
    return from_dict(
        {
            "seed": seed,
            "data": {
                "format": "folder",
                "path": str(folder if folder.exists() else imbalanced_folder(tmp_path)),
                "image_size": 8,
                "cache_dir": str(tmp_path / "cache"),
            },
            "model": {"hidden": [6], "dtype": "float64"},
            "train": {"epochs": 2, "batch_size": 8, "lr": 0.05, **train},
        }
    )


def test_training_follows_the_class_weights(tmp_path):
    """Equal weights train as the plain run does (up to rounding: the soft-target path sums in
    another order); balanced weights on imbalanced data train to other weights."""

    def trained(class_weight):
        cfg = small_float64_config(tmp_path, seed=2, class_weight=class_weight)
        prepared = prepare(cfg)
        return train_model(cfg, prepared, *holdout_split(cfg, prepared.dataset.labels)).predictor.network.state_dict()

    plain, equal = trained("none"), trained({"cat": 3, "dog": 3, "frog": 3})
    balanced = trained("balanced")
    for key, value in plain.items():
        np.testing.assert_allclose(equal[key], value, rtol=1e-9, atol=1e-12)
    assert any(not np.allclose(balanced[key], value) for key, value in plain.items())


def test_rebalance_after_trains_plainly_first_then_rebalances_and_resumes_bit_identically(tmp_path):
    """train.rebalance_after: N epochs exactly as the plain run (the same loss, accuracy and
    validation to the bit: the same objective and shuffle draws), then class weights and the
    balanced sampler; a run stopped in the rebalanced epoch resumes to the same bytes."""
    rebalanced = {"class_weight": "balanced", "sampler": "balanced"}

    def config(**train):
        return small_float64_config(tmp_path, seed=3, **train)

    cfg = config()
    prepared = prepare(cfg)
    rows = holdout_split(cfg, prepared.dataset.labels)

    def trained(cfg, **kwargs):
        return train_model(cfg, prepared, *rows, **kwargs)

    def weights(result):
        return result.predictor.network.state_dict()

    plain = trained(cfg)
    deferred = config(**rebalanced, rebalance_after=1)
    after_one = trained(deferred)
    plain_epochs, deferred_epochs = plain.history.epochs, after_one.history.epochs
    assert deferred_epochs[0] == dict(plain_epochs[0], seconds=deferred_epochs[0]["seconds"])  # same bytes
    assert deferred_epochs[1]["train_loss"] != plain_epochs[1]["train_loss"]
    assert any(not np.allclose(weights(after_one)[key], value) for key, value in weights(plain).items())

    checkpoint = tmp_path / "checkpoint.npz"
    with pytest.raises(Interrupted):
        trained(deferred, checkpoint=checkpoint, stop=StopAfter(len(rows[0]) // 8 + 3))  # inside epoch 2
    assert checkpoint_progress(checkpoint)[0] == 1
    resumed = trained(deferred, checkpoint=checkpoint)
    for key, value in weights(after_one).items():
        assert np.array_equal(weights(resumed)[key], value), key
