"""Saving an ``mlpcli evaluate`` report into a run's ``evaluations/`` (``show`` reads the latest)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from ..errors import ArtifactError
from ..fileio import json_clean, write_json
from .model_card import refresh_model_card
from .rundir import EVALUATIONS, free_name_candidates


def save_evaluation(run_dir, report: dict, data=None) -> Path:
    """Write ``report`` (from ``mlpcli evaluate``) to
    ``<run_dir>/evaluations/<timestamp>-<data name>.json`` atomically; never overwrites one.

    ``data`` is the evaluated data path (recorded in the file and used for its name).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ArtifactError(f"{run_dir}: no such run directory to save the evaluation in")
    now = datetime.now()
    data = data if data is not None else report.get("data")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(data)).resolve().name if data else "") or "data"
    folder = run_dir / EVALUATIONS
    stem = f"{now.strftime('%Y%m%d-%H%M%S')}-{name}"
    path = next((p for p in free_name_candidates(folder, stem, ".json") if not p.exists()), None)
    if path is None:
        raise ArtifactError(f"{folder}: cannot find a free name for {stem}.json; remove old evaluations")
    write_json(
        path,
        json_clean(
            {**report, "data": None if data is None else str(data), "saved_at": now.isoformat(timespec="seconds")}
        ),
    )
    refresh_model_card(run_dir)
    return path
