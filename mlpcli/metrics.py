"""Classification metrics from labels and predictions."""

from __future__ import annotations

import numpy as np


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(labels == predicted)) if len(labels) else float("nan")


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 counts; rows are true classes, columns predicted ones."""
    return np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes)


def per_class_report(confusion: np.ndarray, class_names) -> list[dict]:
    """Precision, recall, F1 and support per class; 0 where a ratio is undefined (as scikit-learn)."""
    true_positive = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(actual > 0, true_positive / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return [{"class": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, actual)]


def classification_report(labels: np.ndarray, predicted: np.ndarray, class_names) -> dict:
    """Accuracy, size, per-class precision/recall/F1 and the confusion matrix, as plain data."""
    confusion = confusion_matrix(labels, predicted, len(class_names))
    return {"accuracy": accuracy(labels, predicted), "n": int(len(labels)), "class_names": list(class_names),
            "per_class": per_class_report(confusion, class_names), "confusion": confusion.tolist()}
