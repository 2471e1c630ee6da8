"""``mlpcli show`` and ``mlpcli features show`` as library functions returning plain data.

``run_show`` summarizes a run directory and draws what it learned into PNG files;
``run_features_show`` draws what the classifier is given for one image; ``save_evaluation``
stores an ``evaluate`` report in the run so ``show`` can draw its confusion matrix.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from .errors import ArtifactError, ConfigError

PICTURES = "pictures"


def run_show(run_dir, out_dir=None) -> dict:
    """Summary of ``run_dir`` (see ``visualize.summary.run_summary``) plus ``pictures`` (paths of
    the PNGs written into ``out_dir``, default ``<run_dir>/pictures``), ``weights`` (what the
    weight picture shows, or None) and ``hint`` (how to get the plots, or None)."""
    from .visualize import plots
    from .visualize.plots import INSTALL_HINT
    from .visualize.summary import run_summary

    run_dir = Path(run_dir)
    summary = run_summary(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / PICTURES
    weights, pictures = _weight_picture(run_dir, out_dir, summary["notes"])
    hint = None
    if plots.available():
        pictures += _plots(run_dir, summary, out_dir)
    else:
        hint = (f"matplotlib is not installed, so the learning curves, confusion matrix and k-fold "
                f"plots were skipped; {INSTALL_HINT} to get them")
    return {**summary, "weights": weights, "pictures": [str(path) for path in pictures], "hint": hint}


def _weight_picture(run_dir: Path, out_dir: Path, notes: list[str]) -> tuple[dict | None, list[Path]]:
    """Class templates, first-layer units or conv filters of the run's model, if it has any."""
    from .artifacts import load_model
    from .predictor import FoldEnsemble
    from .visualize.tiles import labelled_grid, save_png
    from .visualize.weights import weight_picture

    if not (run_dir / "model.json").is_file():
        notes.append("model.json missing: no weights to draw")
        return None, []
    model = load_model(run_dir)
    source = "model"
    if isinstance(model, FoldEnsemble):
        model, source = model.members[0], f"fold 1 of the {len(model.members)}-fold ensemble"
    picture = weight_picture(model)
    if isinstance(picture, str):
        notes.append(f"no weight picture: {picture}")
        return None, []
    image = labelled_grid(picture.tiles, picture.labels, picture.scale, picture.columns)
    path = save_png(image, out_dir / picture.file_name)
    return {"kind": picture.kind, "from": source, "note": picture.note, "path": str(path)}, [path]


def _plots(run_dir: Path, summary: dict, out_dir: Path) -> list[Path]:
    """Learning curves, the latest evaluation's confusion matrix and k-fold bars (matplotlib)."""
    from .visualize import plots
    from .visualize.summary import histories

    written = []
    curves = histories(run_dir)
    if curves:
        written.append(plots.learning_curves(curves, out_dir / "learning_curves.png"))
    evaluation = summary["evaluation"]
    if evaluation is not None:
        accuracy = evaluation.get("accuracy")
        title = f"confusion on {evaluation.get('data') or 'evaluation data'}"
        title += f" (accuracy {accuracy:.4f})" if isinstance(accuracy, float) else ""
        written.append(plots.confusion_heatmap(evaluation["confusion"], evaluation["class_names"],
                                               out_dir / "confusion.png", title))
    kfold = summary["kfold"]
    if kfold is not None and kfold.get("fold_accuracies"):
        written.append(plots.kfold_bars(kfold["fold_accuracies"], kfold["mean_accuracy"],
                                        kfold["std_accuracy"], out_dir / "kfold_accuracy.png"))
    return written


def save_evaluation(run_dir, report: dict, data=None) -> Path:
    """Write ``report`` (from ``workflows.run_evaluate``) to
    ``<run_dir>/evaluations/<timestamp>-<data name>.json`` atomically; never overwrites one.

    ``data`` is the evaluated data path (recorded in the file and used for its name).
    """
    from .fileio import write_json
    from .visualize.summary import EVALUATIONS, clean

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ArtifactError(f"{run_dir}: no such run directory to save the evaluation in")
    now = datetime.now()
    data = data if data is not None else report.get("data")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(data)).resolve().name if data else "") or "data"
    folder = run_dir / EVALUATIONS
    stem = f"{now.strftime('%Y%m%d-%H%M%S')}-{name}"
    path = folder / f"{stem}.json"
    for attempt in range(2, 1000):
        if not path.exists():
            break
        path = folder / f"{stem}-{attempt}.json"
    write_json(path, clean({**report, "data": None if data is None else str(data),
                            "saved_at": now.isoformat(timespec="seconds")}))
    return path


def run_features_show(image_path, config, out_file=None) -> dict:
    """Draw ``image_path`` (resized to ``config.data.image_size``) beside its HOG cells as oriented
    strokes and its color histogram as bars, into one PNG (default ``<image stem>-features.png``
    in the current directory). ``config`` is a ``Config`` or a path to a YAML config.

    Uses the config's hog and color_hist parameters; a missing one is drawn with its defaults, as
    the result's ``notes`` say. Strokes show the per-cell histograms before block normalization. Returns the path, the config's features and the parameters used.
    """
    from .config import load_config
    from .data.images import load_image
    from .visualize.features_picture import features_picture
    from .visualize.tiles import save_png

    if isinstance(config, (str, Path)):
        config = load_config(config)
    image = load_image(image_path, config.data.image_size)
    features, hog_params, hist_params, notes = _picture_params(config)
    try:
        picture = features_picture(image, hog_params, hist_params)
    except ValueError as exc:
        raise ConfigError(f"hog: {exc}") from None
    out_file = Path(out_file) if out_file is not None else Path.cwd() / f"{Path(image_path).stem}-features.png"
    save_png(picture, out_file)
    return {"path": str(out_file), "image": str(image_path), "image_size": list(config.data.image_size),
            "features": [{"name": f.name, **f.params} for f in features],
            "hog": hog_params, "color_hist": hist_params,
            "picture_size": [picture.height, picture.width], "notes": notes}


def _picture_params(config) -> tuple[tuple, dict, dict, list[str]]:
    """The config's features, the hog and color_hist parameters to draw (each with
    ``from_config``), and notes on what was filled in with defaults."""
    features = () if config.mode == "end_to_end" else config.features
    notes = ["mode end_to_end: the network learns its own features from the raw pixels; hog and "
             "color_hist are drawn for comparison"] if config.mode == "end_to_end" else []
    hog_params = _params(features, "hog", notes)
    hist_params = _params(features, "color_hist", notes)
    return features, hog_params, hist_params, notes


def _params(features, name: str, notes: list[str]) -> dict:
    """Parameters of the first ``name`` feature in ``features``, else its defaults (noted), with
    ``from_config`` saying which."""
    from .features import FEATURES

    for feature in features:
        if feature.name == name:
            return {**FEATURES[name].defaults, **feature.params, "from_config": True}
    defaults = dict(FEATURES[name].defaults)
    shown = ", ".join(f"{key} {value}" for key, value in defaults.items())
    notes.append(f"the config has no {name} feature; the picture uses its defaults ({shown})")
    return {**defaults, "from_config": False}
