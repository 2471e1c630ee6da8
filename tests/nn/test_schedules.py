"""Learning-rate schedules: values per epoch."""

import math

import pytest

from mlpcli.nn import SCHEDULES
from mlpcli.nn.schedules import with_warmup


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


def warm(name, warmup, epochs, base_lr=0.1, step_size=2, gamma=0.5):
    schedule = with_warmup(SCHEDULES[name], warmup)
    return [schedule(base_lr, epoch, epochs, step_size, gamma) for epoch in range(epochs)]


def test_warmup_rises_linearly_then_runs_the_schedule_over_the_remaining_epochs():
    # Warmup 3: 0.1 * 1/4, 2/4, 3/4, then the schedule from its own epoch 0 over 5 epochs.
    rising = [0.025, 0.05, 0.075]
    assert warm("constant", 3, 8) == pytest.approx(rising + [0.1] * 5, rel=1e-15)
    assert warm("step", 3, 8) == pytest.approx(rising + [0.1, 0.1, 0.05, 0.05, 0.025], rel=1e-15)
    assert warm("cosine", 3, 8) == pytest.approx(rising + lrs("cosine", 5), rel=1e-15)
    cosine = warm("cosine", 3, 8)
    assert all(later > earlier for earlier, later in zip(cosine[:4], cosine[1:4]))  # rising to base


def test_zero_warmup_is_the_schedule_and_bad_counts_are_refused():
    assert with_warmup(SCHEDULES["cosine"], 0) is SCHEDULES["cosine"]
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="warmup_epochs"):
            with_warmup(SCHEDULES["step"], bad)
