"""Evaluation metrics against hand-computed values (and scikit-learn when it is installed)."""

import math

import numpy as np
import pytest

from mlpcli.metrics import balanced_accuracy, classification_report, confusion_matrix, log_loss, macro_f1, quality_gate

# Three classes seen, plus a fourth the model knows but the data never shows nor gets predicted.
LABELS = np.array([0, 0, 0, 1, 1, 2])
PREDICTED = np.array([0, 0, 1, 1, 0, 0])
CLASSES = ("a", "b", "c", "d")
# Rows sum to 1; the true class gets 0.5, 0.8, 0.25, 0.5, 0 and 0.125.
PROBABILITIES = np.array(
    [[0.5, 0.5, 0, 0], [0.8, 0.2, 0, 0], [0.25, 0.75, 0, 0], [0.5, 0.5, 0, 0], [1.0, 0.0, 0, 0], [0.875, 0, 0.125, 0]]
)


def test_confusion_by_hand():
    assert confusion_matrix(LABELS, PREDICTED, 4).tolist() == [[2, 1, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]


def test_balanced_accuracy_by_hand():
    # recalls: a 2/3, b 1/2, c 0/1; d has no images and is left out.
    confusion = confusion_matrix(LABELS, PREDICTED, 4)
    assert balanced_accuracy(confusion) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)  # 7/18


def test_macro_f1_by_hand():
    # precision a 2/4, b 1/2, c 0; F1 a = 2 * 1/2 * 2/3 / (1/2 + 2/3) = 4/7, b 1/2, c 0; d is absent.
    assert macro_f1(confusion_matrix(LABELS, PREDICTED, 4)) == pytest.approx((4 / 7 + 1 / 2 + 0) / 3)  # 5/14


def test_log_loss_by_hand_with_the_zero_clipped():
    # -ln of 0.5, 0.8, 0.25, 0.5, 1e-15 (the clipped 0) and 0.125, averaged.
    expected = (math.log(2) - math.log(0.8) + math.log(4) + math.log(2) + 15 * math.log(10) + math.log(8)) / 6
    assert log_loss(LABELS, PROBABILITIES) == pytest.approx(expected, rel=1e-12)
    assert log_loss(LABELS, PROBABILITIES.astype(np.float32)) == pytest.approx(expected, rel=1e-6)


def test_majority_answer_scores_one_over_n_classes_balanced():
    labels = np.array([0] * 8 + [1, 2])
    confusion = confusion_matrix(labels, np.zeros(10, np.int64), 3)
    assert balanced_accuracy(confusion) == pytest.approx(1 / 3)
    assert macro_f1(confusion) == pytest.approx((2 * 0.8 / 1.8) / 3)  # a: precision 0.8, recall 1


def test_report_has_every_metric():
    report = classification_report(LABELS, PREDICTED, CLASSES, PROBABILITIES)
    assert report["accuracy"] == 0.5 and report["n"] == 6
    assert report["balanced_accuracy"] == pytest.approx(7 / 18) and report["macro_f1"] == pytest.approx(5 / 14)
    assert report["log_loss"] == pytest.approx(log_loss(LABELS, PROBABILITIES))
    assert classification_report(LABELS, PREDICTED, CLASSES)["log_loss"] is None


@pytest.mark.parametrize("metric, passed", [("accuracy", True), ("balanced_accuracy", False), ("macro_f1", False)])
def test_quality_gate_uses_the_chosen_metric(metric, passed):
    report = classification_report(LABELS, PREDICTED, CLASSES, PROBABILITIES)
    gate = quality_gate(report, metric, 0.5)
    assert gate == {"metric": metric, "threshold": 0.5, "value": report[metric], "passed": passed}
    assert quality_gate({"accuracy": float("nan")}, "accuracy", 0.0)["passed"] is False


def test_against_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=200)
    scores = rng.standard_normal((200, 5)) + 2 * np.eye(5)[labels]
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    predicted = probabilities.argmax(axis=1)
    predicted[:20] = 4  # make some classes over-predicted
    confusion = confusion_matrix(labels, predicted, 6)  # a sixth class nobody has
    assert balanced_accuracy(confusion) == pytest.approx(sklearn_metrics.balanced_accuracy_score(labels, predicted))
    assert macro_f1(confusion) == pytest.approx(sklearn_metrics.f1_score(labels, predicted, average="macro"))
    assert log_loss(labels, probabilities) == pytest.approx(
        sklearn_metrics.log_loss(labels, probabilities, labels=range(5))
    )


def test_per_class_precision_and_recall_by_hand():
    """Fails if precision and recall swap axes (precision = tp / actual) or support counts predictions.

    Columns of the confusion are predictions: a is predicted 4 times (2 right), b twice (1 right),
    c and d never; a has 3 images (2 found), b 2 (1 found), c 1 (none found), d none."""
    report = classification_report(LABELS, PREDICTED, CLASSES, PROBABILITIES)["per_class"]
    assert [row["class"] for row in report] == list(CLASSES)
    assert [row["precision"] for row in report] == pytest.approx([2 / 4, 1 / 2, 0, 0])
    assert [row["recall"] for row in report] == pytest.approx([2 / 3, 1 / 2, 0, 0])
    assert [row["f1"] for row in report] == pytest.approx([4 / 7, 1 / 2, 0, 0])
    assert [row["support"] for row in report] == [3, 2, 1, 0]


def test_per_class_report_against_scikit_learn():
    """scikit-learn is in the ``test`` extra, so this runs in CI (it skips only in a bare install)."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, size=200)
    predicted = np.where(rng.random(200) < 0.6, labels, rng.integers(0, 5, size=200))
    predicted[:15] = 3  # over-predict one class so precision and recall differ
    report = classification_report(labels, predicted, tuple("abcdef"))["per_class"]
    precision, recall, f1, support = sklearn_metrics.precision_recall_fscore_support(
        labels, predicted, labels=range(6), zero_division=0
    )
    assert [row["precision"] for row in report] == pytest.approx(precision.tolist())
    assert [row["recall"] for row in report] == pytest.approx(recall.tolist())
    assert [row["f1"] for row in report] == pytest.approx(f1.tolist())
    assert [row["support"] for row in report] == support.tolist()
