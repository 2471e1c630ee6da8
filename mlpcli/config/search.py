"""The ``search:`` config section: which keys to vary, how, and how many trials to draw.

```yaml
search:
  strategy: random            # grid | random | halving
  trials: 30
  space:
    train.lr: {loguniform: [1.0e-4, 1.0e-1]}
    model.hidden: {choice: [[256], [512, 256]]}
    model.dropout: {uniform: [0.0, 0.5]}
    train.epochs: {int: [5, 20]}        # inclusive
  halving: {factor: 3, min_epochs: 2}   # strategy: halving only
```

``parse_search`` checks the section's shape; ``check_search`` checks it against a config: every
key must be a real config key and every value a distribution can draw must be valid as if given
with ``--set`` (``config.with_overrides`` decides, so there is one set of rules). A trial is a
``{"section.key": value}`` mapping, drawn trial by trial from one generator, so the first N trials
of a longer search are the trials of a shorter one with the same seed.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from .. import checks as c
from ..errors import ConfigError

STRATEGIES = ("grid", "random", "halving")
DISTRIBUTIONS = ("choice", "uniform", "loguniform", "int")

#: The section's keys for the config reference: (key, type, default, allowed values, meaning).
SEARCH_KEYS = (
    ("strategy", "string", "random", f"one of {', '.join(STRATEGIES)}",
     "grid: every combination of the choices; random: trials drawn from the distributions; halving: "
     "random trials under successive halving, with epochs as the budget"),
    ("trials", "integer", 10, "an integer >= 1",
     "how many trials to draw (random and halving; --trials overrides it)"),
    ("space", "mapping", None, "config keys to {choice: [...]}, {uniform: [lo, hi]}, {loguniform: [lo, hi]} "
                              "or {int: [lo, hi]} (int: both ends included)",
     "what each trial varies; every value a trial can get is checked as if given with --set"),
    ("halving.factor", "integer", 3, "an integer >= 2",
     "each rung keeps the best 1/factor of the trials and trains them factor times longer"),
    ("halving.min_epochs", "integer", 1, "an integer >= 1",
     "epochs of the first rung; the last rung trains train.epochs (strategy halving only)"),
)


@dataclass(frozen=True)
class Distribution:
    """``choice`` over ``values``, or a ``(low, high)`` range for the other kinds."""

    kind: str
    values: tuple

    def sample(self, rng: np.random.Generator):
        if self.kind == "choice":
            return copy.deepcopy(self.values[int(rng.integers(len(self.values)))])
        low, high = self.values
        if self.kind == "int":
            return int(rng.integers(low, high + 1))
        if self.kind == "loguniform":
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        return float(rng.uniform(low, high))

    def extremes(self) -> list:
        """Values whose validity implies every draw's: all choices, or both ends of a range
        (config checks are intervals, so the ends decide; uniform can draw its low end)."""
        return list(self.values)


@dataclass(frozen=True)
class Halving:
    factor: int = 3
    min_epochs: int = 1


@dataclass(frozen=True)
class SearchSpec:
    strategy: str = "random"
    trials: int = 10
    space: tuple = ()  # ((key, Distribution), ...) in the order written
    halving: Halving = field(default_factory=Halving)


def parse_search(raw, key: str = "search") -> SearchSpec:
    """The raw ``search:`` mapping (as YAML gives it) -> ``SearchSpec``; ``ConfigError`` names the key."""
    if not isinstance(raw, dict):
        raise c.fail(key, "a mapping with strategy, trials, space (and halving)", raw)
    _known_keys(raw, key, ("strategy", "trials", "space", "halving"))
    strategy = c.one_of(STRATEGIES)(raw.get("strategy", "random"), f"{key}.strategy")
    if strategy == "grid" and "trials" in raw:
        raise ConfigError(f"{key}.trials: not used with strategy grid (the grid runs every combination "
                          f"of its choices); remove it or use strategy random")
    if strategy != "halving" and "halving" in raw:
        raise ConfigError(f"{key}.halving: only used with strategy halving; set strategy: halving or remove it")
    trials = c.integer(1)(raw.get("trials", SearchSpec.trials), f"{key}.trials")
    space = _space(raw.get("space"), f"{key}.space", strategy)
    halving = _halving(raw.get("halving") or {}, f"{key}.halving")
    return SearchSpec(strategy, trials, space, halving)


def _space(raw, key: str, strategy: str) -> tuple:
    if not isinstance(raw, dict) or not raw:
        raise c.fail(key, "a non-empty mapping of config keys to distributions, "
                          "e.g. {train.lr: {loguniform: [1.0e-4, 1.0e-1]}}", raw)
    space = []
    for name, spec in raw.items():
        if not isinstance(name, str) or not name:
            raise c.fail(key, "keyed by dotted config keys such as train.lr", name)
        if name == "search" or name.startswith("search."):
            raise ConfigError(f"{key}.{name}: the search section itself cannot be searched")
        space.append((name, _distribution(spec, f"{key}.{name}")))
    if strategy == "grid":
        for name, dist in space:
            if dist.kind != "choice":
                raise ConfigError(f"{key}.{name}: strategy grid needs {{choice: [...]}} for every key; "
                                  f"got {dist.kind}; list the values or use strategy random")
    return tuple(space)


def _distribution(raw, key: str) -> Distribution:
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in DISTRIBUTIONS:
        raise c.fail(key, "one distribution: {choice: [...]}, {uniform: [lo, hi]}, "
                          "{loguniform: [lo, hi]} or {int: [lo, hi]}", raw)
    (kind, args), = raw.items()
    key = f"{key}.{kind}"
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise c.fail(key, "a non-empty list of values", args)
        return Distribution(kind, tuple(args))
    if kind == "int":
        if not _pair(args, lambda v: isinstance(v, int) and not isinstance(v, bool)) or args[0] > args[1]:
            raise c.fail(key, "[lo, hi], two integers with lo <= hi (both included)", args)
        return Distribution(kind, (args[0], args[1]))
    if not _pair(args, _is_number) or not args[0] < args[1]:
        raise c.fail(key, "[lo, hi], two finite numbers with lo < hi", args)
    if kind == "loguniform" and args[0] <= 0:
        raise c.fail(key, "[lo, hi] with 0 < lo < hi (it draws log(value) uniformly)", args)
    # As floats: the draws are floats, so an integer-only key must fail here, not mid-search.
    return Distribution(kind, (float(args[0]), float(args[1])))


def _pair(value, ok) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(ok(v) for v in value)


def _is_number(value) -> bool:
    try:
        c.number()(value, "")
    except ConfigError:
        return False
    return True


def _known_keys(raw: dict, key: str, allowed: tuple) -> None:
    for name in raw:
        if name not in allowed:
            raise ConfigError(f"unknown key '{key}.{name}'; allowed: {', '.join(allowed)}")


def _halving(raw, key: str) -> Halving:
    if not isinstance(raw, dict):
        raise c.fail(key, "a mapping {factor: 3, min_epochs: 1}", raw)
    _known_keys(raw, key, ("factor", "min_epochs"))
    factor = c.integer(2)(raw.get("factor", Halving.factor), f"{key}.factor")
    min_epochs = c.integer(1)(raw.get("min_epochs", Halving.min_epochs), f"{key}.min_epochs")
    return Halving(factor, min_epochs)


def check_search(spec: SearchSpec, config, key: str = "search") -> None:
    """Every searched key exists and every value a trial can get is valid for ``config``.

    ``config`` is the validated ``Config`` the trials override; the checks are the ones ``--set``
    runs (``config.with_overrides``). A trial combining several keys is checked again when applied.
    """
    from .load import with_overrides  # load imports schema, which imports this module

    for name, dist in spec.space:
        where = f"{key}.space.{name}"
        for i, value in enumerate(dist.extremes()):
            try:
                with_overrides(config, {name: value})
            except ConfigError as exc:
                raise ConfigError(f"{where}.{dist.kind}[{i}]: {exc}") from None
    if spec.strategy == "halving" and any(name == "train.epochs" for name, _ in spec.space):
        raise ConfigError(f"{key}.space.train.epochs: strategy halving sets the epochs itself (its budget, "
                          f"up to train.epochs); remove it from the space or use strategy random")
    if spec.strategy == "halving" and spec.halving.min_epochs > config.train.epochs:
        raise c.fail(f"{key}.halving.min_epochs", f"<= train.epochs ({config.train.epochs}) so that "
                                                  f"later rungs train longer", spec.halving.min_epochs)


def draw_trials(spec: SearchSpec, rng: np.random.Generator, n_trials: int | None = None) -> list[dict]:
    """The trials' overrides, ``[{"section.key": value}, ...]``.

    ``grid``: every combination of the choices, first key outermost (as ``kfold --grid``), and
    ``rng`` is unused. Otherwise ``n_trials`` (default ``spec.trials``) draws, trial after trial,
    keys in the order written; pass a generator derived from the config's seed.
    """
    if spec.strategy == "grid":
        from .load import grid_combinations

        return grid_combinations([(name, list(dist.values)) for name, dist in spec.space])
    n = spec.trials if n_trials is None else n_trials
    return [{name: dist.sample(rng) for name, dist in spec.space} for _ in range(n)]


def apply_trial(config, trial: dict, index: int):
    """``config`` with trial ``index``'s overrides, validated together (keys can interact)."""
    from .load import with_overrides

    try:
        return with_overrides(config, trial)
    except ConfigError as exc:
        raise ConfigError(f"search trial {index + 1} {trial}: {exc}") from None


def to_dict(spec: SearchSpec) -> dict:
    """Plain data that ``parse_search`` reads back to an equal spec (for the run's config.yaml)."""
    data = {"strategy": spec.strategy}
    if spec.strategy != "grid":
        data["trials"] = spec.trials
    data["space"] = {name: {dist.kind: list(dist.values)} for name, dist in spec.space}
    if spec.strategy == "halving":
        data["halving"] = {"factor": spec.halving.factor, "min_epochs": spec.halving.min_epochs}
    return data
