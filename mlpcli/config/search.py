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

The section is declared like every other (``fields.leaf``/``node``: one default, check and doc
line per key, unknown keys answered with "did you mean", the reference generated from it).
``parse_search`` builds it and checks how its keys combine; ``check_search`` checks it against a
config: every key must be a real config key and every value a distribution can draw must be
valid as if given with ``--set`` (``with_overrides`` decides, so there is one set of rules).
Drawing the trials is the search's business (``search.space``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import checks
from ..errors import ConfigError
from .fields import build, leaf, node

STRATEGIES = ("grid", "random", "halving")
DISTRIBUTIONS = ("choice", "uniform", "loguniform", "int")


@dataclass(frozen=True)
class Distribution:
    """``choice`` over ``values``, or a ``(low, high)`` range for the other kinds."""

    kind: str
    values: tuple

    def extremes(self) -> list:
        """Values whose validity implies every draw's: all choices, or both ends of a range
        (config checks are intervals, so the ends decide; uniform can draw its low end)."""
        return list(self.values)


_SPACE_EXPECTED = (
    "config keys to {choice: [...]}, {uniform: [lo, hi]}, {loguniform: [lo, hi]} or "
    "{int: [lo, hi]} (int: both ends included)"
)


def _space(raw, key: str) -> tuple:
    """``{"train.lr": {"loguniform": [lo, hi]}, ...}`` -> ``(("train.lr", Distribution), ...)``."""
    if not isinstance(raw, dict) or not raw:
        raise checks.fail(
            key,
            "a non-empty mapping of config keys to distributions, e.g. {train.lr: {loguniform: [1.0e-4, 1.0e-1]}}",
            raw,
        )
    space = []
    for name, spec in raw.items():
        if not isinstance(name, str) or not name:
            raise checks.fail(key, "keyed by dotted config keys such as train.lr", name)
        if name == "search" or name.startswith("search."):
            raise ConfigError(f"{key}.{name}: the search section itself cannot be searched")
        space.append((name, _distribution(spec, f"{key}.{name}")))
    return tuple(space)


@dataclass(frozen=True)
class HalvingConfig:
    """Successive halving's rungs (strategy halving only)."""

    factor: int = leaf(
        3, checks.integer(2), "each rung keeps the best 1/factor of the trials and trains them factor times longer"
    )
    min_epochs: int = leaf(
        1, checks.integer(1), "epochs of the first rung; the last rung trains train.epochs (strategy halving only)"
    )


@dataclass(frozen=True)
class SearchConfig:
    """`mlpcli search`: which keys each trial varies and how they are drawn; null: no search."""

    strategy: str = leaf(
        "random",
        checks.one_of(STRATEGIES),
        "grid: every combination of the choices; random: trials drawn from the distributions; "
        "halving: random trials under successive halving, with epochs as the budget",
    )
    trials: int = leaf(10, checks.integer(1), "how many trials to draw (random and halving; --trials overrides it)")
    space: tuple = leaf(
        (),
        checks.described(_space, "mapping", _SPACE_EXPECTED),
        "what each trial varies; every value a trial can get is checked as if given with --set",
        required=True,
    )
    halving: HalvingConfig = node(HalvingConfig)


def parse_search(raw, key: str = "search") -> SearchConfig:
    """The raw ``search:`` mapping (as YAML gives it) -> ``SearchConfig``; ``ConfigError`` names the key."""
    if not isinstance(raw, dict):
        raise checks.fail(key, "a mapping with strategy, trials, space (and halving)", raw)
    spec = build(SearchConfig, raw, f"{key}.")
    if spec.strategy == "grid" and "trials" in raw:
        raise ConfigError(
            f"{key}.trials: not used with strategy grid (the grid runs every combination "
            f"of its choices); remove it or use strategy random"
        )
    if spec.strategy != "halving" and "halving" in raw:
        raise ConfigError(f"{key}.halving: only used with strategy halving; set strategy: halving or remove it")
    if spec.strategy == "grid":
        for name, dist in spec.space:
            if dist.kind != "choice":
                raise ConfigError(
                    f"{key}.space.{name}: strategy grid needs {{choice: [...]}} for every key; "
                    f"got {dist.kind}; list the values or use strategy random"
                )
    return spec


def _distribution(raw, key: str) -> Distribution:
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in DISTRIBUTIONS:
        raise checks.fail(
            key,
            "one distribution: {choice: [...]}, {uniform: [lo, hi]}, {loguniform: [lo, hi]} or {int: [lo, hi]}",
            raw,
        )
    ((kind, args),) = raw.items()
    key = f"{key}.{kind}"
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise checks.fail(key, "a non-empty list of values", args)
        return Distribution(kind, tuple(args))
    if kind == "int":
        if not _pair(args, lambda v: isinstance(v, int) and not isinstance(v, bool)) or args[0] > args[1]:
            raise checks.fail(key, "[lo, hi], two integers with lo <= hi (both included)", args)
        return Distribution(kind, (args[0], args[1]))
    if not _pair(args, _is_number) or not args[0] < args[1]:
        raise checks.fail(key, "[lo, hi], two finite numbers with lo < hi", args)
    if kind == "loguniform" and args[0] <= 0:
        raise checks.fail(key, "[lo, hi] with 0 < lo < hi (it draws log(value) uniformly)", args)
    # As floats: the draws are floats, so an integer-only key must fail here, not mid-search.
    return Distribution(kind, (float(args[0]), float(args[1])))


def _pair(value, ok) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(ok(v) for v in value)


def _is_number(value) -> bool:
    try:
        checks.number()(value, "")
    except ConfigError:
        return False
    return True


def check_search(spec: SearchConfig, config, key: str = "search") -> None:
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
        raise ConfigError(
            f"{key}.space.train.epochs: strategy halving sets the epochs itself (its budget, "
            f"up to train.epochs); remove it from the space or use strategy random"
        )
    if spec.strategy == "halving" and spec.halving.min_epochs > config.train.epochs:
        raise checks.fail(
            f"{key}.halving.min_epochs",
            f"<= train.epochs ({config.train.epochs}) so that later rungs train longer",
            spec.halving.min_epochs,
        )


def to_dict(spec: SearchConfig) -> dict:
    """Plain data that ``parse_search`` reads back to an equal spec (for the run's config.yaml)."""
    data: dict[str, object] = {"strategy": spec.strategy}
    if spec.strategy != "grid":
        data["trials"] = spec.trials
    data["space"] = {name: {dist.kind: list(dist.values)} for name, dist in spec.space}
    if spec.strategy == "halving":
        data["halving"] = {"factor": spec.halving.factor, "min_epochs": spec.halving.min_epochs}
    return data
