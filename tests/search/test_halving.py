"""Successive halving: rung sizes and epoch budgets for several factors, and who survives a rung."""

from __future__ import annotations

import math

import pytest

from mlpcli.search.halving import Rung, plan_rungs, survivors


def table(rungs):
    return [(r.n_trials, r.epochs) for r in rungs]


@pytest.mark.parametrize(
    "n_trials, factor, min_epochs, max_epochs, expected",
    [
        # factor 3 (scikit-learn's default): 27 -> 9 -> 3 -> 1 trials, 1 -> 3 -> 9 -> 27 epochs
        (27, 3, 1, 27, [(27, 1), (9, 3), (3, 9), (1, 27)]),
        # the last budget is capped at train.epochs
        (30, 3, 2, 20, [(30, 2), (10, 6), (4, 18), (2, 20)]),
        # factor 2, sizes rounded up
        (10, 2, 1, 8, [(10, 1), (5, 2), (3, 4), (2, 8)]),
        # factor 4 reaches the budget in one step
        (20, 4, 3, 12, [(20, 3), (5, 12)]),
        # a budget that lands exactly on train.epochs ends the rungs
        (9, 3, 2, 6, [(9, 2), (3, 6)]),
        # min_epochs already at (or above) train.epochs: one rung, everyone trains fully
        (7, 3, 5, 5, [(7, 5)]),
        (7, 3, 9, 5, [(7, 5)]),
        # more rungs than halvings: a single trial keeps going until the full budget
        (2, 2, 1, 16, [(2, 1), (1, 2), (1, 4), (1, 8), (1, 16)]),
    ],
)
def test_rung_sizes_and_budgets(n_trials, factor, min_epochs, max_epochs, expected):
    assert table(plan_rungs(n_trials, factor, min_epochs, max_epochs)) == expected


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
@pytest.mark.parametrize("n_trials", [1, 7, 30, 100])
def test_rungs_follow_the_formula(factor, n_trials):
    min_epochs, max_epochs = 2, 50
    rungs = plan_rungs(n_trials, factor, min_epochs, max_epochs)
    assert [r.index for r in rungs] == list(range(len(rungs)))
    for r in rungs:
        assert r.n_trials == math.ceil(n_trials / factor**r.index)
        assert r.epochs == min(min_epochs * factor**r.index, max_epochs)
    assert rungs[-1].epochs == max_epochs
    assert all(r.epochs < max_epochs for r in rungs[:-1])  # stops at the first budget that reaches it


def test_integer_ceiling_is_exact_for_large_counts():
    n = 3**40 + 1  # n / 3**r as a float rounds down to an integer here; the ceiling must not
    assert plan_rungs(n, 3, 1, 3)[1] == Rung(1, 3**39 + 1, 3)


@pytest.mark.parametrize("args", [(0, 3, 1, 10), (5, 1, 1, 10), (5, 3, 0, 10), (5, 3, 1, 0)])
def test_plan_rejects_impossible_arguments(args):
    with pytest.raises(ValueError):
        plan_rungs(*args)


def test_survivors_are_the_best_scores_best_first():
    assert survivors([0, 1, 2, 3, 4], [0.5, 0.9, 0.1, 0.7, 0.3], 2) == [1, 3]
    assert survivors([4, 8, 9], [0.2, 0.6, 0.4], 5) == [8, 9, 4]  # asking for more keeps all


def test_ties_go_to_the_lower_trial_index_whatever_the_order():
    trials, scores = [7, 2, 5, 3], [0.8, 0.8, 0.9, 0.8]
    assert survivors(trials, scores, 3) == [5, 2, 3]
    assert survivors(trials[::-1], scores[::-1], 3) == [5, 2, 3]


def test_nan_scores_rank_last():
    assert survivors([0, 1, 2], [float("nan"), 0.1, 0.05], 2) == [1, 2]
    assert survivors([0, 1], [float("nan"), float("nan")], 1) == [0]


def test_survivors_need_one_score_per_trial():
    with pytest.raises(ValueError):
        survivors([0, 1], [0.5], 1)
