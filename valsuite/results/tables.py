"""Markdown tables rendered from run records only (the seed study's columns, plus p99 and throughput)."""

from __future__ import annotations

from tabulate import tabulate

SEED_HEADERS = ("backend", "precision", "Latency-all ms (mean / max)", "Latency-model ms (mean / max)",
                "p99 all ms", "img/s", "size MB", "Prec@1", "Prec@5", "#layers", "#params")


def _num(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def row_label(record: dict) -> tuple[str, str]:
    """The seed called the torch FP32 row 'Vanilla'; other rows are engine + precision."""
    backend, precision = record.get("backend", "?"), record.get("precision", "?")
    if backend == "torch" and precision == "fp32":
        return ("Vanilla (torch)", precision)
    return (backend, precision)


def seed_row(record: dict) -> list[str]:
    lat_all, lat_model = record["latency_all_ms"], record["latency_model_ms"]
    return [
        *row_label(record),
        f"{_num(lat_all['mean'])} / {_num(lat_all['max'])}",
        f"{_num(lat_model['mean'])} / {_num(lat_model['max'])}",
        _num(lat_all["p99"]),
        _num(record.get("throughput_img_s"), 1),
        _num(record.get("model_size_mb")),
        _num(record.get("prec1")),
        _num(record.get("prec5")),
        _num(record.get("num_layers")),
        _num(record.get("num_params")),
    ]


def seed_table(records: list[dict]) -> str:
    """One row per backend/precision for runs of one network and batch size."""
    rows = [seed_row(r) for r in records if r.get("kind") in ("validation", "benchmark")]
    return tabulate(rows, headers=SEED_HEADERS, tablefmt="github", disable_numparse=True)


def table_title(records: list[dict]) -> str:
    first = records[0]
    images = first.get("num_images")
    source = "synthetic input" if first.get("input") == "synthetic" else first.get("dataset", {}).get("path", "?")
    return (f"{first.get('network')} ({first.get('weights')}), batch {first.get('batch_size')}, "
            f"{images} images from {source}, on {first.get('environment', {}).get('machine', '?')}")
