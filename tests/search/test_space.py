"""The search: section: parsing, validation against the config (as --set would), drawing trials."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlpcli.config import Config, from_dict, grid_combinations, parse_grid, with_overrides
from mlpcli.config import to_dict as config_dict
from mlpcli.config.search import Distribution, check_search, parse_search, to_dict
from mlpcli.errors import ConfigError
from mlpcli.search.space import apply_trial, draw_trials

SPACE = {
    "train.lr": {"loguniform": [1.0e-4, 1.0e-1]},
    "model.hidden": {"choice": [[256], [512], [512, 256]]},
    "model.weight_decay": {"loguniform": [1.0e-6, 1.0e-2]},
    "train.momentum": {"uniform": [0.0, 0.5]},
    "train.epochs": {"int": [2, 6]},
    "train.batch_size": {"choice": [64, 128, 256]},
}


def spec(**raw):
    return parse_search({"strategy": "random", "trials": 30, "space": SPACE, **raw})


def checked(space, config=None, **raw):
    parsed = parse_search({"space": space, **raw})
    check_search(parsed, config or Config())
    return parsed


def test_parses_every_distribution():
    parsed = spec()
    kinds = {name: dist.kind for name, dist in parsed.space}
    assert kinds == {name: next(iter(d)) for name, d in SPACE.items()}
    assert dict(parsed.space)["train.epochs"] == Distribution("int", (2, 6))
    assert parsed.strategy == "random" and parsed.trials == 30


def test_round_trips_through_plain_data():
    for parsed in (
        spec(),
        parse_search({"strategy": "halving", "space": SPACE, "halving": {"factor": 2}}),
        parse_search({"strategy": "grid", "space": {"train.lr": {"choice": [0.1, 0.01]}}}),
    ):
        assert parse_search(to_dict(parsed)) == parsed


def test_draws_stay_inside_their_distributions():
    trials = draw_trials(spec(), np.random.default_rng(0), 200)
    lrs = np.array([t["train.lr"] for t in trials])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1
    # loguniform: about half the draws below the geometric mean of the bounds, far from uniform's 3%.
    assert 0.35 < np.mean(lrs < math.sqrt(1e-4 * 1e-1)) < 0.65
    momenta = [t["train.momentum"] for t in trials]
    assert min(momenta) >= 0.0 and max(momenta) < 0.5
    epochs = {t["train.epochs"] for t in trials}
    assert epochs == {2, 3, 4, 5, 6}  # both ends included
    assert all(type(t["train.epochs"]) is int and type(t["train.lr"]) is float for t in trials)
    assert {tuple(t["model.hidden"]) for t in trials} == {(256,), (512,), (512, 256)}


def test_every_drawn_trial_is_a_valid_config():
    config = Config()
    for i, trial in enumerate(draw_trials(spec(), np.random.default_rng(1))):
        resolved = apply_trial(config, trial, i)
        assert resolved.train.lr == trial["train.lr"]
        assert resolved.model.hidden == tuple(trial["model.hidden"])


def test_same_seed_same_trials_and_longer_searches_extend_shorter_ones():
    first = draw_trials(spec(), np.random.default_rng(7))
    again = draw_trials(spec(), np.random.default_rng(7))
    other = draw_trials(spec(), np.random.default_rng(8))
    longer = draw_trials(spec(), np.random.default_rng(7), 45)
    assert first == again and len(first) == 30
    assert first != other
    assert longer[:30] == first


def test_drawn_choices_are_copies():
    parsed = spec()
    before = to_dict(parsed)
    for trial in draw_trials(parsed, np.random.default_rng(0), 20):
        trial["model.hidden"].append(1)
    assert to_dict(parsed) == before


def test_grid_is_the_product_of_choices_like_kfold_grid():
    parsed = parse_search(
        {
            "strategy": "grid",
            "space": {"train.lr": {"choice": [0.1, 0.01]}, "model.hidden": {"choice": [[64], [128, 64]]}},
        }
    )
    trials = draw_trials(parsed, np.random.default_rng(0))
    assert len(trials) == 4
    assert trials == grid_combinations(parse_grid(["train.lr=0.1,0.01", "model.hidden=[64],[128, 64]"]))


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            {"space": {"train.lr": {"loguniform": [0.0, 0.1]}}},
            "search.space.train.lr.loguniform: must be [lo, hi] with 0 < lo < hi",
        ),
        ({"space": {"train.lr": {"loguniform": [-1.0, 0.1]}}}, "search.space.train.lr.loguniform: must be"),
        (
            {"space": {"train.lr": {"uniform": [0.5, 0.1]}}},
            "search.space.train.lr.uniform: must be [lo, hi], two finite numbers with lo < hi; got [0.5, 0.1]",
        ),
        ({"space": {"train.lr": {"uniform": [0.1, 0.1]}}}, "lo < hi"),
        ({"space": {"train.lr": {"uniform": [0.1, float("nan")]}}}, "search.space.train.lr.uniform: must be"),
        ({"space": {"train.lr": {"uniform": [0.1]}}}, "search.space.train.lr.uniform: must be"),
        ({"space": {"train.epochs": {"int": [5, 2]}}}, "search.space.train.epochs.int: must be [lo, hi], two integers"),
        ({"space": {"train.epochs": {"int": [2, 5.5]}}}, "search.space.train.epochs.int: must be"),
        ({"space": {"train.lr": {"choice": []}}}, "search.space.train.lr.choice: must be a non-empty list"),
        ({"space": {"train.lr": {"normal": [0, 1]}}}, "search.space.train.lr: must be one distribution"),
        ({"space": {"train.lr": {"choice": [1], "uniform": [0, 1]}}}, "search.space.train.lr: must be one"),
        ({"space": {"train.lr": 0.1}}, "search.space.train.lr: must be one distribution"),
        ({"space": {}}, "search.space: must be a non-empty mapping"),
        ({}, "search.space: must be a non-empty mapping"),
        ({"strategy": "bayes", "space": SPACE}, "search.strategy: must be one of grid, random, halving; got 'bayes'"),
        ({"trials": 0, "space": SPACE}, "search.trials: must be an integer >= 1; got 0"),
        ({"strategy": "grid", "trials": 3, "space": {"train.lr": {"choice": [0.1]}}}, "search.trials: not used"),
        ({"strategy": "grid", "space": SPACE}, "search.space.train.lr: strategy grid needs {choice: [...]}"),
        ({"space": SPACE, "halving": {"factor": 2}}, "search.halving: only used with strategy halving"),
        (
            {"strategy": "halving", "space": SPACE, "halving": {"factor": 1}},
            "search.halving.factor: must be an integer >= 2; got 1",
        ),
        ({"strategy": "halving", "space": SPACE, "halving": {"min_epochs": 0}}, "search.halving.min_epochs: must be"),
        ({"strategy": "halving", "space": SPACE, "halving": {"eta": 3}}, "unknown key 'search.halving.eta'"),
        ({"space": SPACE, "trails": 3}, "unknown key 'search.trails'; did you mean 'search.trials'?"),
        (
            {"strategy": "halving", "space": SPACE, "halving": {"min_epoch": 2}},
            "unknown key 'search.halving.min_epoch'; did you mean 'search.halving.min_epochs'?",
        ),
        ({"space": {"search.trials": {"int": [1, 2]}}}, "search.space.search.trials: the search section itself"),
    ],
)
def test_shape_errors_name_the_key(raw, message):
    with pytest.raises(ConfigError) as caught:
        parse_search(raw)
    assert message in str(caught.value)


def test_section_must_be_a_mapping():
    with pytest.raises(ConfigError, match=r"^search: must be a mapping"):
        parse_search([1, 2])


def test_unknown_config_key_is_an_error_with_a_suggestion():
    with pytest.raises(ConfigError) as caught:
        checked({"train.lrr": {"loguniform": [1e-4, 1e-1]}})
    assert "search.space.train.lrr.loguniform[0]" in str(caught.value)
    assert "did you mean 'train.lr'" in str(caught.value)
    with pytest.raises(ConfigError, match="unknown key 'modle'"):
        checked({"modle.hidden": {"choice": [[64]]}})


@pytest.mark.parametrize(
    "space, message",
    [
        # uniform can draw its low end, which train.lr (> 0) refuses, as --set train.lr=0.0 would.
        ({"train.lr": {"uniform": [0.0, 0.1]}}, "search.space.train.lr.uniform[0]: train.lr: must be a number > 0.0"),
        (
            {"train.momentum": {"uniform": [0.5, 1.5]}},
            "search.space.train.momentum.uniform[1]: train.momentum: must be",
        ),
        # Draws are floats, so a float distribution over an integer key fails even with integer bounds.
        (
            {"train.epochs": {"uniform": [1, 5]}},
            "search.space.train.epochs.uniform[0]: train.epochs: must be an integer",
        ),
        ({"train.epochs": {"int": [0, 5]}}, "search.space.train.epochs.int[0]: train.epochs: must be an integer >= 1"),
        (
            {"model.activation": {"choice": ["relu", "rleu"]}},
            "search.space.model.activation.choice[1]: model.activation",
        ),
        ({"model.hidden": {"choice": [[64], [0]]}}, "search.space.model.hidden.choice[1]: model.hidden[0]: must be"),
        ({"train": {"choice": [1]}}, "search.space.train.choice[0]: train: must be a mapping"),
    ],
)
def test_values_are_checked_as_with_set(space, message):
    with pytest.raises(ConfigError) as caught:
        checked(space)
    assert message in str(caught.value)


def test_the_same_values_pass_as_with_set():
    for name, dist in spec().space:
        for value in dist.extremes():
            with_overrides(Config(), {name: value})  # the reference: this is what --set accepts
    checked(SPACE)
    checked({"train.epochs": {"int": [1, 3]}, "model.activation": {"choice": ["relu", "tanh"]}})


def test_halving_min_epochs_must_fit_train_epochs():
    config = with_overrides(Config(), {"train.epochs": 4})
    space = {key: value for key, value in SPACE.items() if key != "train.epochs"}
    checked(space, config, strategy="halving", halving={"factor": 2, "min_epochs": 4})
    with pytest.raises(ConfigError, match=r"search.halving.min_epochs: must be <= train.epochs \(4\).*; got 5"):
        checked(space, config, strategy="halving", halving={"factor": 2, "min_epochs": 5})


def test_halving_owns_the_epochs_so_they_cannot_be_searched():
    with pytest.raises(ConfigError, match=r"search.space.train.epochs: strategy halving sets the epochs"):
        checked(SPACE, Config(), strategy="halving")
    checked(SPACE, Config(), strategy="random")


def test_the_search_section_is_part_of_the_config_and_round_trips():
    raw = {
        "train": {"epochs": 6},
        "search": {
            "strategy": "halving",
            "trials": 4,
            "space": {"train.lr": {"loguniform": [1.0e-3, 1.0e-1]}},
            "halving": {"factor": 2, "min_epochs": 2},
        },
    }
    config = from_dict(raw)
    assert config.search.strategy == "halving" and config.search.halving.min_epochs == 2
    assert from_dict(config_dict(config)) == config
    assert "search" not in config_dict(Config())  # no section, no key: plain runs' config.yaml is unchanged
    with pytest.raises(ConfigError, match=r"search.halving.min_epochs: must be <= train.epochs \(6\)"):
        from_dict({**raw, "search": {**raw["search"], "halving": {"min_epochs": 7}}})
    with pytest.raises(
        ConfigError,
        match=r"search.space.model.hiden.choice\[0\]: unknown key 'model.hiden'; "
        r"did you mean 'model.hidden'",
    ):
        from_dict({"search": {"space": {"model.hiden": {"choice": [[8]]}}}})


def test_a_trial_whose_keys_conflict_names_the_trial():
    with pytest.raises(ConfigError, match=r"search trial 3 .*train.patience: early stopping needs"):
        apply_trial(Config(), {"train.patience": 2, "data.val_fraction": 0.0}, 2)
