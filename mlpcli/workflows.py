"""What each command does, as library functions that take plain values and return plain data.

``cli`` parses and prints; these functions do the work and are what tests and scripts call.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ConfigError, DataError

GRADCHECK_TOLERANCE = 1e-6


def run_train(config, config_name: str = "run", out=None, use_cache: bool = True, resume=None) -> dict:
    """Train on the ``data.val_fraction`` split and write a run directory; returns the summary.

    With ``resume`` (a run directory) the interrupted run continues from its checkpoint instead.
    """
    from .artifacts import new_run_dir, point_latest, save_run
    from .checkpoint import CHECKPOINT
    from .config import dump_yaml
    from .errors import Interrupted
    from .experiment import holdout_split, prepare, resolve_seed, train_model
    from .fileio import write_text
    from .interrupt import graceful_stop

    config = resume_config(resume, "train") if resume else resolve_seed(config)
    prepared = prepare(config, use_cache)
    train_rows, val_rows = holdout_split(config, prepared.dataset.labels)
    run_dir = Path(resume) if resume else new_run_dir(config.output.dir, config_name, out)
    write_text(run_dir / "config.yaml", dump_yaml(config))
    checkpoint = run_dir / CHECKPOINT
    with graceful_stop() as stop:
        try:
            trained = train_model(config, prepared, train_rows, val_rows, checkpoint=checkpoint, stop=stop)
        except Interrupted as exc:
            raise Interrupted(f"{exc}. Resume with: mlpcli train --resume {run_dir}") from None
    save_run(run_dir, dump_yaml(config), trained)
    checkpoint.unlink(missing_ok=True)
    point_latest(config.output.dir, run_dir)
    metrics = trained.metrics
    return {"run_dir": str(run_dir), "train_accuracy": metrics["train"]["accuracy"],
            "val_accuracy": _or_none(metrics["val"]["accuracy"]), "train_loss": metrics["train"]["loss"],
            "val_loss": _or_none(metrics["val"]["loss"]), "epochs": metrics["epochs"],
            "best_epoch": metrics["best_epoch"], "seconds": metrics["seconds"]}


def resume_config(run_dir, command: str):
    """The config of an unfinished run in ``run_dir``; says clearly why it cannot be resumed."""
    from .config import load_config
    from .errors import ArtifactError

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ArtifactError(f"--resume {run_dir}: no such run directory")
    if (run_dir / "model.json").exists():
        raise ArtifactError(f"--resume {run_dir}: this run already finished (its model.json is there); "
                            f"nothing to resume")
    if not (run_dir / "config.yaml").is_file():
        raise ArtifactError(f"--resume {run_dir}: config.yaml is missing, so this is not a resumable run")
    if command == "train" and not (run_dir / "checkpoint.npz").is_file():
        raise ArtifactError(f"--resume {run_dir}: no checkpoint.npz (the run stopped before its first "
                            f"checkpoint); start it again with: mlpcli train --config {run_dir / 'config.yaml'}")
    if command == "kfold" and not (run_dir / "kfold_plan.json").is_file():
        raise ArtifactError(f"--resume {run_dir}: kfold_plan.json is missing, so this is not a k-fold run")
    return load_config(run_dir / "config.yaml")


def run_kfold(config, config_name="kfold", k=None, select=None, grid=(), jobs=1, out=None,
              use_cache=True, resume=None) -> dict:
    """Cross-validate (each grid combination), keep the best combination's fold models with the
    ``select``-ed final model, and write the run directory; returns the summary.

    Every fold is saved when it finishes; ``resume`` continues an interrupted run, skipping
    finished folds and continuing unfinished ones from their checkpoints.
    """
    import json

    from .artifacts import new_run_dir, point_latest
    from .config import dump_yaml
    from .crossval import evaluate_folds, fold_dirs, holdout_scores, load_folds, log_table, plan_kfold, train_folds
    from .errors import Interrupted
    from .fileio import write_json, write_text

    if resume:
        config = resume_config(resume, "kfold")
        options = json.loads((Path(resume) / "kfold_plan.json").read_text())
        k, select, grid = options["k"], options["select"], options["grid"]
    plan = plan_kfold(config, k, select, grid, use_cache)
    run_dir = Path(resume) if resume else new_run_dir(plan.configs[0].output.dir, config_name, out)
    if not resume:
        base = plan.base_config
        write_text(run_dir / "config.yaml", dump_yaml(base))
        write_json(run_dir / "kfold_plan.json", {"k": base.kfold.k, "select": base.kfold.select, "grid": list(grid)})
    dirs = fold_dirs(run_dir, plan)
    try:
        train_folds(plan, dirs, jobs)
    except Interrupted as exc:
        raise Interrupted(f"{exc}; finished folds are kept. Resume with: mlpcli kfold --resume {run_dir}") from None
    trained = load_folds(dirs)
    results = evaluate_folds(plan, trained)
    best = max(range(len(results)), key=lambda i: results[i]["summary"]["mean_accuracy"])
    config = plan.configs[best]
    summary = {"k": config.kfold.k, "select": config.kfold.select, **results[best]["summary"]}
    summary["holdout"] = holdout_scores(plan, plan.prepared[best], trained[best], summary["best_fold"])
    if len(plan.combos) > 1:
        summary["best_params"] = plan.combos[best]
        summary["grid"] = sorted(({"params": combo, **{key: r["summary"][key] for key in (
            "mean_accuracy", "std_accuracy", "oof_accuracy", "fold_accuracies")}}
            for combo, r in zip(plan.combos, results)), key=lambda row: -row["mean_accuracy"])
    log_table(summary)
    _save_kfold_run(run_dir, config, plan, trained[best], dirs[best], results[best]["oof"], summary)
    point_latest(config.output.dir, run_dir)
    return {"run_dir": str(run_dir), **summary}


def _save_kfold_run(run_dir, config, plan, folds, dirs, oof, summary) -> None:
    """The selected model at the top (written last), the splits, OOF predictions and summary."""
    from .artifacts import save_model
    from .config import dump_yaml
    from .fileio import atomic_save_npz, write_json, write_text
    from .predictor import FoldEnsemble

    write_json(run_dir / "kfold_split_indices.json",
               {"k": len(plan.folds), "folds": [f.tolist() for f in plan.folds], "holdout": plan.holdout.tolist()})
    labels = plan.prepared[0].dataset.labels
    fold_of = np.zeros(len(labels), dtype=np.int64)
    for number, rows in enumerate(plan.folds, start=1):
        fold_of[rows] = number
    rows = np.flatnonzero(fold_of)
    atomic_save_npz(run_dir / "oof_predictions.npz", {"rows": rows, "fold": fold_of[rows], "labels": labels[rows],
                                                      "probabilities": oof[rows]})
    write_json(run_dir / "kfold_summary.json", summary)
    # The run's config becomes the chosen combination's (the same keys the grid varied, so a
    # resume from here would plan the same folds).
    write_text(run_dir / "config.yaml", dump_yaml(config))
    if config.kfold.select == "ensemble":
        members = [str(d.relative_to(run_dir)) for d in dirs]
        save_model(run_dir, FoldEnsemble([predictor for predictor, _ in folds]), members)
    else:
        save_model(run_dir, folds[summary["best_fold"] - 1][0])


def _or_none(value):
    return None if value is None or value != value else value


def run_predict(paths, model_dir, top_k: int = 1) -> list[dict]:
    """Label each image file (folders are expanded to the images inside, sorted)."""
    from .artifacts import load_model
    from .data.images import load_image

    model = load_model(model_dir)
    files = _expand_image_paths(paths)
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


def _expand_image_paths(paths) -> list[Path]:
    from .data.images import is_image_path

    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and is_image_path(p)
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise DataError(f"{path}: folder contains no images")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    return files


def run_evaluate(model_dir, data_path) -> dict:
    """Accuracy, per-class report and confusion matrix of a model on labelled data."""
    from .artifacts import load_model
    from .data import load_labelled
    from .metrics import accuracy, confusion_matrix, per_class_report

    model = load_model(model_dir)
    dataset = load_labelled(data_path, model.image_size)
    unknown = sorted(set(dataset.class_names) - set(model.class_names))
    if unknown:
        raise DataError(f"{data_path}: classes {', '.join(unknown)} are not among the model's classes "
                        f"({', '.join(model.class_names)})")
    to_model = np.array([model.class_names.index(name) for name in dataset.class_names], dtype=np.int64)
    labels = to_model[dataset.labels]
    predicted = model.predict_proba(dataset.images).argmax(axis=1)
    n_classes = len(model.class_names)
    confusion = confusion_matrix(labels, predicted, n_classes)
    return {"accuracy": accuracy(labels, predicted), "n": int(len(labels)),
            "class_names": list(model.class_names),
            "per_class": per_class_report(confusion, model.class_names),
            "confusion": confusion.tolist()}


def run_gradcheck(config, batch: int = 4, max_entries: int = 40) -> dict[str, float]:
    """Relative gradient error per parameter of the configured network, in float64, on a random
    batch. Large arrays are checked on ``max_entries`` random entries each."""
    import dataclasses

    from .experiment import RAW, build_network
    from .features.pipeline import feature_widths
    from .nn import LOSSES, SGD
    from .nn.gradcheck import check_network

    config = dataclasses.replace(config, model=dataclasses.replace(config.model, dtype="float64"))
    height, width = config.data.image_size
    features = RAW if config.mode == "end_to_end" else config.features
    n_features = sum(feature_widths(features, height, width))
    n_classes = 4 if config.data.format == "synthetic" else 10
    rng = np.random.default_rng(config.seed or 0)
    network = build_network(config, n_features, n_classes, (height, width, 3), rng)
    x = rng.standard_normal((batch, n_features))
    labels = rng.integers(0, n_classes, size=batch)
    weight_decay = config.model.weight_decay or 1e-3  # exercise the penalty's gradient too
    # The optimizer's own gradient, decay included, is what gets checked: the code training runs.
    return check_network(network, x, labels, LOSSES[config.model.loss], SGD(weight_decay=weight_decay),
                         max_entries=max_entries, rng=rng)


def run_synth(out, n_per_class: int, size: int, seed: int) -> int:
    """Write the synthetic shapes to ``out/<class>/<index>.png``; returns the number of images."""
    from PIL import Image

    from .data.synthetic import make_synthetic

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: already exists and is not empty; choose a new folder")
    dataset = make_synthetic(n_per_class, (size, size), seed)
    for name in dataset.class_names:
        (out / name).mkdir(parents=True, exist_ok=True)
    for index, (image, label) in enumerate(zip(dataset.images, dataset.labels)):
        Image.fromarray(image).save(out / dataset.class_names[label] / f"{index:05d}.png")
    return len(dataset)
