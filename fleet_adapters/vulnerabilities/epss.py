"""FIRST's EPSS scores (``epss_scores-current.csv.gz``): a ``#model_version:...,score_date:...``
comment line, the header ``cve,epss,percentile``, then one row per CVE."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

EPSS_NAME = "epss_scores-current.csv.gz"


def read_epss(path: Path) -> dict[str, float]:
    """The EPSS probability of each CVE in the file.

    Raises:
        ValueError: not a gzip CSV in FIRST's shape.
    """
    scores: dict[str, float] = {}
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as stream:
            lines = (line for line in stream if not line.startswith("#"))
            reader = csv.reader(lines)
            header = next(reader, None)
            if header is None or [column.strip() for column in header[:2]] != ["cve", "epss"]:
                raise ValueError(f"{path.name}: no cve,epss,percentile header")
            for row in reader:
                if len(row) >= 2 and row[0].startswith("CVE-"):
                    scores[row[0]] = float(row[1])
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, io.UnsupportedOperation) as exc:
        raise ValueError(f"{path.name}: not an EPSS scores file ({exc})") from exc
    return scores
