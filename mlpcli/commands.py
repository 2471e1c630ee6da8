"""One ``run_*`` function per command: composition of the packages, no logic of its own.

``cli`` parses and prints; these take plain values, return plain data and are what tests and
scripts call. Heavy modules are imported inside the functions so ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

GRADCHECK_TOLERANCE = 1e-6


def run_train(config, config_name: str = "run", out=None, use_cache: bool = True, resume=None) -> dict:
    """Train on the ``data.val_fraction`` split and write a run directory; returns the summary.

    With ``resume`` (a run directory) the interrupted run continues from its checkpoint instead.
    """
    from .artifacts import new_run_dir, point_latest, rundir
    from .artifacts.records import save_run, write_config
    from .errors import Interrupted
    from .train.fit import holdout_split, prepare, recorded_config, resolve, train_model
    from .train.stop import graceful_stop

    written, config = config, _resume_config(resume, "train") if resume else resolve(config)
    prepared = prepare(config, use_cache)
    train_rows, val_rows = holdout_split(config, prepared.dataset.labels)
    run_dir = Path(resume) if resume else new_run_dir(config.output.dir, config_name, out)
    if not resume:
        write_config(run_dir, recorded_config(written, config))
    checkpoint = run_dir / rundir.CHECKPOINT
    with graceful_stop() as stop:
        try:
            trained = train_model(config, prepared, train_rows, val_rows, checkpoint=checkpoint, stop=stop)
        except Interrupted as exc:
            raise Interrupted(f"{exc}. Resume with: mlpcli train --resume {run_dir}") from None
    save_run(run_dir, trained)
    checkpoint.unlink(missing_ok=True)
    point_latest(config.output.dir, run_dir)
    metrics = trained.metrics
    return {"run_dir": str(run_dir), "train_accuracy": metrics["train"]["accuracy"],
            "val_accuracy": _or_none(metrics["val"]["accuracy"]), "train_loss": metrics["train"]["loss"],
            "val_loss": _or_none(metrics["val"]["loss"]), "epochs": metrics["epochs"],
            "best_epoch": metrics["best_epoch"], "seconds": metrics["seconds"]}


def _resume_config(run_dir, command: str):
    from .artifacts.rundir import resume_config_path
    from .config import load_config

    return load_config(resume_config_path(run_dir, command))


def run_kfold(config, config_name="kfold", k=None, select=None, grid=(), jobs=1, out=None,
              use_cache=True, resume=None) -> dict:
    """Cross-validate (each grid combination), keep the best combination's fold models with the
    ``select``-ed final model, and write the run directory; returns the summary.

    Every fold is saved when it finishes; ``resume`` continues an interrupted run, skipping
    finished folds and continuing unfinished ones from their checkpoints.
    """
    from .artifacts import new_run_dir, point_latest
    from .artifacts.records import read_kfold_plan, write_config, write_kfold_plan
    from .errors import Interrupted
    from .kfold.run import fold_dirs, plan_kfold, train_folds
    from .kfold.select import load_folds, log_table, save_selection, select as select_best
    from .train.fit import recorded_config

    if resume:
        config = _resume_config(resume, "kfold")
        options = read_kfold_plan(Path(resume))
        k, select, grid = options["k"], options["select"], options["grid"]
    plan = plan_kfold(config, k, select, grid, use_cache)
    run_dir = Path(resume) if resume else new_run_dir(plan.configs[0].output.dir, config_name, out)
    if not resume:
        write_config(run_dir, recorded_config(config, plan.base_config))
        write_kfold_plan(run_dir, plan.base_config.kfold.k, plan.base_config.kfold.select, list(grid))
    dirs = fold_dirs(run_dir, plan)
    try:
        train_folds(plan, dirs, jobs)
    except Interrupted as exc:
        raise Interrupted(f"{exc}; finished folds are kept. Resume with: mlpcli kfold --resume {run_dir}") from None
    trained = load_folds(dirs)
    best, summary, oof = select_best(plan, trained)
    log_table(summary)
    save_selection(run_dir, plan, best, trained[best], dirs[best], oof, summary)
    point_latest(plan.configs[best].output.dir, run_dir)
    return {"run_dir": str(run_dir), **summary}


def _or_none(value):
    return None if value is None or value != value else value


def run_predict(paths, model_dir, top_k: int = 1) -> list[dict]:
    """Label each image file (folders are expanded to the images inside, sorted)."""
    import numpy as np

    from .artifacts import load_model
    from .data.images import expand_image_paths, load_image

    model = load_model(model_dir)
    files = expand_image_paths(paths)
    images = np.stack([load_image(path, model.image_size) for path in files])
    probabilities = model.predict_proba(images)
    k = min(top_k, len(model.class_names))
    results = []
    for path, row in zip(files, probabilities):
        order = np.argsort(-row, kind="stable")[:k]
        ranked = [{"label": model.class_names[i], "probability": float(row[i])} for i in order]
        results.append({"path": str(path), "label": ranked[0]["label"],
                        "probability": ranked[0]["probability"], "top_k": ranked})
    return results


def run_evaluate(model_dir, data_path) -> dict:
    """Accuracy, per-class report and confusion matrix of a model on labelled data."""
    from .artifacts import load_model
    from .data import load_labelled, relabel
    from .metrics import classification_report

    model = load_model(model_dir)
    dataset = load_labelled(data_path, model.image_size)
    labels = relabel(dataset, model.class_names, data_path)
    predicted = model.predict_proba(dataset.images).argmax(axis=1)
    return classification_report(labels, predicted, model.class_names)


def run_gradcheck(config, batch: int = 4, max_entries: int = 40) -> dict[str, float]:
    """Relative gradient error per parameter of the configured network, in float64, on a random
    batch of the configured data's shape. Large arrays are checked on ``max_entries`` random
    entries each."""
    import dataclasses

    import numpy as np

    from .data import class_names
    from .features.pipeline import feature_widths
    from .nn.gradcheck import check_network
    from .train.fit import build_network, network_features
    from .train.recipe import build_optimizer, seed_dropout, training_loss

    config = dataclasses.replace(config, model=dataclasses.replace(config.model, dtype="float64"))
    height, width = config.data.image_size
    n_features = sum(feature_widths(network_features(config), height, width))
    n_classes = len(class_names(config.data))
    rng = np.random.default_rng(config.seed or 0)
    network = build_network(config, n_features, n_classes, (height, width, 3), rng)
    seed_dropout(network, np.random.default_rng(rng.integers(2**31)))  # check_network fixes its masks
    x = rng.standard_normal((batch, n_features))
    labels = rng.integers(0, n_classes, size=batch)
    weight_decay = config.model.weight_decay or 1e-3  # exercise the decay's gradient too
    # What training runs is what gets checked: its loss (label smoothing included) and the
    # gradient its optimizer steps along (decay included).
    optimizer = build_optimizer(config.train, weight_decay)
    return check_network(network, x, labels, training_loss(config.model), optimizer,
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
    image = load_image(image_path, config.data.image_size)
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
