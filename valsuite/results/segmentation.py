"""The segmentation head study's tables (seed 000's layout): input size x variant rows, one group of
columns per precision, rendered from run records only (task == "segmentation")."""

from __future__ import annotations

from dataclasses import dataclass, field

from tabulate import tabulate

from valsuite.results.tables import PRECISION_ORDER, order_key

TASK = "segmentation"


def is_segmentation(record: dict) -> bool:
    return record.get("task") == TASK


@dataclass
class SegGroup:
    machine: str
    network: str
    weights: str
    backend: str
    device: str
    batch_size: int
    inputs: str
    records: list = field(default_factory=list)

    @property
    def sort_key(self) -> tuple:
        return (self.machine, self.network, self.weights, self.backend, self.device, self.batch_size, self.inputs)


def _inputs(record: dict) -> str:
    data = record.get("dataset") or {}
    if data.get("synthetic"):
        return f"{record.get('num_images')} seeded noise images (seed {data.get('seed')})"
    digest = (data.get("file_list_sha256") or "")[:12]
    return f"{record.get('num_images')} images from {data.get('path')} (file list sha256 {digest}), resized"


def segmentation_groups(records: list[dict], machine_of) -> list[SegGroup]:
    """One table per machine/network/weights/backend/device/batch/input set; newest record per cell."""
    groups: dict[tuple, SegGroup] = {}
    for record in sorted((r for r in records if is_segmentation(r)),
                         key=lambda r: (str(r.get("created_utc", "")), str(r.get("run_id", "")))):
        group = SegGroup(machine_of(record), str(record.get("network")), str(record.get("weights")),
                         str(record.get("backend")), str(record.get("device")), int(record.get("batch_size") or 0),
                         _inputs(record))
        groups.setdefault(group.sort_key, group).records.append(record)
    for group in groups.values():
        cells = {}
        for record in group.records:
            cells[_cell_key(record)] = record                 # a rerun replaces its cell
        group.records = list(cells.values())
    return sorted(groups.values(), key=lambda g: g.sort_key)


def _cell_key(record: dict) -> tuple:
    return (tuple(record.get("input_size") or ()), record.get("head_number") or 0, record.get("head"),
            record.get("precision"))


def _latency(record: dict) -> str:
    if record.get("kind") == "failure":
        return "failed"
    all_ms = (record.get("latency_all_ms") or {}).get("mean")
    model_ms = (record.get("latency_model_ms") or {}).get("mean")
    return " / ".join("-" if v is None else f"{v:.2f}" for v in (all_ms, model_ms))


def _agreement(record: dict) -> str:
    if record.get("kind") == "failure":
        return "-"
    cost = record.get("agreement") or {}
    if cost.get("pixel_agreement_pct") is not None:
        return f"{cost['pixel_agreement_pct']:.2f} / {cost['miou_pct']:.2f}"
    if cost.get("score_abs_err_max") is not None:
        return f"score err {cost['score_abs_err_max']:.2g}"
    return "-"


def _size_mb(record: dict) -> str:
    value = record.get("model_size_mb")
    return "-" if value is None or record.get("kind") == "failure" else f"{value:.2f}"


def _variant(record: dict) -> str:
    label = f"{record.get('head_number', '?')} {record.get('head')}"
    return label + (f" (x{record['fuse_scale']:g})" if record.get("fuse_scale") else "")


def segmentation_table(group: SegGroup) -> str:
    precisions = sorted({r.get("precision") for r in group.records}, key=lambda p: order_key(p, PRECISION_ORDER))
    cells = {_cell_key(r): r for r in group.records}
    rows_keys = sorted({k[:3] for k in cells}, key=lambda k: (k[0][0] * k[0][1] if len(k[0]) == 2 else 0, k[0], k[1]))
    headers = ["input size", "variant"]
    for precision in precisions:
        name = str(precision).upper()
        headers += [f"{name} Latency-all / model ms", f"{name} agreement / mIoU %", f"{name} size MB"]
    rows = []
    for size, number, head in rows_keys:
        some = next(cells[k] for k in cells if k[:3] == (size, number, head))
        row = ["x".join(map(str, size)), _variant(some)]
        for precision in precisions:
            record = cells.get((size, number, head, precision))
            row += ["-", "-", "-"] if record is None else [_latency(record), _agreement(record), _size_mb(record)]
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def render_segmentation(group: SegGroup) -> str:
    fuse = sorted({r.get("fuse_scale") for r in group.records if r.get("fuse_scale")})
    title = (f"#### Segmentation heads: {group.network} ({group.weights}), {group.backend} on {group.device}, "
             f"batch {group.batch_size}, {group.inputs}, on {group.machine}")
    notes = ["", "Latency-all includes the host argmax of variant 1; agreement and mIoU are against variant 1's "
             "label map (same backend, precision and inputs); ReduceMax variants return scores only "
             "(their cell is the largest |score - max logit|)."
             + (f" Fused variants resize to {', '.join(f'{s:g}' for s in fuse)} x the input size." if fuse else "")]
    if str(group.weights) == "random":
        notes += ["", "Random weights: the agreement numbers describe numerics only, not segmentation quality."]
    failures = [r for r in group.records if r.get("kind") == "failure"]
    lines = [title, "", segmentation_table(group), *notes]
    if failures:
        lines.append("")
        lines += [f"- {'x'.join(map(str, r.get('input_size') or []))} {r.get('head')} {r.get('precision')} failed: "
                  f"{' '.join(str(r.get('error')).split())[:200]}" for r in failures]
    return "\n".join(lines)
