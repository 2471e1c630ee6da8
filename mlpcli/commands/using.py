"""The commands that use or look at a trained model: ``predict``, ``evaluate``, ``show``, ``features show``."""

from __future__ import annotations

from pathlib import Path


def run_predict(
    paths, model_dir, *, top_k: int = 1, on_error: str = "fail", max_pixels: int | None = None, tta: str | None = None
) -> dict:
    """Label each image file (folders are expanded to the images inside, sorted).

    Returns ``{"predictions": [{"path", "label", "probability", "top_k"}], "skipped": [{"path",
    "reason"}]}``. Unreadable files raise one DataError naming each, or with ``on_error="skip"``
    are left out and listed in ``skipped``. ``max_pixels`` is the decompression-bomb limit
    (default ``data.DEFAULT_MAX_IMAGE_PIXELS``). ``tta`` (none or flip) overrides the model's
    recorded ``train.tta``.
    """
    import numpy as np

    from ..artifacts import load_model
    from ..data import DEFAULT_MAX_IMAGE_PIXELS
    from ..data.images import expand_image_paths
    from ..errors import DataError

    model = with_tta(load_model(model_dir), tta)
    files = expand_image_paths(paths)
    probabilities, kept, skipped = _predict_files(
        model, files, on_error == "skip", max_pixels or DEFAULT_MAX_IMAGE_PIXELS
    )
    if not kept.any():
        raise DataError(f"none of the {len(files)} images could be read; the warning above names each")
    k = min(top_k, len(model.class_names))
    predictions = []
    for path, row in zip((f for f, ok in zip(files, kept) if ok), probabilities):
        order = np.argsort(-row, kind="stable")[:k]
        ranked = [{"label": model.class_names[i], "probability": float(row[i])} for i in order]
        predictions.append(
            {"path": str(path), "label": ranked[0]["label"], "probability": ranked[0]["probability"], "top_k": ranked}
        )
    return {"predictions": predictions, "skipped": skipped}


#: Decoded images predict holds at a time: a folder of 100,000 photos is labelled in batches
#: instead of being decoded whole (4.9 GB at 128 px, with its features beside it).
PREDICT_BATCH_BYTES = 64 << 20


def _predict_files(model, files, skip: bool, max_pixels: int):
    """(probabilities (n_kept, n_classes), kept (n_files,) bool, failures) of ``files``, decoded and
    labelled a batch at a time (``PREDICT_BATCH_BYTES``). Every file is tried; unreadable ones are
    logged (``skip``) or named all in one DataError, raised once every file was tried, without
    labelling more images after the first failure."""
    import numpy as np

    from ..data.folder import decode_batches, report_failures

    probabilities, kept, failures = [], [], []
    for images, ok, errors in decode_batches(files, model.preprocess, max_pixels, PREDICT_BATCH_BYTES):
        kept.append(ok)
        failures += errors
        if len(images) and (skip or not failures):
            probabilities.append(model.predict_proba(images))
    report_failures(failures, skip)
    labelled = np.concatenate(probabilities) if probabilities else np.empty((0, len(model.class_names)))
    return labelled, np.concatenate(kept), failures


def run_evaluate(
    model_dir,
    data_path,
    *,
    on_error: str = "fail",
    max_pixels: int | None = None,
    fail_under: float | None = None,
    metric: str = "accuracy",
    tta: str | None = None,
) -> dict:
    """Accuracy, balanced accuracy, macro-F1, log-loss, per-class report and confusion matrix of a
    model on labelled data, plus ``skipped`` (unreadable files left out with ``on_error="skip"``),
    ``misclassified`` ([{"path", "true_label", "predicted_label", "probability"}]), ``gate``
    (``metrics.quality_gate`` of ``metric`` against ``fail_under``, or None without one) and ``tta``
    (the test-time augmentation used: ``tta`` if given, else the model's ``train.tta``). The
    caller saves it (``artifacts.evaluations.save_evaluation``) after showing it, so a run folder
    that refuses the file still shows the report."""
    from ..artifacts import load_model
    from ..data import DEFAULT_MAX_IMAGE_PIXELS, load_labelled, relabel
    from ..metrics import classification_report, quality_gate

    model = with_tta(load_model(model_dir), tta)
    dataset = load_labelled(data_path, model.preprocess, on_error, max_pixels or DEFAULT_MAX_IMAGE_PIXELS)
    labels = relabel(dataset, model.class_names, data_path)
    probabilities = model.predict_proba(dataset.images)
    predicted = probabilities.argmax(axis=1)
    report = classification_report(labels, predicted, model.class_names, probabilities)
    report["gate"] = None if fail_under is None else quality_gate(report, metric, fail_under)
    report["skipped"] = dataset.skipped
    report["tta"] = model.tta
    report["misclassified"] = _misclassified(dataset, data_path, labels, predicted, probabilities, model.class_names)
    return report


def with_tta(model, tta: str | None):
    """``model`` predicting with ``tta`` (a ``choices.TTA_MODES`` value), or as recorded if None."""
    if tta is not None:
        model.tta = tta
    return model


