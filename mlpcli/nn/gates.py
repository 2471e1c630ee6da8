"""The lecture's computational-graph gates, so its backprop rules are code that tests check.

Each gate works on scalars, or element-wise on arrays of one shape. ``forward`` keeps what
``backward`` needs; ``backward(upstream)`` returns a tuple with one downstream gradient per input:
upstream gradient x local gradient. The last node of a graph gets the upstream gradient 1.
"""

from __future__ import annotations

import numpy as np


class Add:
    """x + y. Add distributes: each input gets the upstream gradient unchanged."""

    def forward(self, x, y):
        return x + y

    def backward(self, upstream):
        return upstream, upstream


class Mul:
    """x * y. Mul swaps: each input gets the other input times the upstream gradient."""

    def forward(self, x, y):
        self._x, self._y = x, y
        return x * y

    def backward(self, upstream):
        return self._y * upstream, self._x * upstream


class Copy:
    """x -> (x, x, ...). Copy (fan-out) sums: the input gets the sum of its outputs' gradients."""

    def forward(self, x, n_outputs: int = 2):
        return (x,) * n_outputs

    def backward(self, *upstreams):
        return (sum(upstreams[1:], upstreams[0]),)


class Max:
    """max(x, y). Max routes the gradient to the winner, 0 to the other; on a tie both get it."""

    def forward(self, x, y):
        self._x, self._y = x, y
        return np.maximum(x, y)

    def backward(self, upstream):
        # Ties give both inputs the full gradient, as the lecture states (not a subgradient split).
        return upstream * (self._x >= self._y), upstream * (self._y >= self._x)


class Sigmoid:
    """s(x) = 1 / (1 + exp(-x)); local gradient s(x) (1 - s(x)), computed from the output alone."""

    def forward(self, x):
        # tanh form: the same function, but exp never overflows for large |x|.
        self._s = 0.5 * (1 + np.tanh(0.5 * np.asarray(x)))
        return self._s

    def backward(self, upstream):
        return (upstream * self._s * (1 - self._s),)
