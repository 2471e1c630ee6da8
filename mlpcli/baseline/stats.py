"""Paired statistics of two classifiers scored on the same images, without scipy.

Each image is a pair (OLD right?, NEW right?). Only the discordant pairs say anything about
which model is better: ``worse`` images OLD got right and NEW wrong, ``better`` the reverse.
"""

from __future__ import annotations

import math

#: z of a two-sided 95% normal interval.
Z_95 = 1.959963984540054


def mcnemar_exact(worse: int, better: int) -> float:
    """Two-sided exact McNemar p-value: under "the models are equally good" each discordant pair
    goes either way with probability 1/2, so min(worse, better) ~ Binomial(worse + better, 1/2)
    and p = 2 P(X <= min), at most 1; 1 when there is no discordant pair.

    The binomial terms are summed in log space (lgamma), so thousands of pairs do not overflow.
    """
    n = worse + better
    if n == 0:
        return 1.0
    logs = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
        for i in range(min(worse, better) + 1)
    ]
    top = max(logs)
    return min(1.0, 2 * math.exp(top) * sum(math.exp(value - top) for value in logs))


def smallest_p(n_images: int) -> float:
    """The smallest p-value ``n_images`` pairs can give (every one discordant the same way): when
    it is not below the level, no drop on this set could ever be shown to be real."""
    return min(1.0, 2 * 0.5**n_images)


def accuracy_difference(worse: int, better: int, n_images: int) -> dict:
    """NEW's accuracy minus OLD's, (better - worse) / n, with its paired 95% interval (Wald:
    the variance of the per-image difference of correctness is (better + worse)/n - diff^2)."""
    if n_images == 0:
        return {"difference": None, "low": None, "high": None}
    difference = (better - worse) / n_images
    variance = max(0.0, (better + worse) / n_images - difference**2) / n_images
    half = Z_95 * math.sqrt(variance)
    return {"difference": difference, "low": difference - half, "high": difference + half}
