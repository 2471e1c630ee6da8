"""The run directory's layout: every file name in it, and where each kind of run keeps what.

This is the only module that spells a run-directory file name; everyone else asks it for paths.

A ``train`` run holds ``config.yaml``, ``metrics.json``, ``history.csv`` and the model bundle
(``model.json`` + ``weights.npz``), plus ``checkpoint.npz`` while it is unfinished. A ``kfold``
run adds ``kfold_plan.json``, ``kfold_split_indices.json``, ``kfold_summary.json`` and
``oof_predictions.npz``, and keeps each fold as a train-like run in ``folds/fold_<i>/``; with
``--grid`` each combination's folds are in ``grid/combo_<j>/fold_<i>/`` instead, and the chosen
combination's config is ``best_config.yaml`` (``config.yaml`` stays the config that was run).

``metrics.json`` says ``"status": "finished"``; a run (train or kfold) that diverged has one
with ``"status": "diverged"``, the epoch and the message instead of scores. While a process
works in a run, ``run.lock`` holds its pid (see ``lock``).
A ``search`` run holds ``config.yaml`` (with its ``search:`` section), ``search_plan.json``, every
unit of work as a train-like run in ``units/t<trial>_f<fold>_e<epochs>/``, ``trials.csv`` and
``search_summary.json`` (rewritten as units arrive), and at the end ``best_config.yaml``, the best
trial as a k-fold run in ``best_trial/`` (its folds in ``best_trial/folds/fold_<i>/``) and the
selected model bundle at the top, written last.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from ..errors import ArtifactError
from ..fileio import refusal
from ..progress import log

CONFIG = "config.yaml"
BEST_CONFIG = "best_config.yaml"
METRICS = "metrics.json"
HISTORY = "history.csv"
MODEL = "model.json"
WEIGHTS = "weights.npz"
ONNX = "model.onnx"
MODEL_CARD = "model_card.md"
CHECKPOINT = "checkpoint.npz"
KFOLD_PLAN = "kfold_plan.json"
KFOLD_SUMMARY = "kfold_summary.json"
SPLIT_INDICES = "kfold_split_indices.json"
OOF_PREDICTIONS = "oof_predictions.npz"
SEARCH_PLAN = "search_plan.json"
SEARCH_SUMMARY = "search_summary.json"
TRIALS = "trials.csv"
UNITS = "units"
BEST_TRIAL = "best_trial"
EVALUATIONS = "evaluations"
PICTURES = "pictures"
LATEST = "latest"
LOCK = "run.lock"

# metrics.json's "status"
FINISHED = "finished"
DIVERGED = "diverged"


def free_name_candidates(folder: Path, stem: str, suffix: str = ""):
    """``folder/stem<suffix>``, then ``stem-2<suffix>`` ... ``stem-999<suffix>``: names to try, in
    order, for a new file or folder that must not replace one (the caller claims or skips each)."""
    for attempt in range(1, 1000):
        yield folder / (stem + (f"-{attempt}" if attempt > 1 else "") + suffix)


def check_new_run_dir(output_dir: str | Path, name: str, out: str | Path | None = None) -> None:
    """The ArtifactError ``new_run_dir`` would raise, raised now, before any image is decoded or
    feature extracted: the run directory is made and removed again (its parents stay)."""
    run_dir = Path(out) if out is not None else Path(output_dir) / f".{_stamp()}-{name}-{os.getpid()}"
    _refuse_used_out(out)
    if run_dir.is_dir():
        run_dir = run_dir / f".mlpcli-probe-{os.getpid()}"  # an empty --out: make something in it
    try:
        run_dir.mkdir(parents=True)
        run_dir.rmdir()
    except OSError as exc:
        remedy = "choose another --out" if out is not None else "set output.dir to a writable folder"
        raise _cannot_create(run_dir if out is None else Path(out), exc, remedy) from None


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _refuse_used_out(out) -> None:
    """ArtifactError if ``--out`` names a file or a folder with files in it."""
    if out is not None and Path(out).exists() and (not Path(out).is_dir() or any(Path(out).iterdir())):
        raise ArtifactError(f"--out {out}: already exists and is not empty; choose a new folder or remove it")


def new_run_dir(output_dir: str | Path, name: str, out: str | Path | None = None) -> Path:
    """Create and return a fresh run directory; never reuses one that has files in it.

    With ``out`` that folder is the run directory; otherwise ``<output_dir>/<timestamp>-<name>``.
    A folder that cannot be made is an ArtifactError naming it and the reason.
    """
    if out is not None:
        run_dir = Path(out)
        _refuse_used_out(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot_create(run_dir, exc, "choose another --out") from None
        return run_dir
    stamp = _stamp()
    for run_dir in free_name_candidates(Path(output_dir), f"{stamp}-{name}"):
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError as exc:
            if run_dir.exists():
                continue  # that name is taken (another run started this second): try the next
            raise _cannot_create(run_dir, exc, "set output.dir to a writable folder") from None
        except OSError as exc:
            raise _cannot_create(run_dir, exc, "set output.dir to a writable folder") from None
    raise ArtifactError(f"{output_dir}: cannot find a free run directory name")


def _cannot_create(run_dir: Path, exc: OSError, remedy: str) -> ArtifactError:
    where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != run_dir else ""
    return ArtifactError(f"cannot create run directory {run_dir}: {refusal(exc)}{where}; {remedy}")


def point_latest(output_dir: str | Path, run_dir: Path) -> None:
    """Make ``<output_dir>/latest`` a symlink to ``run_dir``, replacing the old link atomically.

    Only runs inside ``output_dir`` become ``latest``: a run written elsewhere with ``--out``
    (a benchmark's temporary folder, say) leaves the user's ``latest`` alone. The run is complete
    by now, so a folder that refuses the link costs only a warning.
    """
    output_dir = Path(output_dir)
    if not run_dir.resolve().is_relative_to(output_dir.resolve()):
        return
    link = output_dir / LATEST
    if link.exists() and not link.is_symlink():
        return  # a real folder named "latest" belongs to the user; leave it alone
    tmp = output_dir / f".{LATEST}.{os.getpid()}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.path.relpath(run_dir.resolve(), output_dir.resolve()))
        os.replace(tmp, link)
    except OSError as exc:
        log.warning("could not point %s at %s: %s", link, run_dir, refusal(exc))


def fold_dirs(run_dir: Path, k: int, n_combos: int = 1) -> list[list[Path]]:
    """Where each (combination, fold) model is saved: ``[combo][fold] -> folder``."""

    def base(combo: int) -> Path:
        return run_dir / "folds" if n_combos == 1 else run_dir / "grid" / f"combo_{combo + 1}"

    return [[base(combo) / f"fold_{fold + 1}" for fold in range(k)] for combo in range(n_combos)]


def unit_dir(run_dir: Path, trial: int, fold: int, epochs: int) -> Path:
    """Where a search unit (0-based ``trial`` and ``fold``, trained ``epochs``) is saved."""
    return run_dir / UNITS / f"t{trial + 1}_f{fold + 1}_e{epochs}"


def selected_fold_dirs(run_dir: Path) -> list[Path]:
    """The saved fold folders of a k-fold run's selected combination, in fold order.

    A plain k-fold run has one combination (``folds/``); a grid run's summary names the chosen
    one (``best_combo``). Folders that do not exist (yet) are left out.
    """
    if (run_dir / BEST_TRIAL).is_dir():  # a search: the best trial is a k-fold run
        run_dir = run_dir / BEST_TRIAL
    base = run_dir / "folds"
    if (run_dir / "grid").is_dir():
        summary = read_json(run_dir / KFOLD_SUMMARY) or {}
        combo = summary.get("best_combo") if isinstance(summary, dict) else None
        if not isinstance(combo, int):
            return []
        base = run_dir / "grid" / f"combo_{combo}"
    found = [p for p in base.glob("fold_*") if p.is_dir() and p.name[5:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def is_finished(directory: Path) -> bool:
    """True once a run (or fold) has its model bundle: the bundle is written last."""
    return (directory / MODEL).is_file()


def divergence(run_dir: Path) -> dict | None:
    """``{"epoch", "message"}`` of a run that stopped because training diverged, else None."""
    try:
        metrics = read_json(run_dir / METRICS)
    except ArtifactError:
        return None
    if isinstance(metrics, dict) and metrics.get("status") == DIVERGED:
        return {"epoch": metrics.get("epoch"), "message": metrics.get("message")}
    return None


def unfinished(run_dir: Path) -> dict | None:
    """How far an interrupted ``train`` or ``kfold`` run got and how to resume it, or None for a
    finished or diverged run or a folder that is not a run."""
    if is_finished(run_dir) or not (run_dir / CONFIG).is_file() or divergence(run_dir) is not None:
        return None
    resume = f"mlpcli {{}} --resume {run_dir}"
    if (run_dir / SEARCH_PLAN).is_file():
        done = sum(is_finished(folder) for folder in (run_dir / UNITS).glob("t*_f*_e*"))
        return {"command": "search", "units_finished": done, "resume": resume.format("search")}
    if (run_dir / KFOLD_PLAN).is_file():
        plan = read_json(run_dir / KFOLD_PLAN) or {}
        done = sum(is_finished(folder) for folder in (run_dir / "folds").glob("fold_*"))
        done += sum(is_finished(folder) for folder in (run_dir / "grid").glob("combo_*/fold_*"))
        return {"command": "kfold", "folds_finished": done, "k": plan.get("k"), "resume": resume.format("kfold")}
    if (run_dir / CHECKPOINT).is_file():
        from ..train.checkpoint import checkpoint_progress

        epoch, position = checkpoint_progress(run_dir / CHECKPOINT)
        return {"command": "train", "epoch": epoch + 1, "sample": position, "resume": resume.format("train")}
    return None


def resume_config_path(run_dir: str | Path, command: str) -> Path:
    """The ``config.yaml`` of an unfinished ``train`` or ``kfold`` run; says clearly why a folder
    cannot be resumed."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ArtifactError(f"--resume {run_dir}: no such run directory")
    if is_finished(run_dir):
        raise ArtifactError(f"--resume {run_dir}: this run already finished (its {MODEL} is there); nothing to resume")
    if not (run_dir / CONFIG).is_file():
        raise ArtifactError(f"--resume {run_dir}: {CONFIG} is missing, so this is not a resumable run")
    diverged = divergence(run_dir)
    if diverged is not None:
        raise ArtifactError(
            f"--resume {run_dir}: this run diverged ({diverged['message']}), and resuming "
            f"would diverge again; start a new run with a lower train.lr"
        )
    if command == "train" and not (run_dir / CHECKPOINT).is_file():
        raise ArtifactError(
            f"--resume {run_dir}: no {CHECKPOINT} (the run stopped before its first "
            f"checkpoint); start it again with: mlpcli train --config {run_dir / CONFIG}"
        )
    if command == "kfold" and not (run_dir / KFOLD_PLAN).is_file():
        raise ArtifactError(f"--resume {run_dir}: {KFOLD_PLAN} is missing, so this is not a k-fold run")
    if command == "search" and not (run_dir / SEARCH_PLAN).is_file():
        raise ArtifactError(f"--resume {run_dir}: {SEARCH_PLAN} is missing, so this is not a search run")
    return run_dir / CONFIG


def read_json(path: Path):
    """The parsed file, or None if it does not exist; ArtifactError if it is unreadable."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"{path}: unreadable ({exc})") from None