def _misclassified(dataset, data_path, labels, predicted, probabilities, class_names) -> list[dict]:
    """The wrongly labelled images: path (or ``data_path#index`` for arrays), the true and the
    predicted class, and the probability the model gave its (wrong) answer."""
    import numpy as np

    wrong = np.flatnonzero(labels != predicted)
    sources = dataset.sources or [f"{data_path}#{i}" for i in range(len(labels))]
    return [
        {
            "path": sources[i],
            "true_label": class_names[labels[i]],
            "predicted_label": class_names[predicted[i]],
            "probability": float(probabilities[i, predicted[i]]),
        }
        for i in wrong
    ]


def run_show(run_dir, out_dir=None) -> dict:
    """Summary of ``run_dir`` (see ``artifacts.summary.run_summary``) plus ``pictures`` (paths of
    the PNGs written into ``out_dir``, default ``<run_dir>/pictures``), ``weights`` (what the
    weight picture shows, or None), ``vocabularies`` (the bow words drawn, one per bow feature),
    ``hint`` (how to get the plots, or None) and ``refused`` (why the pictures could not be
    written, with where else they could go, or None: the summary is still worth printing)."""
    from ..artifacts import load_model, rundir
    from ..artifacts.summary import run_summary
    from ..errors import ArtifactError
    from ..visualize import plots

    run_dir = Path(run_dir)
    summary = run_summary(run_dir)
    model = load_model(run_dir) if rundir.is_finished(run_dir) else None
    if model is None:
        summary["notes"].append(f"{rundir.MODEL} missing: no weights to draw")
    drawn: dict = {"weights": None, "vocabularies": [], "pictures": []}
    refused: str | None = None
    target = Path(out_dir) if out_dir is not None else run_dir / rundir.PICTURES
    try:
        drawn = _draw_pictures(run_dir, summary, model, target)
    except (ArtifactError, OSError) as exc:
        refused = _refusal_text(exc, target, out_dir is None, run_dir)
    hint = (
        None
        if plots.available()
        else (
            f"matplotlib is not installed, so the learning curves, confusion matrix and k-fold plots were "
            f"skipped; {plots.INSTALL_HINT} to get them"
        )
    )
    return {**summary, **drawn, "hint": hint, "refused": refused}


def _draw_pictures(run_dir: Path, summary: dict, model, out_dir: Path) -> dict:
    """Draw every picture of the run into ``out_dir``: {weights, vocabularies, pictures}."""
    from ..artifacts.summary import histories
    from ..visualize import plots
    from ..visualize.run_pictures import draw_plots, draw_vocabularies, draw_weights

    weights: dict | None = None
    pictures: list[Path] = []
    vocabularies: list[dict] = []
    if model is not None:
        weights, pictures = draw_weights(model, out_dir, summary["notes"])
        vocabularies, drawn = draw_vocabularies(model, out_dir)
        pictures += drawn
    if plots.available():
        pictures += draw_plots(summary, histories(run_dir), out_dir)
    return {"weights": weights, "vocabularies": vocabularies, "pictures": [str(path) for path in pictures]}


def _refusal_text(exc: Exception, out_dir: Path, default: bool, run_dir: Path) -> str:
    """``cannot write pictures in DIR: reason; draw them elsewhere with ... --out DIR``."""
    from ..fileio import refusal

    reason = refusal(exc) if isinstance(exc, OSError) else str(exc)
    remedy = f"draw them elsewhere with: mlpcli show {run_dir} --out DIR" if default else "choose another --out"
    return f"cannot write pictures in {out_dir}: {reason}; {remedy}"


def run_features_show(image_path, config, out_file=None) -> dict:
    """Draw ``image_path`` (resized to ``config.data.image_size``) beside its HOG cells as oriented
    strokes and its color histogram as bars, into one PNG (default ``<image stem>-features.png``
    in the current directory). ``config`` is a ``Config`` or a path to a YAML config.

    Uses the config's hog and color_hist parameters; a missing one is drawn with its defaults, as
    the result's ``notes`` say. Strokes show the per-cell histograms before block normalization.
    Returns the path, the config's features and the parameters used.
    """
    from ..config import load_config
    from ..data.images import load_image
    from ..data.shape import preprocess_of
    from ..errors import ConfigError
    from ..visualize.features_picture import features_picture, picture_params
    from ..visualize.tiles import save_png

    if isinstance(config, (str, Path)):
        config = load_config(config)
    image = load_image(image_path, preprocess_of(config.data), config.data.max_image_pixels)
    features, hog_params, hist_params, notes = picture_params(config)
    try:
        picture = features_picture(image, hog_params, hist_params)
    except ValueError as exc:
        raise ConfigError(f"hog: {exc}") from None
    out_file = Path(out_file) if out_file is not None else Path.cwd() / f"{Path(image_path).stem}-features.png"
    save_png(picture, out_file)
    return {
        "path": str(out_file),
        "image": str(image_path),
        "image_size": list(config.data.image_size),
        "features": [{"name": f.name, **f.params} for f in features],
        "hog": hog_params,
        "color_hist": hist_params,
        "picture_size": [picture.height, picture.width],
        "notes": notes,
    }
