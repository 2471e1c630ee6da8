"""The learning-rate range test's picture (``mlpcli lr-find --out``); needs matplotlib."""

from __future__ import annotations

import math
from pathlib import Path

from .plots import _save

LR_FIND_SIZE = (7.0, 4.5)  # inches


def _finite(values) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def lr_find_plot(result: dict, path: str | Path) -> Path:
    """Loss against learning rate (log axis): each step's loss faint, the moving average thin, the
    centred mean solid, the suggested lr and the config's ``train.lr`` as vertical lines.
    ``result`` as ``run_lr_find``."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=LR_FIND_SIZE, layout="constrained")
    axes = figure.subplots()
    axes.plot(result["lrs"], result["losses"], color="C0", alpha=0.3, linewidth=0.8, label="loss per step")
    axes.plot(result["lrs"], result["smoothed"], color="C1", linewidth=0.8, label="moving average (lags)")
    axes.plot(result["lrs"], result["centred"], color="C0", label="centred mean")
    if result["suggested_lr"] is not None:
        axes.axvline(
            result["suggested_lr"],
            color="C2",
            linestyle="--",
            label=f"suggested {result['suggested_lr']:.3g} (1 SE of the minimum)",
        )
    axes.axvline(result["config_lr"], color="C3", linestyle=":", label=f"train.lr {result['config_lr']:.3g}")
    smoothed, losses = _finite(result["centred"]), _finite(result["losses"])
    if smoothed:  # the diverging tail would squash the interesting part of the curve
        axes.set_ylim(min(smoothed + losses) * 0.95, min(max(smoothed), 2 * smoothed[0]) * 1.1)
    axes.set_xscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("training loss")
    axes.set_title("learning-rate range test")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize="small")
    return _save(figure, path)
