"""The tools: ``gradcheck``, ``lr-find`` and ``data synth``."""

from __future__ import annotations

GRADCHECK_TOLERANCE = 1e-6


def run_gradcheck(config, *, batch: int = 4, max_entries: int = 40) -> dict:
    """The verdict on the configured network's gradients: ``relative_errors`` (per parameter, in
    float64, on a random batch of the configured data's shape; large arrays on ``max_entries``
    random entries each), ``max_relative_error``, ``tolerance`` and ``passed``."""
    errors = _relative_errors(config, batch, max_entries)
    worst = max(errors.values())
    return {
        "passed": worst <= GRADCHECK_TOLERANCE,
        "tolerance": GRADCHECK_TOLERANCE,
        "max_relative_error": worst,
        "relative_errors": errors,
    }


def _relative_errors(config, batch: int, max_entries: int) -> dict[str, float]:
    import dataclasses

    import numpy as np

    from ..data import class_names
    from ..features.pipeline import feature_widths
    from ..nn.gradcheck import check_network
    from ..train.fit import build_network, network_features
    from ..train.imbalance import class_weights
    from ..train.objective import Objective
    from ..train.recipe import build_optimizer, seed_dropout

    config = dataclasses.replace(config, model=dataclasses.replace(config.model, dtype="float64"))
    height, width = config.data.image_size
    n_features = sum(feature_widths(network_features(config), height, width))
    names = class_names(config.data)
    n_classes = len(names)
    rng = np.random.default_rng(config.seed or 0)
    network = build_network(config, n_features, n_classes, (height, width, 3), rng)
    seed_dropout(network, np.random.default_rng(rng.integers(2**31)))  # check_network fixes its masks
    x = rng.standard_normal((batch, n_features))
    labels = rng.integers(0, n_classes, size=batch)
    weight_decay = config.model.weight_decay or 1e-3  # exercise the decay's gradient too
    # What training runs is what gets checked: its loss (label smoothing and class weights
    # included; balanced weights from the batch's labels) and its optimizer's gradient (decay too).
    optimizer = build_optimizer(config.train, weight_decay)
    loss = Objective(config.model, class_weights(config.train.class_weight, labels, names))
    return check_network(network, x, labels, loss, optimizer, max_entries=max_entries, rng=rng)


def run_lr_find(
    config, *, start: float = 1e-6, stop: float = 1.0, steps: int = 200, out=None, use_cache: bool = True
) -> dict:
    """The learning-rate range test (``train.lr_find``) on the config's training rows (its
    validation rows stay out): ``lrs``, ``losses``, ``smoothed`` (the moving average that stops
    the test), ``centred`` (the lag-free mean the suggestion reads), ``diverged``,
    ``suggested_lr`` (the smallest lr within one standard error of the centred curve's minimum;
    None if no loss was finite), ``min_lr`` (that minimum's), ``steepest_lr``, ``rule``,
    ``config_lr``, ``steps`` and ``plot`` (the PNG written to ``out``, or None; ``hint`` says why
    when matplotlib is missing)."""
    from ..errors import ConfigError
    from ..fileio import finite_or_none
    from ..train.fit import holdout_split, prepare, resolve
    from ..train.lr_find import range_test

    if not 0 < start < stop:
        raise ConfigError(f"lr-find: --start must be > 0 and below --stop; got {start:g} and {stop:g}")
    config = resolve(config)
    prepared = prepare(config, use_cache)
    train_rows = holdout_split(config, prepared.dataset.labels, prepared.dataset.fixed_val)[0]
    curve = range_test(config, prepared, train_rows, start, stop, steps)
    result = {
        "lrs": curve.lrs,
        "losses": curve.losses,
        "smoothed": curve.smoothed,
        "centred": curve.centred().tolist(),
        "diverged": curve.diverged,
        **curve.suggestion(),
        "rule": "smallest lr within one standard error of the centred minimum",
        "config_lr": config.train.lr,
        "steps": len(curve.lrs),
        "plot": None,
        "hint": None,
    }
    if out is not None:
        result.update(_lr_find_plot(result, out))
    # JSON has no NaN or infinity: the step that diverged reads null.
    for key in ("losses", "smoothed", "centred"):
        result[key] = [finite_or_none(value) for value in result[key]]
    return result


def _lr_find_plot(result: dict, out) -> dict:
    from ..visualize import plots

    if not plots.available():
        return {"hint": f"matplotlib is not installed, so {out} was not drawn; {plots.INSTALL_HINT} to get it"}
    from ..visualize.lr_plot import lr_find_plot

    return {"plot": str(lr_find_plot(result, out))}


def run_synth(out, n_per_class: int, size: int, seed: int) -> int:
    """Write the synthetic shapes to ``out/<class>/<index>.png``; returns the number of images."""
    from ..data.synthetic import write_synthetic

    return write_synthetic(out, n_per_class, size, seed)
