"""Predictions as a table: one row per image, ``path, label, probability`` then
``label_2, probability_2`` ... for the next most probable classes, as TSV, CSV or JSON lines.

A prediction is ``{"path", "label", "probability", "top_k": [{"label", "probability"}, ...]}``
(``commands.run_predict``).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .errors import MlpcliError
from .fileio import write_text


def header(k: int) -> list[str]:
    """``path, label, probability`` and a label/probability pair per further rank up to ``k``."""
    columns = ["path", "label", "probability"]
    for rank in range(2, k + 1):
        columns += [f"label_{rank}", f"probability_{rank}"]
    return columns


def rows(predictions: list[dict]) -> list[list[str]]:
    """The header, then one row of strings per prediction (probabilities with 6 decimals)."""
    k = max((len(item["top_k"]) for item in predictions), default=1)
    table = [header(k)]
    for item in predictions:
        row = [item["path"]]
        for ranked in item["top_k"]:
            row += [ranked["label"], f"{ranked['probability']:.6f}"]
        table.append(row)
    return table


def delimited(predictions: list[dict], delimiter: str) -> str:
    """The table as text, quoted as the csv module does (a field holding the delimiter is quoted)."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows(predictions))
    return buffer.getvalue()


def json_lines(predictions: list[dict]) -> str:
    """One JSON object per line, the predictions as ``--json`` gives them."""
    return "".join(json.dumps(item, allow_nan=False) + "\n" for item in predictions)


#: ``--output`` file suffix -> how the table is written; the keys are the allowed suffixes.
FORMATS = {".tsv": lambda p: delimited(p, "\t"), ".csv": lambda p: delimited(p, ","), ".jsonl": json_lines}


def write(path: str | Path, predictions: list[dict]) -> Path:
    """Write the table to ``path`` atomically, in the format its suffix names (one of FORMATS)."""
    path = Path(path)
    try:
        write_text(path, FORMATS[path.suffix.lower()](predictions))
    except OSError as exc:
        raise MlpcliError(f"--output {path}: cannot write the file ({exc.strerror or exc})") from None
    return path
