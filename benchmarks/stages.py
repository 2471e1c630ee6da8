"""Where a training step's time goes: wall time per stage of mlpcli's step, for the benchmarks.

``StageClock`` wraps each layer's forward and backward, the loss and the optimizer's step of one
network (instance attributes: nothing in mlpcli changes), and the batch gather of the training
loop, and adds up the wall time each takes. ``breakdown`` turns that into the four stages an
epoch is made of:

  products      the step's matrix products timed alone at their shapes (warm, back to back),
                times the number of steps: what the epoch would cost if nothing else ran;
  element_wise  the rest of the time inside layers, loss and optimizer: activations, pooling,
                im2col copies, the update, softmax, plus whatever the products lose inside the
                loop compared with alone (cache misses after the element-wise passes);
  gather        gathering (and standardizing, when X is not standardized once) the minibatch;
  python        what no wrapped call accounts for: the loop itself, slicing, progress bar.

Not a benchmark itself; train_speed.py and conv_speed.py import it. The wrappers add a few
microseconds per call (counted in the stages they wrap).
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager


class StageClock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def _timed(self, name: str, fn):
        seconds = self.seconds

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - start

        return timed

    def wrap_network(self, network) -> None:
        """Time every layer's forward and backward, keyed ``<Layer type>.<pass>``."""
        for layer in network.layers:
            kind = type(layer).__name__
            layer.forward = self._timed(f"{kind}.forward", layer.forward)
            layer.backward = self._timed(f"{kind}.backward", layer.backward)

    def wrap_optimizer(self, optimizer) -> None:
        optimizer.step = self._timed("optimizer", optimizer.step)

    def timed_function(self, name: str, fn):
        return self._timed(name, fn)

    @contextmanager
    def patched(self, module, attribute: str, name: str):
        """Time ``module.attribute`` (a function) under ``name`` while the block runs."""
        original = getattr(module, attribute)
        setattr(module, attribute, self._timed(name, original))
        try:
            yield
        finally:
            setattr(module, attribute, original)

    def reset(self) -> None:
        self.seconds.clear()


def breakdown(seconds: dict[str, float], total: float, products_alone: float, gather_keys=("gather",)) -> dict:
    """The four stages (seconds) of ``total`` wall seconds, from a StageClock's sums and the
    products' seconds alone over the same steps; with the raw sums for reference."""
    gather = sum(seconds.get(key, 0.0) for key in gather_keys)
    inside = sum(value for key, value in seconds.items() if key not in gather_keys)
    stages = {
        "products": products_alone,
        "element_wise": inside - products_alone,
        "gather": gather,
        "python": total - inside - gather,
    }
    return {
        "seconds": stages,
        "fractions": {key: value / total for key, value in stages.items()},
        "timed_calls_seconds": dict(sorted(seconds.items(), key=lambda item: -item[1])),
        "total_seconds": total,
    }
