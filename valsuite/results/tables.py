"""Markdown tables rendered from run records only (the seed study's columns, plus p99 and throughput).

Columns are declared once (COLUMNS) so that the markdown table and the CSV export are two
renderings of the same cells: a markdown cell joins one or more fields with " / ".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tabulate import tabulate

MEASURED_KINDS = ("validation", "benchmark")
# known names sort first in this order; names nobody listed here still render, after these, A-Z
BACKEND_ORDER = ("torch", "onnxruntime", "tensorrt")
PRECISION_ORDER = ("fp32", "fp16", "bf16", "int8")


@dataclass(frozen=True)
class Field:
    """One measured value: its CSV column name, how to read it from a record, its decimals."""

    csv: str
    get: Callable[[dict], object]
    digits: int = 2


def _lat(key: str, stat: str) -> Callable[[dict], object]:
    return lambda r: (r.get(key) or {}).get(stat)


COLUMNS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("Latency-all ms (mean / max)", (Field("latency_all_mean_ms", _lat("latency_all_ms", "mean")),
                                     Field("latency_all_max_ms", _lat("latency_all_ms", "max")))),
    ("Latency-model ms (mean / max)", (Field("latency_model_mean_ms", _lat("latency_model_ms", "mean")),
                                       Field("latency_model_max_ms", _lat("latency_model_ms", "max")))),
    ("p99 all ms", (Field("latency_all_p99_ms", _lat("latency_all_ms", "p99")),)),
    ("img/s", (Field("throughput_img_s", lambda r: r.get("throughput_img_s"), 1),)),
    ("size MB", (Field("model_size_mb", lambda r: r.get("model_size_mb")),)),
    ("GFLOPs", (Field("gflops", lambda r: r.get("gflops")),)),
    ("Prec@1", (Field("prec1", lambda r: r.get("prec1")),)),
    ("Prec@5", (Field("prec5", lambda r: r.get("prec5")),)),
    ("#layers", (Field("num_layers", lambda r: r.get("num_layers"), 0),)),
    ("#params", (Field("num_params", lambda r: r.get("num_params"), 0),)),
)
LABEL_HEADERS = ("backend", "precision", "device")
SEED_HEADERS = LABEL_HEADERS + tuple(header for header, _ in COLUMNS)
FAILED = "failed"


def _num(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if digits == 0 else f"{value:.{digits}f}"
    return str(value)


def order_key(name: str | None, known: tuple[str, ...]) -> tuple[int, str]:
    """Known names in their listed order, then any new name alphabetically (no code change needed)."""
    name = name or "?"
    return (known.index(name), name) if name in known else (len(known), name)


HEAD_ORDER = ("logits", "topk", "argmax")


def row_sort_key(record: dict) -> tuple:
    return (order_key(record.get("backend"), BACKEND_ORDER), order_key(record.get("precision"), PRECISION_ORDER),
            record.get("device") or "", order_key(record.get("head") or "logits", HEAD_ORDER))


def row_label(record: dict) -> tuple[str, str, str]:
    """The seed called the torch FP32 row 'Vanilla'; other rows are engine + precision as recorded.
    TensorRT rows say whether the engine is static or dynamic ('tensorrt-static'), as the seed's
    tables did, since the two are measured side by side."""
    backend, precision = record.get("backend") or "?", record.get("precision") or "?"
    device = record.get("device") or "?"
    head = record.get("head") or "logits"
    if head != "logits":                 # an output-head row: same engine, another output
        return (f"{backend} ({head} head)", precision, device)
    if backend == "torch" and precision == "fp32":
        return ("Vanilla (torch)", precision, device)
    kind = (record.get("backend_details") or {}).get("engine_kind")
    if kind in ("static", "dynamic"):
        backend = f"{backend}-{kind}"
    return (backend, precision, device)


def field_values(record: dict) -> list:
    """The raw values of every field in column order (None for a failure record)."""
    measured = record.get("kind") in MEASURED_KINDS
    return [f.get(record) if measured else None for _, fields in COLUMNS for f in fields]


def seed_row(record: dict) -> list[str]:
    """Markdown cells; a failure row says 'failed' in its measured columns."""
    if record.get("kind") == "failure":
        return [*row_label(record), FAILED, *(["-"] * (len(COLUMNS) - 1))]
    if record.get("kind") == "skipped":  # a row this machine cannot run; its reason goes under the table
        return [*row_label(record), "skipped (see below)", *(["-"] * (len(COLUMNS) - 1))]
    cells = [" / ".join(_num(f.get(record), f.digits) for f in fields) for _, fields in COLUMNS]
    return [*row_label(record), *cells]


def seed_table(records: list[dict]) -> str:
    """One row per backend/precision for runs of one network and batch size (failures included)."""
    rows = [seed_row(r) for r in records if r.get("kind") in MEASURED_KINDS + ("failure", "skipped")]
    table = tabulate(rows, headers=SEED_HEADERS, tablefmt="github", disable_numparse=True)
    # a reason in a cell would widen the whole column past any screen
    reasons = [f"skipped {r['backend']}:{r['precision']}: {r.get('reason')}" for r in records
               if r.get("kind") == "skipped"]
    return "\n".join([table, *(["", *reasons] if reasons else [])])


def dataset_label(record: dict) -> str:
    """Where the images came from, with the file-list hash that identifies the set."""
    data = record.get("dataset") or {}
    if record.get("input") == "synthetic" or data.get("synthetic"):
        return f"synthetic input (seed {data.get('seed', '?')})"
    digest = data.get("file_list_sha256")
    tag = f", file list sha256 {digest[:12]}" if digest else ""
    return f"{data.get('path', '?')}{tag}"


def dataset_tag(record: dict) -> str:
    """A short name for the image set, for plot titles."""
    data = record.get("dataset") or {}
    if record.get("input") == "synthetic" or data.get("synthetic"):
        return "synthetic input"
    digest = data.get("file_list_sha256")
    return f"{data.get('num_images', '?')} images ({digest[:8]})" if digest else "dataset"


def table_title(records: list[dict]) -> str:
    first = records[0]
    images = first.get("num_images") or (first.get("dataset") or {}).get("num_images")
    return (f"{first.get('network')} ({first.get('weights')}), batch {first.get('batch_size')}, "
            f"{images} images from {dataset_label(first)}, on {(first.get('environment') or {}).get('machine', '?')}")
