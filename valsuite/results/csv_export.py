"""The README tables' rows as CSV: same groups, same order, same rounding, one value per column.

Backends keep their recorded names (the markdown's "Vanilla (torch)" is "torch" here).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from valsuite.fileio import atomic_write_text
from valsuite.results.render import measurement_groups
from valsuite.results.tables import COLUMNS, field_values

CONTEXT_COLUMNS = ("machine", "network", "weights", "dataset", "batch_size", "kind")
LABEL_COLUMNS = ("backend", "precision", "device")
FIELDS = tuple(f for _, fields in COLUMNS for f in fields)
CSV_COLUMNS = CONTEXT_COLUMNS + LABEL_COLUMNS + tuple(f.csv for f in FIELDS) + ("error",)


def _value(value, digits: int):
    """Rounded like the markdown, without thousands separators; '' for missing."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return value


def csv_rows(records: list[dict]) -> list[list]:
    rows = []
    for group in measurement_groups(records):
        for record in group.records:
            values = [_value(v, f.digits) for v, f in zip(field_values(record), FIELDS)]
            context = [group.machine, group.network, group.weights, group.dataset, group.batch_size,
                       record.get("kind")]
            labels = [record.get("backend"), record.get("precision"), record.get("device")]
            rows.append(context + labels + values + [record.get("error") or ""])
    return rows


def render_csv(records: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(records))
    return buffer.getvalue()


def write_csv(records: list[dict], path: str | Path) -> Path:
    atomic_write_text(path, render_csv(records))
    return Path(path)
