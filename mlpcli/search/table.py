"""The search's live table on stderr: trial, params, folds done, mean accuracy so far.

In a terminal the table is redrawn in place after every finished unit (the best trials first);
otherwise (CI, a pipe, a log file) each finished unit is one log line. ``-q`` silences both.
"""

from __future__ import annotations

import logging
import math
import sys

import numpy as np

from ..progress import log

#: Trials shown in the terminal table; the rest are counted in its last line.
SHOWN = 12


def format_params(params: dict, digits: int | None = 4) -> str:
    """``train.lr=0.00123 model.hidden=[64, 32]``: floats (in lists too) to ``digits`` significant
    digits, or as given with None. k-fold's grid, search's trials and ``show`` all print them so."""
    return " ".join(f"{key}={_value(value, digits)}" for key, value in params.items())


def _value(value, digits: int | None) -> str:
    if digits is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(item, digits) for item in value) + "]"
    return str(value)


class LiveTable:
    """Fed one ``update`` per finished unit (including units reused from disk on resume)."""

    def __init__(self, params: list[dict], k: int, total_units: int, stream=None) -> None:
        self.params, self.k, self.total = params, k, total_units
        self.stream = stream if stream is not None else sys.stderr
        self.scores: dict[int, dict[int, list[float]]] = {}  # trial -> epochs -> fold accuracies
        self.n_done = 0
        self._drawn = 0

    @property
    def enabled(self) -> bool:
        return log.isEnabledFor(logging.INFO)

    def update(
        self, trial: int, fold: int, epochs: int, accuracy: float, seconds: float, worker: str, reused: bool = False
    ) -> None:
        self.scores.setdefault(trial, {}).setdefault(epochs, []).append(accuracy)
        self.n_done += 1
        if not self.enabled:
            return
        if self.stream.isatty():
            self._redraw()
            return
        done, mean = self._progress(trial, epochs)
        how = "reused from disk" if reused else f"{seconds:.1f}s on {worker}"
        log.info(
            "unit %d/%d: trial %d fold %d/%d (%d epochs) val_acc %.4f (%s) | trial %d: %d/%d folds, mean %.4f | %s",
            self.n_done,
            self.total,
            trial + 1,
            fold + 1,
            self.k,
            epochs,
            accuracy,
            how,
            trial + 1,
            done,
            self.k,
            mean,
            format_params(self.params[trial]),
        )

    def _progress(self, trial: int, epochs: int) -> tuple[int, float]:
        accuracies = self.scores[trial][epochs]
        return len(accuracies), float(np.mean(accuracies))

    def _rows(self) -> list[tuple]:
        """(trial, epochs, folds done, mean so far) at each trial's largest budget, best first."""
        rows = []
        for trial, budgets in self.scores.items():
            epochs = max(budgets)
            done, mean = self._progress(trial, epochs)
            rows.append((trial, epochs, done, mean))
        return sorted(rows, key=lambda r: (-r[1], -r[3] if math.isfinite(r[3]) else math.inf, r[0]))

    def _redraw(self) -> None:
        rows = self._rows()
        lines = [f"{'trial':>5}  {'epochs':>6}  {'folds':>5}  {'mean':>6}  params"]
        lines += [
            f"{trial + 1:>5}  {epochs:>6}  {done:>2}/{self.k:<2}  {mean:6.4f}  {format_params(self.params[trial])}"
            for trial, epochs, done, mean in rows[:SHOWN]
        ]
        lines.append(
            f"{self.n_done}/{self.total} units done"
            + (f", {len(rows) - SHOWN} more trials not shown" if len(rows) > SHOWN else "")
        )
        # Back to the table's first line, clear to the end of the screen, draw it again.
        prefix = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        self.stream.write(prefix + "\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)
