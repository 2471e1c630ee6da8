"""matplotlib plots (the optional ``plot`` extra): learning curves, confusion heatmap, k-fold bars.

Figures are built with ``matplotlib.figure.Figure`` directly, never ``pyplot``: no global state,
no GUI backend, safe in scripts and threads. Call ``available()`` first; importing the rest of
matplotlib happens inside the functions.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..fileio import atomic_path

DPI = 100
CURVES_SIZE = (12.0, 3.6)  # inches; pictures are size * DPI pixels
KFOLD_SIZE = (6.0, 4.0)
INSTALL_HINT = 'pip install "mlpcli[plot]"'


def available() -> bool:
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401  (only whether it imports)
    except ImportError:
        return False
    return True


def confusion_size(n_classes: int) -> tuple[float, float]:
    """Figure size in inches for an ``n_classes`` heatmap: room for one labelled cell per pair."""
    side = 0.6 * n_classes
    return (max(5.0, side + 3.0), max(4.0, side + 2.0))


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)
    return path


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def learning_curves(histories: list[tuple[str, list[dict]]], path: str | Path) -> Path:
    """Loss, accuracy and learning rate per epoch: train solid, validation dashed.

    ``histories`` is ``[(label, rows)]``, rows being ``history.csv`` dicts (epoch, lr, train_loss,
    train_accuracy, val_loss, val_accuracy, ...); one entry, in its own colour, per fold of a
    k-fold run.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    figure = Figure(figsize=CURVES_SIZE, layout="constrained")
    loss_axes, accuracy_axes, lr_axes = figure.subplots(1, 3)
    colors = [f"C{i % 10}" for i in range(len(histories))]
    for (label, rows), color in zip(histories, colors):
        _plot_history((loss_axes, accuracy_axes, lr_axes), label, rows, color)
    for axes, title in ((loss_axes, "loss"), (accuracy_axes, "accuracy"), (lr_axes, "learning rate")):
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.grid(alpha=0.3)
    # One legend for the line styles; with several folds the colours are named on the lr panel.
    style_color = colors[0] if len(histories) == 1 else "0.3"
    styles = [
        Line2D([], [], color=style_color, label="train"),
        Line2D([], [], color=style_color, linestyle="--", label="validation"),
    ]
    loss_axes.legend(handles=styles, fontsize="small")
    accuracy_axes.legend(handles=styles, fontsize="small")
    if len(histories) > 1:
        lr_axes.legend(fontsize="small")
    return _save(figure, path)


def _plot_history(panels, label: str, rows: list[dict], color: str) -> None:
    """One run's (or fold's) lines on the (loss, accuracy, lr) panels; validation only if it
    exists, through the validated epochs alone (``train.val_every`` leaves nan between them),
    marked when some epochs were not validated."""
    loss_axes, accuracy_axes, lr_axes = panels
    epochs = [row["epoch"] for row in rows]
    for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
        axes.plot(epochs, [row[f"train_{metric}"] for row in rows], color=color)
        validated = [(row["epoch"], row[f"val_{metric}"]) for row in rows if _finite(row[f"val_{metric}"])]
        if validated:
            marker = "o" if len(validated) < len(rows) else None
            axes.plot(*zip(*validated), color=color, linestyle="--", marker=marker, markersize=3)
    lr_axes.plot(epochs, [row["lr"] for row in rows], color=color, label=label)


