"""Training checkpoints: everything needed to continue a run bit for bit.

One checkpoint file per training run (per fold in k-fold), replaced atomically after every
epoch and when a stop is requested. It holds the weights, the optimizer's velocities, the
weights' moving average (``train.ema``), the best-so-far weights for early stopping, the current
epoch's sample order and position, the random generators' states (shuffle, augment, dropout) and
the history, as arrays plus one JSON string (no pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ArtifactError
from ..fileio import atomic_save_npz


@dataclass
class TrainState:
    """Where a training run is: resuming from it repeats exactly what would have come next."""

    epoch: int = 0  # epochs completed
    position: int = 0  # samples of the current epoch already trained on
    order: np.ndarray | None = None  # the current epoch's sample order, when mid-epoch
    partial: tuple[float, float] = (0.0, 0.0)  # the current epoch's loss sum and correct count
    history: list = field(default_factory=list)
    best_accuracy: float = float("-inf")
    best_epoch: int | None = None
    best_state: dict | None = None
    waited: int = 0
    stopped_early: bool = False
    rng_states: dict = field(default_factory=dict)

    def epoch_order(self) -> np.ndarray:
        """``order``, asked for only while an epoch runs (the trainer sets it as the epoch starts)."""
        if self.order is None:
            raise RuntimeError("TrainState.order: no epoch is in progress")
        return self.order


def save_checkpoint(
    path: Path, state: TrainState, network_state: dict, optimizer_state: dict, average_state: dict | None = None
) -> None:
    arrays = {f"network/{k}": v for k, v in network_state.items()}
    arrays.update({f"ema/{k}": v for k, v in (average_state or {}).items()})
    arrays.update({f"optimizer/{k}": v for k, v in optimizer_state.items()})
    arrays.update({f"best/{k}": v for k, v in (state.best_state or {}).items()})
    if state.order is not None:
        arrays["order"] = state.order
    meta = {
        "epoch": state.epoch,
        "position": state.position,
        "partial": list(state.partial),
        "history": state.history,
        "best_accuracy": state.best_accuracy,
        "best_epoch": state.best_epoch,
        "waited": state.waited,
        "stopped_early": state.stopped_early,
        "rng_states": state.rng_states,
    }
    arrays["state"] = np.array(json.dumps(meta))
    atomic_save_npz(path, arrays)


def load_checkpoint(path: Path) -> tuple[TrainState, dict, dict, dict]:
    """(state, network arrays, optimizer arrays, moving-average arrays (empty without
    ``train.ema``)); ArtifactError if the file is damaged."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        meta = json.loads(str(arrays.pop("state")))
    except Exception as exc:  # zip, JSON and key errors all mean the same: unusable
        raise ArtifactError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
    groups: dict[str, dict[str, np.ndarray]] = {"network": {}, "optimizer": {}, "best": {}, "ema": {}}
    for key, value in arrays.items():
        group, _, name = key.partition("/")
        if group in groups:
            groups[group][name] = value
    state = TrainState(
        epoch=meta["epoch"],
        position=meta["position"],
        order=arrays.get("order"),
        partial=tuple(meta["partial"]),
        history=meta["history"],
        best_accuracy=meta["best_accuracy"],
        best_epoch=meta["best_epoch"],
        best_state=groups["best"] or None,
        waited=meta["waited"],
        stopped_early=meta["stopped_early"],
        rng_states=meta["rng_states"],
    )
    return state, groups["network"], groups["optimizer"], groups["ema"]


def checkpoint_progress(path: Path) -> tuple[int, int]:
    """(epochs completed, samples of the next epoch done) recorded in a checkpoint."""
    state = load_checkpoint(path)[0]
    return state.epoch, state.position
