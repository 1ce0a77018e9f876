"""The run record schema (JSON) and its atomic storage.

A record is a plain dict so that it survives any Python version and any tool; this module is the
one place that says which keys it has. Bump SCHEMA_VERSION when a key changes meaning.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from pathlib import Path

import numpy as np

from valsuite.errors import ValsuiteError
from valsuite.fileio import atomic_write_json, read_json

SCHEMA_VERSION = 1
RESULTS_DIR = Path("outputs") / "results"
KINDS = ("validation", "benchmark", "compare", "failure")
# files written beside a record that are not records themselves (compare's list of changed images)
COMPANION_SUFFIXES = ("_top1_changed.json",)

# keys every validation/benchmark record has (None where a value does not apply, e.g. prec1 on
# synthetic input); compare and failure records have their own extra keys.
REQUIRED_KEYS = (
    "schema_version", "kind", "run_id", "created_utc", "network", "weights", "backend", "precision",
    "device", "batch_size", "num_images", "prec1", "prec5", "latency_all_ms", "latency_model_ms",
    "throughput_img_s", "model_size_mb", "num_layers", "num_params", "dataset", "environment",
)
LATENCY_KEYS = ("mean", "max", "p50", "p90", "p99", "count")


def latency_stats(samples_ms, percentiles=None) -> dict:
    """mean / max / std / cv / p50 / p90 / p99 (and any other percentiles) of latencies in ms."""
    from valsuite.evaluate.timing import DEFAULT_PERCENTILES, latency_stats as stats

    return stats(samples_ms, percentiles or DEFAULT_PERCENTILES)


def new_record(kind: str, **fields) -> dict:
    """A record with the common header filled in; callers add the measured fields."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind}")
    record = {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "run_id": uuid.uuid4().hex[:12],
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    record.update(fields)
    return record


_NUMBER = (int, float)
_TEXT = (str,)
# type of each field renderers read; None is allowed where a value may not apply (no accuracy on
# synthetic input, no latency when nothing was timed). bool is never a number here.
FIELD_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    "schema_version": ((int,), False), "kind": (_TEXT, False), "run_id": (_TEXT, False),
    "created_utc": (_TEXT, False), "network": (_TEXT, False), "weights": (_TEXT, True),
    "backend": (_TEXT, False), "precision": (_TEXT, False), "device": (_TEXT, False),
    "batch_size": ((int,), False), "num_images": ((int,), False), "prec1": (_NUMBER, True),
    "prec5": (_NUMBER, True), "throughput_img_s": (_NUMBER, True), "model_size_mb": (_NUMBER, True),
    "num_layers": ((int,), True), "num_params": ((int,), True), "dataset": ((dict,), True),
    "environment": ((dict,), True), "e2e_throughput_img_s": (_NUMBER, True),
    "pipeline_throughput_img_s": (_NUMBER, True), "setup_s": (_NUMBER, True),
    "candidates": ((list,), False), "skipped": ((list,), False), "reference": ((dict,), False),
    "error": (_TEXT, True), "returncode": ((int,), True),
}
PERCENT_KEYS = ("prec1", "prec5")


def _type_problem(key: str, value) -> str | None:
    types, nullable = FIELD_TYPES[key]
    if value is None:
        return None if nullable else f"field {key!r} must not be null"
    if isinstance(value, bool) or not isinstance(value, types):
        names = " or ".join(t.__name__ for t in types) + (" or null" if nullable else "")
        return f"field {key!r} must be {names}, got {value!r:.40}"
    if key in PERCENT_KEYS and not 0 <= value <= 100:
        return f"field {key!r} must be a percentage (0..100), got {value!r}"
    return None


def _latency_problem(key: str, lat) -> str | None:
    if not isinstance(lat, dict) or any(k not in lat for k in LATENCY_KEYS):
        return f"field {key!r} must have {', '.join(LATENCY_KEYS)}"
    for name in LATENCY_KEYS:
        value = lat[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, _NUMBER)):
            return f"field {key}.{name} must be a number or null, got {value!r:.40}"
    return None


def record_problem(record) -> str | None:
    """The first way `record` breaks the schema (missing key, wrong type), or None."""
    if not isinstance(record, dict):
        return "not a run record (a JSON object is expected)"
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        return f"not a run record of schema {SCHEMA_VERSION} (schema_version is {version!r})"
    kind = record.get("kind")
    if kind not in KINDS:
        return f"field 'kind' {kind!r} is not one of {', '.join(KINDS)}"
    if kind in ("validation", "benchmark"):
        missing = [k for k in REQUIRED_KEYS if k not in record]
        if missing:
            return f"lacks field(s) {', '.join(missing)}"
        for key in ("latency_all_ms", "latency_model_ms"):
            problem = _latency_problem(key, record[key])
            if problem:
                return problem
    for key, value in record.items():
        if key in FIELD_TYPES:
            problem = _type_problem(key, value)
            if problem:
                return problem
    return None


def validate_record(record: dict, source: str | Path | None = None) -> dict:
    """Raise ValsuiteError (one line naming the file, when known, and the field) when a record
    breaks the schema: renderers, tables and plots may then trust every field's type."""
    problem = record_problem(record)
    if problem:
        where = f"run record {source}" if source is not None else "run record"
        raise ValsuiteError(f"{where}: {problem}")
    return record


def record_filename(record: dict) -> str:
    parts = [record.get("created_utc", "").replace(":", "").replace("-", ""), record.get("kind", ""),
             record.get("network", ""), record.get("backend", ""), record.get("precision", ""),
             f"b{record.get('batch_size', '')}", record.get("run_id", "")]
    return "_".join(str(p) for p in parts if p not in ("", None)) + ".json"


def write_record(record: dict, path: str | Path | None = None, results_dir: str | Path = RESULTS_DIR) -> Path:
    """Validate and write atomically; with no path, under outputs/results/ with a unique name."""
    validate_record(record)
    target = Path(path) if path else Path(results_dir) / record_filename(record)
    atomic_write_json(target, record)
    return target


def read_record(path: str | Path) -> dict:
    return validate_record(read_json(path, "run record"), source=path)


def store_record(record: dict, path: str | Path | None = None, results_dir: str | Path = RESULTS_DIR) -> Path:
    """write_record, but an OSError at the end of a run does not lose the record: it is written to
    a fallback folder instead, and the warning names both places."""
    from valsuite.outputs import write_with_fallback

    validate_record(record)
    target = Path(path) if path else Path(results_dir) / record_filename(record)
    return write_with_fallback(lambda where: write_record(record, where), target)


def load_records(results_dir: str | Path = RESULTS_DIR) -> list[dict]:
    """Every record under a folder, sorted by creation time then id (deterministic order)."""
    folder = Path(results_dir)
    if not folder.is_dir():
        return []
    paths = [p for p in sorted(folder.rglob("*.json")) if not p.name.endswith(COMPANION_SUFFIXES)]
    records = [read_record(p) for p in paths]
    return sorted(records, key=lambda r: (r.get("created_utc", ""), r.get("run_id", "")))
