"""NEW against OLD on the same labelled images: metrics of each, the paired test, the verdict.

The verdict: ``worse`` when NEW's metric is below OLD's by more than ``max_drop`` points and
the exact McNemar test rejects "equally good" at level ``alpha``; ``cannot tell`` when the drop
is larger than allowed but the test cannot say it is real (too few images, or too few that the
models disagree on); ``ok`` otherwise.
"""

from __future__ import annotations

import numpy as np

from ..metrics import classification_report
from .stats import accuracy_difference, mcnemar_exact, smallest_p

#: The most confidently wrong images the comparison lists.
N_CONFIDENT_WRONG = 5
SUMMARY_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "log_loss", "n")


def compare(
    labels, new_probabilities, old_probabilities, class_names, sources, metric="accuracy", max_drop=0.5, alpha=0.05
) -> dict:
    """labels (n_images,) int64; probabilities (n_images, n_classes) of each model; sources the
    images' paths. Returns plain data: ``new``, ``old`` (metrics), ``paired`` (the test and the
    interval), ``gate`` (the verdict), ``per_class``, ``confusion_changes``, ``confident_wrong``."""
    new_predicted, old_predicted = new_probabilities.argmax(axis=1), old_probabilities.argmax(axis=1)
    new = classification_report(labels, new_predicted, class_names, new_probabilities)
    old = classification_report(labels, old_predicted, class_names, old_probabilities)
    new_right, old_right = new_predicted == labels, old_predicted == labels
    worse, better = int(np.sum(old_right & ~new_right)), int(np.sum(new_right & ~old_right))
    paired = {
        "worse": worse,
        "better": better,
        "p_value": mcnemar_exact(worse, better),
        "accuracy_difference": accuracy_difference(worse, better, len(labels)),
    }
    return {
        "new": {key: new[key] for key in SUMMARY_KEYS},
        "old": {key: old[key] for key in SUMMARY_KEYS},
        "paired": paired,
        "gate": _gate(new, old, paired, metric, max_drop, alpha),
        "per_class": _per_class(new, old),
        "confusion_changes": _confusion_changes(new, old, class_names),
        "confident_wrong": _confident_wrong(labels, new_probabilities, old_predicted, class_names, sources),
    }


def _gate(new: dict, old: dict, paired: dict, metric: str, max_drop: float, alpha: float) -> dict:
    drop = 100 * (old[metric] - new[metric])
    significant = paired["p_value"] < alpha
    verdict = "ok" if drop <= max_drop else "worse" if significant else "cannot tell"
    too_small = smallest_p(new["n"]) >= alpha
    reason = {
        "ok": f"{metric} dropped {max(drop, 0):.2f} points, at most the {max_drop:g} allowed",
        "worse": f"{metric} dropped {drop:.2f} points (> {max_drop:g}) and the drop is real "
        f"(McNemar p = {paired['p_value']:.3g} < {alpha:g})",
        "cannot tell": f"{metric} dropped {drop:.2f} points (> {max_drop:g}) but the test cannot tell "
        f"whether the drop is real (McNemar p = {paired['p_value']:.3g} >= {alpha:g}"
        + (
            f"; {new['n']} images can never show it: use more"
            if too_small
            else f"; {paired['worse'] + paired['better']} images where the models disagree"
        )
        + ")",
    }[verdict]
    return {
        "metric": metric,
        "new": new[metric],
        "old": old[metric],
        "drop_points": drop,
        "max_drop": max_drop,
        "alpha": alpha,
        "verdict": verdict,
        "passed": verdict != "worse",
        "too_small": too_small,
        "reason": reason,
    }


def _per_class(new: dict, old: dict) -> list[dict]:
    """Recall and F1 of each class under each model, and the change in recall."""
    return [
        {
            "class": n["class"],
            "support": n["support"],
            "old_recall": o["recall"],
            "new_recall": n["recall"],
            "recall_change": n["recall"] - o["recall"],
            "old_f1": o["f1"],
            "new_f1": n["f1"],
        }
        for n, o in zip(new["per_class"], old["per_class"])
    ]


def _confusion_changes(new: dict, old: dict, class_names) -> list[dict]:
    """Confusion cells (true, predicted) whose count changed, largest change first."""
    change = np.asarray(new["confusion"]) - np.asarray(old["confusion"])
    cells = [(int(true), int(predicted)) for true, predicted in zip(*np.nonzero(change))]
    cells.sort(key=lambda cell: (-abs(change[cell]), cell))
    return [
        {
            "true": class_names[t],
            "predicted": class_names[p],
            "old": old["confusion"][t][p],
            "new": new["confusion"][t][p],
            "change": int(change[t, p]),
        }
        for t, p in cells
    ]


def _confident_wrong(labels, probabilities, old_predicted, class_names, sources) -> list[dict]:
    """NEW's most confident mistakes: path, true and predicted class, probability, OLD's answer."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:N_CONFIDENT_WRONG]
    return [
        {
            "path": sources[i],
            "true_label": class_names[labels[i]],
            "predicted_label": class_names[predicted[i]],
            "probability": float(probabilities[i, predicted[i]]),
            "old_label": class_names[old_predicted[i]],
        }
        for i in order
    ]
