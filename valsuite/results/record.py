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


def validate_record(record: dict) -> dict:
    """Raise ValsuiteError when a record lacks what renderers rely on."""
    if not isinstance(record, dict):
        raise ValsuiteError("a run record must be a JSON object")
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValsuiteError(f"run record schema {version} is not {SCHEMA_VERSION}")
    kind = record.get("kind")
    if kind not in KINDS:
        raise ValsuiteError(f"run record kind {kind!r} is not one of {KINDS}")
    if kind in ("validation", "benchmark"):
        missing = [k for k in REQUIRED_KEYS if k not in record]
        if missing:
            raise ValsuiteError(f"run record lacks {', '.join(missing)}")
        for key in ("latency_all_ms", "latency_model_ms"):
            lat = record[key]
            if not isinstance(lat, dict) or any(k not in lat for k in LATENCY_KEYS):
                raise ValsuiteError(f"run record {key} must have {', '.join(LATENCY_KEYS)}")
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
    return validate_record(read_json(path, "run record"))


def load_records(results_dir: str | Path = RESULTS_DIR) -> list[dict]:
    """Every record under a folder, sorted by creation time then id (deterministic order)."""
    folder = Path(results_dir)
    if not folder.is_dir():
        return []
    paths = [p for p in sorted(folder.rglob("*.json")) if not p.name.endswith(COMPANION_SUFFIXES)]
    records = [read_record(p) for p in paths]
    return sorted(records, key=lambda r: (r.get("created_utc", ""), r.get("run_id", "")))
