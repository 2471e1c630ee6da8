"""What a search trains: its trials (drawn from the config's seed), their configs, the k-fold plan
they share, and the units of work of each rung.

A unit is one (trial, fold, epochs) training. ``random`` and ``grid`` have one rung: every trial's
folds at the trial's ``train.epochs``. ``halving`` has the rungs of ``halving.plan_rungs``: rung 0
trains every trial for ``min_epochs``, and each later rung retrains (from scratch, with the same
seeds, so a unit is a pure function of its inputs) the best ``1/factor`` for ``factor`` times longer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .. import seeding
from ..config import Config
from ..config.search import SearchConfig
from ..errors import ConfigError
from ..kfold.run import Plan, kfold_config, plan_configs
from .halving import Rung, plan_rungs
from .space import apply_trial, draw_trials


@dataclass(frozen=True)
class Unit:
    """One training: 0-based ``trial`` and ``fold``, for ``epochs`` epochs."""

    trial: int
    fold: int
    epochs: int


@dataclass
class SearchPlan:
    spec: SearchConfig
    config: Config  # the resolved config with its search section, as config.yaml records it
    kfold: Plan  # combos: each trial's overrides; configs: each trial's config (no search section)
    rungs: list[Rung]

    @property
    def params(self) -> list[dict]:
        return self.kfold.combos

    @property
    def k(self) -> int:
        return len(self.kfold.folds)

    def budget(self, trial: int, rung: Rung) -> int:
        """The epochs ``trial`` trains in ``rung``: the rung's budget under halving, else its own."""
        return rung.epochs if self.spec.strategy == "halving" else self.kfold.configs[trial].train.epochs

    def unit_config(self, unit: Unit):
        config = self.kfold.configs[unit.trial]
        return dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=unit.epochs))

    def units(self, trials: list[int], rung: Rung) -> list[Unit]:
        return [Unit(trial, fold, self.budget(trial, rung)) for trial in trials for fold in range(self.k)]


def plan_search(
    config,
    trials: int | None = None,
    k: int | None = None,
    select: str | None = None,
    use_cache: bool = True,
    mapper=None,
) -> SearchPlan:
    """Draw the trials, check each one's config, extract features once (on a cluster's workers
    with ``mapper``, see ``train.fit.prepare``) and split the folds."""
    if config.search is None:
        raise ConfigError(
            "search: the config has no search section; add one (strategy, trials, space; "
            "see docs/config.md) to run mlpcli search"
        )
    spec = config.search
    if trials is not None:
        if spec.strategy == "grid":
            raise ConfigError("--trials: not used with strategy grid (the grid runs every combination)")
        spec = dataclasses.replace(spec, trials=trials)
    resolved = kfold_config(dataclasses.replace(config, search=spec), k, select)
    base = dataclasses.replace(resolved, search=None)
    params = draw_trials(spec, seeding.rng(resolved.seed, "search"))
    configs = [apply_trial(base, trial, index) for index, trial in enumerate(params)]
    rungs = (
        plan_rungs(len(params), spec.halving.factor, spec.halving.min_epochs, base.train.epochs)
        if spec.strategy == "halving"
        else [Rung(0, len(params), base.train.epochs)]
    )
    return SearchPlan(spec, resolved, plan_configs(base, params, configs, use_cache, mapper), rungs)
