"""One ``run_*`` function per command: composition of the packages, no logic of its own.

``cli`` parses and prints; these take plain values, return plain data and are what tests and
scripts call. Heavy modules are imported inside the functions so ``--help`` stays fast.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

GRADCHECK_TOLERANCE = 1e-6


def run_train(config, config_name: str = "run", out=None, use_cache: bool = True, resume=None) -> dict:
    """Train on the ``data.val_fraction`` split and write a run directory; returns the summary.

    With ``resume`` (a run directory) the interrupted run continues from its checkpoint instead.
    The run directory is locked while this works in it (see ``artifacts.lock``).
    """
    from .artifacts import point_latest
    from .train.fit import holdout_split, prepare, recorded_config, resolve

    with ExitStack() as held:
        written, config = config, _resumed_config(held, resume, "train") if resume else resolve(config)
        prepared = prepare(config, use_cache)
        train_rows, val_rows = holdout_split(config, prepared.dataset.labels)
        run_dir = Path(resume) if resume else _new_run(held, config.output.dir, config_name, out,
                                                       recorded_config(written, config))
        trained = _train_and_save(config, prepared, train_rows, val_rows, run_dir)
    point_latest(config.output.dir, run_dir)
    metrics = trained.metrics
    return {"run_dir": str(run_dir), "train_accuracy": metrics["train"]["accuracy"],
            "val_accuracy": _or_none(metrics["val"]["accuracy"]), "train_loss": metrics["train"]["loss"],
            "val_loss": _or_none(metrics["val"]["loss"]), "epochs": metrics["epochs"],
            "best_epoch": metrics["best_epoch"], "seconds": metrics["seconds"]}


def _train_and_save(config, prepared, train_rows, val_rows, run_dir: Path):
    """Train resumably (checkpoint, graceful stop) and save the run; a divergence is recorded."""
    from .artifacts import rundir
    from .artifacts.records import save_run
    from .errors import Interrupted, TrainingDiverged
    from .train.fit import train_model
    from .train.stop import graceful_stop

    checkpoint = run_dir / rundir.CHECKPOINT
    with graceful_stop() as stop:
        try:
            # X was prepared for this run alone: standardize it once, not batch by batch.
            trained = train_model(config, prepared, train_rows, val_rows, checkpoint=checkpoint, stop=stop,
                                  standardize_in_place=True)
        except Interrupted as exc:
            raise Interrupted(f"{exc}. Resume with: mlpcli train --resume {run_dir}") from None
        except TrainingDiverged as exc:
            _record_divergence(run_dir, exc, checkpoint)
            raise
    save_run(run_dir, trained)
    checkpoint.unlink(missing_ok=True)
    return trained


def _record_divergence(run_dir: Path, error, checkpoint: Path | None = None) -> None:
    """metrics.json says the run diverged (so ``show`` says so and ``--resume`` refuses); the
    checkpoint goes, since resuming from it would diverge again. A folder that refuses the
    record costs a warning: the divergence is the error to report."""
    from .artifacts.records import save_diverged
    from .errors import ArtifactError
    from .progress import log

    try:
        save_diverged(run_dir, error)
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
    except (ArtifactError, OSError) as exc:
        log.warning("could not mark %s as diverged: %s", run_dir, exc)


def _resumed_config(held: ExitStack, run_dir, command: str):
    """The config of the run to resume, read under the run's lock (held until ``held`` closes)."""
    from .artifacts.lock import locked_run
    from .artifacts.rundir import resume_config_path
    from .config import load_config

    resume_config_path(run_dir, command)  # say why a folder cannot be resumed before locking it
    held.enter_context(locked_run(run_dir))
    return load_config(resume_config_path(run_dir, command))  # again: it may have finished meanwhile


def _new_run(held: ExitStack, output_dir, name: str, out, config_yaml: str) -> Path:
    """A fresh run directory, locked (until ``held`` closes), with the resolved config in it."""
    from .artifacts import new_run_dir
    from .artifacts.lock import locked_run
    from .artifacts.records import write_config

    run_dir = new_run_dir(output_dir, name, out)
    held.enter_context(locked_run(run_dir))
    write_config(run_dir, config_yaml)
    return run_dir


