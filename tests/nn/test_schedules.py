"""Learning-rate schedules: values per epoch."""

import math

import pytest

from mlpcli.nn import SCHEDULES


def lrs(name, epochs, base_lr=0.1, step_size=3, gamma=0.5):
    return [SCHEDULES[name](base_lr, epoch, epochs, step_size, gamma) for epoch in range(epochs)]


def test_registry():
    assert set(SCHEDULES) == {"constant", "step", "cosine"}


def test_constant():
    assert lrs("constant", 5) == [0.1] * 5


def test_step_multiplies_by_gamma_every_step_size_epochs():
    assert lrs("step", 8) == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025], rel=1e-15)
    assert lrs("step", 3, step_size=1, gamma=0.1) == pytest.approx([0.1, 0.01, 0.001], rel=1e-12)


def test_cosine_starts_at_base_decreases_and_stays_positive():
    values = lrs("cosine", 10)
    assert values[0] == 0.1
    assert all(later < earlier for earlier, later in zip(values, values[1:]))
    assert values[-1] > 0
    assert values[5] == pytest.approx(0.05, rel=1e-12)  # half way: half the base
    # lr = base * (1 + cos(pi * epoch / epochs)) / 2
    assert values[3] == pytest.approx(0.05 * (1 + math.cos(math.pi * 0.3)), rel=1e-15)
    assert SCHEDULES["cosine"](0.1, 10, 10, 3, 0.5) == pytest.approx(0.0, abs=1e-17)
