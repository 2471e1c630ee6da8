"""Classification metrics from labels, predictions and probabilities, and the quality gate."""

from __future__ import annotations

import numpy as np

#: Probabilities are clipped to [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS] before the log, as scikit-learn
#: did, so one confident mistake costs about 34.5 instead of infinity.
LOG_LOSS_EPS = 1e-15


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(labels == predicted)) if len(labels) else float("nan")


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 counts; rows are true classes, columns predicted ones."""
    return np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _ratios(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1, each (n_classes,); 0 where a ratio is undefined."""
    true_positive = np.diag(confusion).astype(np.float64)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(actual > 0, true_positive / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1


def per_class_report(confusion: np.ndarray, class_names) -> list[dict]:
    """Precision, recall, F1 and support per class; 0 where a ratio is undefined (as scikit-learn)."""
    precision, recall, f1 = _ratios(confusion)
    return [
        {"class": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(class_names, precision, recall, f1, confusion.sum(axis=1))
    ]


def balanced_accuracy(confusion: np.ndarray) -> float:
    """Mean recall over the classes that occur in the labels (scikit-learn's balanced_accuracy_score):
    a classifier that always answers the majority class scores 1 / n_classes, not its share."""
    present = confusion.sum(axis=1) > 0
    return float(_ratios(confusion)[1][present].mean()) if present.any() else float("nan")


def macro_f1(confusion: np.ndarray) -> float:
    """Unweighted mean F1 over the classes that occur in the labels or the predictions (scikit-learn's
    f1_score(average="macro")); a model class absent from both does not count as a zero."""
    present = (confusion.sum(axis=1) > 0) | (confusion.sum(axis=0) > 0)
    return float(_ratios(confusion)[2][present].mean()) if present.any() else float("nan")


def log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean negative log probability of the true class; ``probabilities`` (n_samples, n_classes)."""
    if not len(labels):
        return float("nan")
    true_class = probabilities[np.arange(len(labels)), labels].astype(np.float64)
    return float(-np.log(np.clip(true_class, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)).mean())


def classification_report(
    labels: np.ndarray, predicted: np.ndarray, class_names, probabilities: np.ndarray | None = None
) -> dict:
    """Accuracy, balanced accuracy, macro-F1, log-loss (None without ``probabilities``), size,
    per-class precision/recall/F1 and the confusion matrix, as plain data."""
    confusion = confusion_matrix(labels, predicted, len(class_names))
    return {
        "accuracy": accuracy(labels, predicted),
        "balanced_accuracy": balanced_accuracy(confusion),
        "macro_f1": macro_f1(confusion),
        "log_loss": None if probabilities is None else log_loss(labels, probabilities),
        "n": int(len(labels)),
        "class_names": list(class_names),
        "per_class": per_class_report(confusion, class_names),
        "confusion": confusion.tolist(),
    }


def quality_gate(report: dict, metric: str, threshold: float) -> dict:
    """{"metric", "threshold", "value", "passed"}: passed when the report's ``metric`` is at least
    ``threshold`` (an undefined value never passes)."""
    value = report[metric]
    return {
        "metric": metric,
        "threshold": threshold,
        "value": value,
        "passed": bool(value == value and value >= threshold),
    }