def confusion_heatmap(
    confusion: list[list[int]], class_names: list[str], path: str | Path, title: str = "confusion matrix"
) -> Path:
    """confusion (n_classes, n_classes) counts, rows true classes, columns predicted -> heatmap
    with each count written in its cell."""
    import numpy as np
    from matplotlib.figure import Figure

    counts = np.asarray(confusion)
    n_classes = len(class_names)
    figure = Figure(figsize=confusion_size(n_classes), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8)
    ticks = list(range(n_classes))
    names = _names_font(class_names)
    axes.set_xticks(ticks, class_names, rotation=45, ha="right", **names)
    axes.set_yticks(ticks, class_names, **names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    threshold = counts.max() / 2 if counts.size else 0
    for row in range(n_classes):
        for col in range(n_classes):
            axes.text(
                col,
                row,
                str(int(counts[row, col])),
                ha="center",
                va="center",
                color="white" if counts[row, col] > threshold else "black",
                fontsize="small",
            )
    return _save(figure, path)


def _names_font(class_names) -> dict:
    """``fontproperties`` for tick labels of ``class_names`` when they need a CJK font
    (``fonts.font_for``), else {} (matplotlib's own font)."""
    from matplotlib.font_manager import FontProperties

    from .fonts import font_for

    path = font_for(class_names)
    return {} if path is None else {"fontproperties": FontProperties(fname=path)}


def kfold_bars(fold_accuracies: list[float], mean: float, std: float, path: str | Path) -> Path:
    """Validation accuracy per fold as bars, with the mean as a line and mean +/- std as a band."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=KFOLD_SIZE, layout="constrained")
    axes = figure.subplots()
    folds = list(range(1, len(fold_accuracies) + 1))
    axes.bar(folds, fold_accuracies, color="C0", alpha=0.8)
    axes.axhspan(mean - std, mean + std, color="C1", alpha=0.2, label=f"std {std:.4f}")
    axes.axhline(mean, color="C1", label=f"mean {mean:.4f}")
    for fold, value in zip(folds, fold_accuracies):
        axes.text(fold, value, f"{value:.3f}", ha="center", va="bottom", fontsize="small")
    axes.set_xticks(folds)
    axes.set_xlabel("fold")
    axes.set_ylabel("validation accuracy")
    axes.set_ylim(0, 1.2)  # headroom above accuracy 1 for the legend
    axes.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes.set_title(f"{len(folds)}-fold validation accuracy: {mean:.4f} \u00b1 {std:.4f}")
    axes.legend(loc="upper left", ncols=2, fontsize="small")
    return _save(figure, path)


def search_accuracy(search: dict, path: str | Path) -> Path:
    """A search at a glance: mean fold accuracy (+/- std) per trial, coloured by the epochs it
    reached, then one panel per searched key with each trial's value against its accuracy
    (a log axis for ``loguniform`` keys, one column per value for ``choice``)."""
    from matplotlib.figure import Figure

    rows = sorted((r for r in search["trials"] if r.get("mean_accuracy") is not None), key=lambda r: r["trial"])
    keys = list(search.get("space") or {})
    figure = Figure(figsize=(4.0 * (1 + len(keys)), 3.6), layout="constrained")
    panels = figure.subplots(1, 1 + len(keys), squeeze=False)[0]
    budgets = sorted({r["epochs"] for r in rows})
    colors = {epochs: f"C{i % 10}" for i, epochs in enumerate(budgets)}
    axes = panels[0]
    for epochs in budgets:
        chosen = [r for r in rows if r["epochs"] == epochs]
        axes.bar(
            [r["trial"] for r in chosen],
            [r["mean_accuracy"] for r in chosen],
            yerr=[r["std_accuracy"] or 0 for r in chosen],
            color=colors[epochs],
            label=f"{epochs} epochs",
        )
    axes.set_xlabel("trial")
    axes.set_ylabel("mean fold accuracy")
    axes.set_title(f"{search.get('strategy')} search, {search.get('k')} folds")
    axes.legend(fontsize="small")
    for axes, key in zip(panels[1:], keys):
        _parameter_panel(axes, key, search["space"][key], rows, colors)
    return _save(figure, path)


def _parameter_panel(axes, key: str, distribution: dict, rows: list[dict], colors: dict) -> None:
    kind, values = next(iter(distribution.items()))
    if kind == "choice":
        labels = [str(v) for v in values]
        x = [labels.index(str(r["params"][key])) for r in rows]
        axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    else:
        x = [r["params"][key] for r in rows]
        if kind == "loguniform":
            axes.set_xscale("log")
    axes.scatter(x, [r["mean_accuracy"] for r in rows], c=[colors[r["epochs"]] for r in rows])
    axes.set_xlabel(key)
    axes.set_title(f"accuracy by {key}")
    axes.grid(alpha=0.3)
