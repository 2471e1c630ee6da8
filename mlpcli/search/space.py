"""Drawing a search's trials from its ``search:`` section (``config.search.SearchConfig``).

A trial is a ``{"section.key": value}`` mapping, drawn trial by trial from one generator, so the
first N trials of a longer search are the trials of a shorter one with the same seed.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ..config import grid_combinations, with_overrides
from ..config.search import Distribution, SearchConfig
from ..errors import ConfigError


def sample(dist: Distribution, rng: np.random.Generator):
    """One value of ``dist``: a choice (a copy, so trials never share a list), or a draw from its range."""
    if dist.kind == "choice":
        return copy.deepcopy(dist.values[int(rng.integers(len(dist.values)))])
    low, high = dist.values
    if dist.kind == "int":
        return int(rng.integers(low, high + 1))
    if dist.kind == "loguniform":
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    return float(rng.uniform(low, high))


def draw_trials(spec: SearchConfig, rng: np.random.Generator, n_trials: int | None = None) -> list[dict]:
    """The trials' overrides, ``[{"section.key": value}, ...]``.

    ``grid``: every combination of the choices, first key outermost (as ``kfold --grid``), and
    ``rng`` is unused. Otherwise ``n_trials`` (default ``spec.trials``) draws, trial after trial,
    keys in the order written; pass a generator derived from the config's seed.
    """
    if spec.strategy == "grid":
        return grid_combinations([(name, list(dist.values)) for name, dist in spec.space])
    n = spec.trials if n_trials is None else n_trials
    return [{name: sample(dist, rng) for name, dist in spec.space} for _ in range(n)]


def apply_trial(config, trial: dict, index: int):
    """``config`` with trial ``index``'s overrides, validated together (keys can interact)."""
    try:
        return with_overrides(config, trial)
    except ConfigError as exc:
        raise ConfigError(f"search trial {index + 1} {trial}: {exc}") from None
