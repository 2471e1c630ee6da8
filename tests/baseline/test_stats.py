"""The paired statistics against direct computation."""

from __future__ import annotations

import math

import pytest

from mlpcli.baseline.stats import accuracy_difference, mcnemar_exact, smallest_p


def direct_p(worse, better):
    n, k = worse + better, min(worse, better)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


@pytest.mark.parametrize("worse,better", [(0, 10), (10, 0), (3, 3), (1, 9), (12, 30), (200, 260), (0, 0), (5, 0)])
def test_mcnemar_exact_equals_the_binomial_tail(worse, better):
    assert mcnemar_exact(worse, better) == pytest.approx(direct_p(worse, better) if worse + better else 1.0, rel=1e-9)


def test_mcnemar_known_values():
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    assert mcnemar_exact(4, 4) == 1.0
    assert 0 < mcnemar_exact(2000, 2300) < 1e-5  # no overflow on large sets


def test_smallest_p_says_when_a_set_is_too_small():
    assert smallest_p(5) >= 0.05 > smallest_p(6)


def test_accuracy_difference_and_its_interval():
    result = accuracy_difference(worse=10, better=30, n_images=200)
    assert result["difference"] == pytest.approx(0.1)
    half = 1.959963984540054 * math.sqrt((40 / 200 - 0.01) / 200)
    assert (result["low"], result["high"]) == pytest.approx((0.1 - half, 0.1 + half))
    assert accuracy_difference(0, 0, 50) == {"difference": 0.0, "low": 0.0, "high": 0.0}
