"""``model_card.md``: what a run's model is, what it was trained on, how good it is, and where
it should not be trusted, in Markdown for a person (the numbers come from the run's records,
read through ``summary.run_summary``). Written by ``train``, ``kfold`` and ``search`` and
refreshed by ``evaluate --save``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..fileio import write_text
from . import rundir
from .records import read_kfold_summary, read_metrics, read_search_summary
from .summary import run_summary

#: What each way of seeing an image cannot see: the known limits a card lists.
BLIND_SPOTS = {
    "raw": "raw pixels: no invariance to shifts, scale or lighting; an object moved by a few pixels is a new input",
    "color_hist": "color histograms ignore where pixels are (shape and texture are invisible); the hsv "
    "space keeps hue only, so brightness and saturation are ignored",
    "hog": "HOG ignores color (it sees the grayscale image) and reads gradients on a fixed cell grid: "
    "objects at other scales or positions than in training look different",
    "bow": "the bag of visual words ignores where patches are inside each pooling region; its "
    "vocabulary was learned from the training images only",
    "end_to_end": "the learned convolution filters respond to what the training images held; nothing "
    "constrains them on other kinds of images",
}
#: How ``predict`` brings an image to the input size, per ``data.resize`` (after turning it
#: upright by its EXIF orientation and converting it to RGB; Pillow's antialiased bilinear resize).
RESIZES = {
    "squash": "stretched to exactly the input size (aspect ratio not kept, no crop)",
    "center_crop": "the largest centred window of the input's aspect ratio, then resized (edges cut)",
    "pad": "resized to fit inside the input size, the rest filled with gray level {pad_fill}",
}
#: Per ``data.color``.
COLORS = {"rgb": "RGB", "gray": "gray (ITU-R 601 luma) in all three channels"}


def write_model_card(run_dir: str | Path) -> Path:
    """(Re)write ``<run_dir>/model_card.md`` from the run's records; returns its path."""
    run_dir = Path(run_dir)
    summary = run_summary(run_dir)
    sections = [
        _title(run_dir, summary),
        _data(run_dir, summary),
        _config(summary),
        _scores(summary),
        _evaluation(summary),
        _input(summary),
        _use_and_limits(summary),
    ]
    path = run_dir / rundir.MODEL_CARD
    write_text(path, "\n\n".join(section.strip() for section in sections) + "\n")
    return path


def _title(run_dir: Path, summary: dict) -> str:
    return (
        f"# Model card: {run_dir.name}\n\nA {summary['kind']} run of mlpcli "
        f"(`mlpcli show {run_dir}` has the details; `mlpcli predict IMAGES --model {run_dir}` uses it)."
    )


def _records(run_dir: Path) -> dict:
    """The record holding the data fingerprint and class names: k-fold, search's best trial, or train."""
    for record in (
        read_kfold_summary(run_dir),
        read_kfold_summary(run_dir / rundir.BEST_TRIAL),
        read_search_summary(run_dir),
        read_metrics(run_dir),
    ):
        if isinstance(record, dict) and "class_names" in record:
            return record
    return {}


def _class_counts(summary: dict, record: dict) -> list[int] | None:
    """Images per class the run saw (the rows of its confusion matrices, train + validation)."""
    confusions = [
        record.get(split, {}).get("confusion") for split in ("train", "val") if isinstance(record.get(split), dict)
    ] or [record.get("oof_confusion")]
    confusions = [c for c in confusions if isinstance(c, list)]
    if not confusions:
        return None
    return [sum(sum(c[row]) for c in confusions) for row in range(len(confusions[0]))]


def _data(run_dir: Path, summary: dict) -> str:
    data = (summary.get("config") or {}).get("data", {})
    record = _records(run_dir)
    lines = [
        "## Data",
        "",
        f"- source: {data.get('format', 'unknown')} "
        f"{'' if data.get('path') is None else '`' + str(data['path']) + '`'}".rstrip(),
        f"- fingerprint: `{record.get('data_fingerprint', 'unknown')}`",
    ]
    classes, counts = record.get("class_names"), _class_counts(summary, record)
    if classes and counts:
        lines.append("- images per class: " + ", ".join(f"{name} {count}" for name, count in zip(classes, counts)))
    elif classes:
        lines.append("- classes: " + ", ".join(classes))
    return "\n".join(lines)