def run_kfold(config, config_name="kfold", k=None, select=None, grid=(), jobs=1, out=None,
              use_cache=True, resume=None) -> dict:
    """Cross-validate (each grid combination), keep the best combination's fold models with the
    ``select``-ed final model, and write the run directory; returns the summary.

    Every fold is saved when it finishes; ``resume`` continues an interrupted run, skipping
    finished folds and continuing unfinished ones from their checkpoints. The run directory is
    locked while this works in it.
    """
    from .artifacts import point_latest
    from .artifacts.records import read_kfold_plan, write_kfold_plan
    from .kfold.run import fold_dirs, plan_kfold
    from .kfold.select import load_folds, log_table, save_selection, select as select_best
    from .train.fit import recorded_config

    with ExitStack() as held:
        if resume:
            config = _resumed_config(held, resume, "kfold")
            options = read_kfold_plan(Path(resume))
            k, select, grid = options["k"], options["select"], options["grid"]
        plan = plan_kfold(config, k, select, grid, use_cache)
        if resume:
            run_dir = Path(resume)
        else:
            run_dir = _new_run(held, plan.configs[0].output.dir, config_name, out,
                               recorded_config(config, plan.base_config))
            write_kfold_plan(run_dir, plan.base_config.kfold.k, plan.base_config.kfold.select, list(grid))
        dirs = fold_dirs(run_dir, plan)
        _train_folds(plan, dirs, jobs, run_dir)
        trained = load_folds(dirs)
        best, summary, oof = select_best(plan, trained)
        log_table(summary)
        save_selection(run_dir, plan, best, trained[best], dirs[best], oof, summary)
    point_latest(plan.configs[best].output.dir, run_dir)
    return {"run_dir": str(run_dir), **summary}


def _train_folds(plan, dirs, jobs: int, run_dir: Path) -> None:
    """Train every unfinished fold; say how to resume after a stop, and record a divergence."""
    from .errors import Interrupted, TrainingDiverged
    from .kfold.run import train_folds

    try:
        train_folds(plan, dirs, jobs)
    except Interrupted as exc:
        raise Interrupted(f"{exc}; finished folds are kept. Resume with: mlpcli kfold --resume {run_dir}") from None
    except TrainingDiverged as exc:
        _record_divergence(run_dir, exc)
        raise


def _or_none(value):
    return None if value is None or value != value else value


def run_predict(paths, model_dir, top_k: int = 1, on_error: str = "fail", max_pixels: int | None = None) -> dict:
    """Label each image file (folders are expanded to the images inside, sorted).

    Returns ``{"predictions": [{"path", "label", "probability", "top_k"}], "skipped": [{"path",
    "reason"}]}``. Unreadable files raise one DataError naming each, or with ``on_error="skip"``
    are left out and listed in ``skipped``. ``max_pixels`` is the decompression-bomb limit
    (default ``data.DEFAULT_MAX_IMAGE_PIXELS``).
    """
    import numpy as np

    from .artifacts import load_model
    from .data import DEFAULT_MAX_IMAGE_PIXELS
    from .data.folder import decode_all
    from .data.images import expand_image_paths
    from .errors import DataError

    model = load_model(model_dir)
    files = expand_image_paths(paths)
    images, kept, skipped = decode_all(files, model.image_size, on_error == "skip",
                                       max_pixels or DEFAULT_MAX_IMAGE_PIXELS)
    if not kept.any():
        raise DataError(f"none of the {len(files)} images could be read; the warning above names each")
    probabilities = model.predict_proba(images)
    k = min(top_k, len(model.class_names))
    predictions = []
    for path, row in zip((f for f, ok in zip(files, kept) if ok), probabilities):
        order = np.argsort(-row, kind="stable")[:k]
        ranked = [{"label": model.class_names[i], "probability": float(row[i])} for i in order]
        predictions.append({"path": str(path), "label": ranked[0]["label"],
                            "probability": ranked[0]["probability"], "top_k": ranked})
    return {"predictions": predictions, "skipped": skipped}


def run_evaluate(model_dir, data_path, on_error: str = "fail", max_pixels: int | None = None,
                 fail_under: float | None = None, metric: str = "accuracy") -> dict:
    """Accuracy, balanced accuracy, macro-F1, log-loss, per-class report and confusion matrix of a
    model on labelled data, plus ``skipped`` (unreadable files left out with ``on_error="skip"``),
    ``misclassified`` ([{"path", "true_label", "predicted_label", "probability"}]) and ``gate``
    (``metrics.quality_gate`` of ``metric`` against ``fail_under``, or None without one)."""
    from .artifacts import load_model
    from .data import DEFAULT_MAX_IMAGE_PIXELS, load_labelled, relabel
    from .metrics import classification_report, quality_gate

    model = load_model(model_dir)
    dataset = load_labelled(data_path, model.image_size, on_error, max_pixels or DEFAULT_MAX_IMAGE_PIXELS)
    labels = relabel(dataset, model.class_names, data_path)
    probabilities = model.predict_proba(dataset.images)
    predicted = probabilities.argmax(axis=1)
    report = classification_report(labels, predicted, model.class_names, probabilities)
    report["gate"] = None if fail_under is None else quality_gate(report, metric, fail_under)
    report["skipped"] = dataset.skipped
    report["misclassified"] = _misclassified(dataset, data_path, labels, predicted, probabilities,
                                             model.class_names)
    return report


