"""``data.format: csv``: a CSV with columns ``path,label[,split]`` naming image files.

Paths are relative to the CSV's folder (absolute ones are kept). A ``split`` column of
``train``/``val``/``test`` fixes the validation split (instead of ``data.val_fraction``); ``test``
rows are left out of training and are what ``evaluate --data`` reads. Cells are stripped, a BOM
and Windows line ends are accepted, blank lines are skipped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .filelist import Files
from .names import PathList

SPLITS = ("train", "val", "test")
REQUIRED = ("path", "label")


@dataclass(frozen=True)
class Row:
    line: int
    path: Path
    label: str
    split: str | None


def read_rows(csv_path: Path) -> list[Row]:
    """The CSV's rows, checked; DataError naming the file, the line and the fix."""
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as handle:
            lines = [(reader.line_num, cells) for reader in [csv.reader(handle)] for cells in reader]
    except FileNotFoundError:
        raise DataError(f"{csv_path}: file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{csv_path}: cannot read as a UTF-8 CSV ({exc})") from None
    lines = [(number, [cell.strip() for cell in cells]) for number, cells in lines if any(c.strip() for c in cells)]
    if not lines:
        raise DataError(f"{csv_path}: empty; expected a header line path,label[,split] and one line per image")
    columns = _columns(csv_path, lines[0][1])
    rows = [_row(csv_path, csv_path.parent, number, cells, columns) for number, cells in lines[1:]]
    if not rows:
        raise DataError(f"{csv_path}: no images listed below the header")
    return rows


def _columns(csv_path: Path, header: list[str]) -> dict[str, int]:
    names = [cell.lower() for cell in header]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise DataError(
            f"{csv_path}: line 1: the header must name the columns path and label (and optionally "
            f"split); got {','.join(header)}"
        )
    return {name: names.index(name) for name in (*REQUIRED, "split") if name in names}


def _row(csv_path: Path, base: Path, number: int, cells: list[str], columns: dict[str, int]) -> Row:
    if len(cells) <= max(columns.values()):
        raise DataError(
            f"{csv_path}: line {number}: expected {len(columns)} cells ({', '.join(columns)}); got {len(cells)}"
        )
    path, label = cells[columns["path"]], cells[columns["label"]]
    if not path or not label:
        raise DataError(f"{csv_path}: line {number}: empty {'path' if not path else 'label'}")
    split = cells[columns["split"]].lower() if "split" in columns else None
    if split is not None and split not in SPLITS:
        raise DataError(
            f"{csv_path}: line {number}: split must be one of {', '.join(SPLITS)}; got {cells[columns['split']]!r}"
        )
    return Row(number, base / Path(path).expanduser(), label, split)


def check_files_exist(csv_path: Path, rows: list[Row]) -> None:
    """DataError listing every row whose file is missing, with its line number."""
    missing = [row for row in rows if not row.path.exists() and not row.path.is_symlink()]
    if not missing:
        return
    listed = "".join(f"\n  line {row.line}: {row.path}" for row in missing[:20])
    more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
    raise DataError(
        f"{csv_path}: {len(missing)} listed file(s) not found:{listed}{more}\npaths are relative "
        f"to the CSV's folder ({csv_path.parent}); fix the paths or remove those lines"
    )


def csv_files(csv_path, rows: list[Row], class_names) -> Files:
    """``rows`` as Files, labels indexing ``class_names`` (rows of other labels left out)."""
    csv_path = Path(csv_path)
    kept = [row for row in rows if row.label in class_names]
    labels = np.array([class_names.index(row.label) for row in kept], dtype=np.int64)
    places = tuple(f"{csv_path} (label {name!r})" for name in class_names)
    val = np.array([row.split == "val" for row in kept], dtype=bool) if kept and kept[0].split else None
    return Files(PathList(row.path for row in kept), labels, tuple(class_names), csv_path.parent, places, val)
