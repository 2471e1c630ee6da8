"""The pictures ``mlpcli show`` draws for a run: its weights as tiles (Pillow) and its learning
curves, confusion matrix and k-fold bars (matplotlib, when installed)."""

from __future__ import annotations

from pathlib import Path

from . import plots
from .tiles import labelled_grid, save_png
from .vocabulary import vocabulary_pictures
from .weights import weight_picture


def draw_weights(model, out_dir: Path, notes: list[str]) -> tuple[dict | None, list[Path]]:
    """Class templates, first-layer units or conv filters of ``model`` (a Predictor or a
    FoldEnsemble, whose first member is drawn), if it has any: (what was drawn, [png])."""
    source = "model"
    if hasattr(model, "members"):
        model, source = model.members[0], f"fold 1 of the {len(model.members)}-fold ensemble"
    picture = weight_picture(model)
    if isinstance(picture, str):
        notes.append(f"no weight picture: {picture}")
        return None, []
    image = labelled_grid(picture.tiles, picture.labels, picture.scale, picture.columns)
    path = save_png(image, out_dir / picture.file_name)
    return {"kind": picture.kind, "from": source, "note": picture.note, "path": str(path)}, [path]


def draw_vocabularies(model, out_dir: Path) -> tuple[list[dict], list[Path]]:
    """The words of each bag-of-visual-words feature of ``model`` as patches: ([what], [png])."""
    drawn, paths = [], []
    for picture in vocabulary_pictures(model):
        image = labelled_grid(picture.tiles, picture.labels, picture.scale, picture.columns)
        path = save_png(image, out_dir / picture.file_name)
        drawn.append({"kind": picture.kind, "note": picture.note, "path": str(path)})
        paths.append(path)
    return drawn, paths


def draw_plots(summary: dict, curves: list, out_dir: Path) -> list[Path]:
    """Learning curves (``curves``: [(label, history rows)]), the latest evaluation's confusion
    matrix and k-fold bars, from a run summary (``artifacts.summary.run_summary``)."""
    written = []
    if curves:
        written.append(plots.learning_curves(curves, out_dir / "learning_curves.png"))
    evaluation = summary["evaluation"]
    if evaluation is not None:
        accuracy = evaluation.get("accuracy")
        title = f"confusion on {evaluation.get('data') or 'evaluation data'}"
        title += f" (accuracy {accuracy:.4f})" if isinstance(accuracy, float) else ""
        written.append(
            plots.confusion_heatmap(
                evaluation["confusion"], evaluation["class_names"], out_dir / "confusion.png", title
            )
        )
    if summary.get("search"):
        written.append(plots.search_accuracy(summary["search"], out_dir / "search_accuracy.png"))
    kfold = summary["kfold"]
    if kfold is not None and kfold.get("fold_accuracies"):
        written.append(
            plots.kfold_bars(
                kfold["fold_accuracies"], kfold["mean_accuracy"], kfold["std_accuracy"], out_dir / "kfold_accuracy.png"
            )
        )
    return written