def _misclassified(dataset, data_path, labels, predicted, probabilities, class_names) -> list[dict]:
    """The wrongly labelled images: path (or ``data_path#index`` for arrays), the true and the
    predicted class, and the probability the model gave its (wrong) answer."""
    import numpy as np

    wrong = np.flatnonzero(labels != predicted)
    sources = dataset.sources or [f"{data_path}#{i}" for i in range(len(labels))]
    return [{"path": sources[i], "true_label": class_names[labels[i]], "predicted_label": class_names[predicted[i]],
             "probability": float(probabilities[i, predicted[i]])} for i in wrong]


def run_gradcheck(config, batch: int = 4, max_entries: int = 40) -> dict[str, float]:
    """Relative gradient error per parameter of the configured network, in float64, on a random
    batch of the configured data's shape. Large arrays are checked on ``max_entries`` random
    entries each."""
    import dataclasses

    import numpy as np

    from .data import class_names
    from .features.pipeline import feature_widths
    from .nn import LOSSES, SGD
    from .nn.gradcheck import check_network
    from .train.fit import build_network, network_features

    config = dataclasses.replace(config, model=dataclasses.replace(config.model, dtype="float64"))
    height, width = config.data.image_size
    n_features = sum(feature_widths(network_features(config), height, width))
    n_classes = len(class_names(config.data))
    rng = np.random.default_rng(config.seed or 0)
    network = build_network(config, n_features, n_classes, (height, width, 3), rng)
    x = rng.standard_normal((batch, n_features))
    labels = rng.integers(0, n_classes, size=batch)
    weight_decay = config.model.weight_decay or 1e-3  # exercise the decay's gradient too
    # The optimizer's own gradient, decay included, is what gets checked: the code training runs.
    return check_network(network, x, labels, LOSSES[config.model.loss], SGD(weight_decay=weight_decay),
                         max_entries=max_entries, rng=rng)


def run_synth(out, n_per_class: int, size: int, seed: int) -> int:
    """Write the synthetic shapes to ``out/<class>/<index>.png``; returns the number of images."""
    from .data.synthetic import write_synthetic

    return write_synthetic(out, n_per_class, size, seed)


def run_show(run_dir, out_dir=None) -> dict:
    """Summary of ``run_dir`` (see ``artifacts.summary.run_summary``) plus ``pictures`` (paths of
    the PNGs written into ``out_dir``, default ``<run_dir>/pictures``), ``weights`` (what the
    weight picture shows, or None) and ``hint`` (how to get the plots, or None)."""
    from .artifacts import load_model, rundir
    from .artifacts.summary import histories, run_summary
    from .visualize import plots
    from .visualize.run_pictures import draw_plots, draw_weights

    run_dir = Path(run_dir)
    summary = run_summary(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / rundir.PICTURES
    weights, pictures = None, []
    if rundir.is_finished(run_dir):
        weights, pictures = draw_weights(load_model(run_dir), out_dir, summary["notes"])
    else:
        summary["notes"].append(f"{rundir.MODEL} missing: no weights to draw")
    hint = None
    if plots.available():
        pictures += draw_plots(summary, histories(run_dir), out_dir)
    else:
        hint = (f"matplotlib is not installed, so the learning curves, confusion matrix and k-fold "
                f"plots were skipped; {plots.INSTALL_HINT} to get them")
    return {**summary, "weights": weights, "pictures": [str(path) for path in pictures], "hint": hint}


def run_features_show(image_path, config, out_file=None) -> dict:
    """Draw ``image_path`` (resized to ``config.data.image_size``) beside its HOG cells as oriented
    strokes and its color histogram as bars, into one PNG (default ``<image stem>-features.png``
    in the current directory). ``config`` is a ``Config`` or a path to a YAML config.

    Uses the config's hog and color_hist parameters; a missing one is drawn with its defaults, as
    the result's ``notes`` say. Strokes show the per-cell histograms before block normalization.
    Returns the path, the config's features and the parameters used.
    """
    from .config import load_config
    from .data.images import load_image
    from .errors import ConfigError
    from .visualize.features_picture import features_picture, picture_params
    from .visualize.tiles import save_png

    if isinstance(config, (str, Path)):
        config = load_config(config)
    image = load_image(image_path, config.data.image_size, config.data.max_image_pixels)
    features, hog_params, hist_params, notes = picture_params(config)
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
