"""Successive halving with epochs as the budget (as scikit-learn's ``HalvingRandomSearchCV``).

Rung ``r`` trains ``ceil(n_trials / factor**r)`` trials, the best of rung ``r - 1``, for
``min_epochs * factor**r`` epochs; the rungs stop at the first budget that reaches ``train.epochs``,
and that last budget is ``train.epochs`` itself, so the winner is trained as the config asks.
Most trials get a few cheap epochs; only promising ones get the full budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rung:
    index: int
    n_trials: int
    epochs: int


def plan_rungs(n_trials: int, factor: int, min_epochs: int, max_epochs: int) -> list[Rung]:
    """The rungs for ``n_trials`` candidates: sizes shrink and budgets grow by ``factor``.

    ``min_epochs >= max_epochs`` gives one rung: every trial trains ``max_epochs``.
    """
    if n_trials < 1 or factor < 2 or min_epochs < 1 or max_epochs < 1:
        raise ValueError(
            f"plan_rungs needs n_trials >= 1, factor >= 2, min_epochs >= 1, max_epochs >= 1; "
            f"got {n_trials}, {factor}, {min_epochs}, {max_epochs}"
        )
    rungs: list[Rung] = []
    while True:
        r = len(rungs)
        budget = min(min_epochs * factor**r, max_epochs)
        # Integer ceiling: math.ceil(n / factor**r) goes through a float and can round wrong.
        rungs.append(Rung(r, -(-n_trials // factor**r), budget))
        if budget == max_epochs:
            return rungs


def survivors(trials, scores, n_keep: int) -> list[int]:
    """The ``n_keep`` best of ``trials`` (trial indices) by ``scores`` (higher is better), best first.

    Ties go to the lower trial index, so the choice never depends on the order results arrived
    in; a NaN score (a diverged trial) ranks below every number.
    """
    trials = np.asarray(trials, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if trials.shape != scores.shape or trials.ndim != 1:
        raise ValueError(f"survivors needs one score per trial; got {trials.shape} trials, {scores.shape} scores")
    # lexsort sorts by its last key first: score descending, then trial index ascending; NumPy
    # sorts NaN after every number, so a diverged trial comes last.
    order = np.lexsort((trials, -scores))
    return trials[order[:n_keep]].tolist()
