"""An exponential moving average of the weights (``train.ema``), validated and saved in their place.

After every optimizer step each array of the network's state (parameters and buffers alike) moves
towards the network's:  ``average += (1 - d_t) * (current - average)``, with the decay
``d_t = min(decay, (1 + t) / (10 + t))`` at the t-th update (t = 1, 2, ...). The warm-up of d_t
(TensorFlow's ``ExponentialMovingAverage`` with ``num_updates``) lets a short run's average
forget the random initialization instead of being dominated by it.

Batch-norm running statistics are averaged with the same decay, as timm's ``ModelEmaV2`` does:
they are themselves an average over recent batches under recent weights, so averaging them over
the same window as the weights gives statistics from the same stretch of training, at no extra
forward pass. The average is kept in the network's dtype and saved in the checkpoint with its
update count, so a resumed run continues it bit for bit.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

#: The checkpoint key of the update count beside the averaged arrays (paths are ``<layer>.<name>``).
STEPS = "steps"


class WeightAverage:
    """The averaged state of ``network`` (same keys and shapes as ``network.state_dict()``)."""

    def __init__(self, network, decay: float) -> None:
        self.decay = float(decay)
        self.steps = 0
        self.average = {path: array.copy() for path, array in network.state_dict().items()}

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.steps) / (10 + self.steps))

    def update(self, network) -> None:
        """Move the average towards the network's state after one optimizer step."""
        self.steps += 1
        rate = 1.0 - self.current_decay()
        for path, array in network.state_dict().items():
            average = self.average[path]
            # In place, in the arrays' dtype: one temporary per array, no float64 copy of the weights.
            average += average.dtype.type(rate) * (array - average)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The averaged arrays by path plus ``STEPS``: what a checkpoint keeps."""
        return {**self.average, STEPS: np.array(self.steps, dtype=np.int64)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore from ``state_dict()``; ValueError if the arrays do not match the network's."""
        arrays = {path: value for path, value in state.items() if path != STEPS}
        if STEPS not in state or set(arrays) != set(self.average):
            raise ValueError(
                f"averaged weights differ: expected {sorted(self.average)} and {STEPS}, got {sorted(state)}"
            )
        for path, value in arrays.items():
            if np.shape(value) != self.average[path].shape:
                raise ValueError(f"averaged {path}: expected shape {self.average[path].shape}, got {np.shape(value)}")
        for path, value in arrays.items():
            self.average[path][...] = value
        self.steps = int(state[STEPS])

    @contextmanager
    def applied(self, network):
        """The network holds the averaged weights inside ``with``, its own ones again after."""
        own = {path: array.copy() for path, array in network.state_dict().items()}
        network.load_state_dict(self.average)
        try:
            yield network
        finally:
            network.load_state_dict(own)