def _config(summary: dict) -> str:
    config = summary.get("config")
    if config is None:
        return "## Configuration\n\nunknown (config.yaml missing or invalid)"
    inputs = config.get("extractor") if config["mode"] == "end_to_end" else config.get("features")
    return "\n".join(
        [
            "## Configuration",
            "",
            f"- seed {config['seed']}, mode {config['mode']}",
            f"- {'extractor' if config['mode'] == 'end_to_end' else 'features'}: {json.dumps(inputs)}",
            f"- model: {json.dumps(config['model'])}",
            f"- training: {json.dumps(config['train'])}",
        ]
    )


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _scores(summary: dict) -> str:
    lines = ["## Validation", ""]
    kfold = summary.get("kfold")
    if kfold:
        lines.append(
            f"- {kfold.get('k')}-fold accuracy: {_number(kfold.get('mean_accuracy'))} "
            f"+- {_number(kfold.get('std_accuracy'))} (mean +- std over folds); "
            f"out-of-fold {_number(kfold.get('oof_accuracy'))}; model: {kfold.get('select')}"
        )
        holdout = kfold.get("holdout")
        if isinstance(holdout, dict) and holdout:
            lines.append(f"- holdout: {json.dumps(holdout)}")
    elif summary.get("metrics"):
        for split in ("train", "val"):
            scores = summary["metrics"][split]
            lines.append(
                f"- {split}: accuracy {_number(scores['accuracy'])}, loss {_number(scores['loss'])} "
                f"({summary['n'][split]} images)"
            )
    if summary.get("search"):
        lines.append(f"- search: {summary['search'].get('n_trials')} trials ({summary['search'].get('strategy')})")
    return "\n".join(lines if len(lines) > 2 else [*lines, "no scores recorded"])


def _evaluation(summary: dict) -> str:
    evaluation = summary.get("evaluation")
    if not evaluation or "saved_at" not in evaluation:
        return "## Last saved evaluation\n\nnone yet: `mlpcli evaluate --model RUN --data DATA --save` records one here"
    return (
        f"## Last saved evaluation\n\n- data: `{evaluation.get('data')}`, saved {evaluation['saved_at']}\n"
        f"- accuracy {_number(evaluation.get('accuracy'))} on {evaluation.get('n')} images"
    )


def _input(summary: dict) -> str:
    """The input section: size, color and resize as the run's ``data:`` section sets them
    (defaults for keys a config of an older version lacks)."""
    data = (summary.get("config") or {}).get("data") or {}
    size = data.get("image_size")
    shown = "unknown" if size is None else f"{size[0]} rows x {size[1]} cols"
    resize = RESIZES.get(data.get("resize", "squash"), "unknown").format(pad_fill=data.get("pad_fill", 0))
    return (
        f"## Input\n\n- {COLORS.get(data.get('color', 'rgb'), 'unknown')} images of {shown}\n"
        f"- resize: {resize}, by Pillow's antialiased bilinear resize, after turning the image upright by "
        f"its EXIF orientation"
    )


def _use_and_limits(summary: dict) -> str:
    config = summary.get("config") or {}
    names = (
        ["end_to_end"]
        if config.get("mode") == "end_to_end"
        else [f.get("name") for f in config.get("features") or [] if isinstance(f, dict)]
    )
    spots = [f"- {BLIND_SPOTS[name]}" for name in dict.fromkeys(names) if name in BLIND_SPOTS]
    return "\n".join(
        [
            "## Intended use and known limits",
            "",
            "Classifies images like the training images into the classes above; every image gets "
            "one of these classes, however unlike them it is (there is no 'none of these').",
            "Accuracy holds only for images drawn like the validation data.",
            "",
            *spots,
        ]
    )


def refresh_model_card(run_dir: Path) -> None:
    """``write_model_card``, where a card that cannot be written costs a warning, not the run or
    the evaluation that asked for it."""
    from ..errors import ArtifactError
    from ..progress import log

    try:
        write_model_card(run_dir)
    except ArtifactError as exc:
        log.warning("model card not written: %s", exc)
