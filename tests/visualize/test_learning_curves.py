"""The learning-curves picture with validation every few epochs (train.val_every): the epochs
without validation hold nan, and the dashed validation line must run through the validated
epochs, not vanish into gaps between isolated points."""

import math

import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure

from mlpcli.visualize.plots import _plot_history


def rows(validated):
    return [
        {
            "epoch": epoch,
            "lr": 0.1,
            "train_loss": 1.0 / epoch,
            "train_accuracy": 0.5,
            "val_loss": 2.0 / epoch if epoch in validated else math.nan,
            "val_accuracy": 0.1 * epoch if epoch in validated else math.nan,
        }
        for epoch in range(1, 8)
    ]


def drawn(history):
    panels = Figure().subplots(1, 3)
    _plot_history(panels, "run", history, "C0")
    loss_axes, accuracy_axes, _ = panels
    return loss_axes.get_lines(), accuracy_axes.get_lines()


def test_sparse_validation_is_one_marked_line_through_the_validated_epochs():
    for lines in drawn(rows({3, 6, 7})):
        train, validation = lines
        assert list(train.get_xdata()) == list(range(1, 8))
        assert list(validation.get_xdata()) == [3, 6, 7]
        assert validation.get_linestyle() == "--" and validation.get_marker() == "o"


def test_validation_every_epoch_is_a_plain_dashed_line_and_none_draws_nothing():
    for lines in drawn(rows(set(range(1, 8)))):
        assert list(lines[1].get_xdata()) == list(range(1, 8)) and lines[1].get_marker() in (None, "None", "")
    assert all(len(lines) == 1 for lines in drawn(rows(set())))
