"""PNG plots rendered from run records (matplotlib, Agg: no display needed).

Per machine, network, weights and image set: throughput against batch size, Latency-all p50/p99
per batch size, Prec@1 per backend/precision against the FP32 reference, and, from compare
records, top-1 agreement per candidate. Sizes are fixed (no tight bounding box) so tests and the
README can rely on them; file names come from the records' content, so reruns overwrite.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections import defaultdict
from pathlib import Path

from valsuite.fileio import sha256_text
from valsuite.results.render import measurement_groups, parity_groups, stat
from valsuite.results.tables import MEASURED_KINDS, PRECISION_ORDER, dataset_tag, order_key, row_sort_key

PLOTS_DIR = Path("outputs") / "plots"
DPI = 100
WIDTH_IN, HEIGHT_IN = 9.0, 5.0
LATENCY_COLS, LATENCY_ROW_IN = 3, 3.2
LINESTYLES = ("-", "--", "-.", ":")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def wrap(title: str) -> str:
    return textwrap.fill(title, 100)


def slug(*parts: str) -> str:
    text = "_".join(re.sub(r"[^A-Za-z0-9.]+", "-", str(p)).strip("-") for p in parts)
    return text[:120]


def label(record: dict) -> str:
    return f"{record.get('backend')} {record.get('precision')} ({record.get('device')})"


def latency_size(num_batches: int) -> tuple[int, int]:
    """Pixel size of a latency figure with one panel per batch size."""
    rows = max(1, math.ceil(num_batches / LATENCY_COLS))
    return int(WIDTH_IN * DPI * 1.2), int((LATENCY_ROW_IN * rows + 1.0) * DPI)


def _series_sets(records: list[dict]) -> dict[tuple, dict[tuple, list[dict]]]:
    """(machine, network, weights, dataset id, size) -> row key -> measured records across batch
    sizes. Groups of a benchmark matrix are left to the machine's overview figure."""
    from valsuite.results.matrix import in_matrix, wants_matrix

    sets: dict[tuple, dict[tuple, list[dict]]] = defaultdict(lambda: defaultdict(list))
    groups = measurement_groups(records)
    matrix_machines = {m for m in {g.machine for g in groups} if wants_matrix([g for g in groups if g.machine == m])}
    for group in groups:
        if group.machine in matrix_machines and in_matrix(group):
            continue
        for record in group.records:
            if record.get("kind") in MEASURED_KINDS:
                key = (record.get("backend"), record.get("precision"), record.get("device"))
                sets[(group.machine, group.network, group.weights, group.dataset, group.input_size)][key].append(record)
    return sets


def _style(index: int, record: dict) -> dict:
    import matplotlib

    colors = matplotlib.colormaps["tab10"].colors
    prec = order_key(record.get("precision"), PRECISION_ORDER)[0]
    return {"color": colors[index % len(colors)], "linestyle": LINESTYLES[prec % len(LINESTYLES)], "marker": "o"}


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    _pyplot().close(fig)
    return path


def plot_throughput(series: dict[tuple, list[dict]], title: str, path: Path) -> Path:
    batches = {r["batch_size"] for runs in series.values() for r in runs if r.get("throughput_img_s") is not None}
    if len(batches) < 2:
        return plot_throughput_bars(series, title, path)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN))
    batch_sizes = set()
    for index, key in enumerate(sorted(series, key=lambda k: row_sort_key(series[k][0]))):
        runs = sorted(series[key], key=lambda r: r["batch_size"])
        xs = [r["batch_size"] for r in runs if r.get("throughput_img_s") is not None]
        ys = [r["throughput_img_s"] for r in runs if r.get("throughput_img_s") is not None]
        batch_sizes.update(xs)
        ax.plot(xs, ys, label=label(runs[0]), **_style(index, runs[0]))
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(batch_sizes), [str(b) for b in sorted(batch_sizes)])
    ax.set_xlabel("batch size (images)")
    ax.set_ylabel("throughput (images/s, from Latency-all)")
    ax.set_title(wrap(title), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _save(fig, path)


def plot_throughput_bars(series: dict[tuple, list[dict]], title: str, path: Path) -> Path:
    """One batch size: a bar per backend/precision (a line through one x value says nothing)."""
    import matplotlib

    runs = sorted((r for rs in series.values() for r in rs if r.get("throughput_img_s") is not None), key=row_sort_key)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN))
    colors = matplotlib.colormaps["tab10"].colors
    bars = ax.bar(range(len(runs)), [r["throughput_img_s"] for r in runs],
                  color=[colors[i % len(colors)] for i in range(len(runs))])
    for bar, r in zip(bars, runs):
        ax.annotate(f"{r['throughput_img_s']:,.0f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(runs)), [label(r) for r in runs], fontsize=8, rotation=15, ha="right")
    batch = runs[0]["batch_size"] if runs else "?"
    ax.set_ylabel(f"throughput at batch {batch} (images/s, from Latency-all)")
    ax.set_title(wrap(title.replace("vs batch size", f"at batch {batch}")), fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def _log_if_wide(ax, values: list[float]) -> None:
    """Log scale when the bars span more than 10x, so a small p50 stays visible next to a p99."""
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 10:
        ax.set_yscale("log")


def plot_latency(series: dict[tuple, list[dict]], title: str, path: Path) -> Path:
    """Latency-all p50 and p99 per backend/precision, one panel per batch size."""
    plt = _pyplot()
    by_batch: dict[int, list[dict]] = defaultdict(list)
    for runs in series.values():
        for record in runs:
            by_batch[record["batch_size"]].append(record)
    batches = sorted(by_batch)
    rows = max(1, math.ceil(len(batches) / LATENCY_COLS))
    cols = min(len(batches), LATENCY_COLS)
    width, height = latency_size(len(batches))
    fig, axes = plt.subplots(rows, cols, figsize=(width / DPI, height / DPI), squeeze=False)
    for ax, batch in zip(axes.flat, batches):
        runs = sorted(by_batch[batch], key=row_sort_key)
        xs = range(len(runs))
        p50 = [(r["latency_all_ms"] or {}).get("p50") or 0.0 for r in runs]
        p99 = [(r["latency_all_ms"] or {}).get("p99") or 0.0 for r in runs]
        ax.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50", color="tab:blue")
        ax.bar([x + 0.2 for x in xs], p99, width=0.4, label="p99", color="tab:orange")
        _log_if_wide(ax, p50 + p99)
        ax.set_xticks(list(xs), [label(r).replace(" (", "\n(") for r in runs], fontsize=7)
        ax.set_title(f"batch {batch}", fontsize=9)
        ax.set_ylabel("Latency-all per batch (ms)", fontsize=8)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(batches):]:
        ax.axis("off")
    fig.suptitle(wrap(title), fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def _reference(runs: list[dict]) -> dict | None:
    """The FP32 line: torch FP32 when present, else the first FP32 row in table order."""
    fp32 = sorted((r for r in runs if r.get("precision") == "fp32"), key=row_sort_key)
    return fp32[0] if fp32 else None


def _bars(ax, labels: list[str], values: list[float], colors: list) -> None:
    bars = ax.bar(range(len(values)), values, color=colors)
    ax.set_xticks(range(len(values)), labels, fontsize=8, rotation=20, ha="right")
    for bar, value in zip(bars, values):
        ax.annotate(f"{value:.2f}", (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom",
                    fontsize=8, xytext=(0, 2), textcoords="offset points")
    low, high = min(values), max(values)
    span = max(high - low, 1.0)
    bottom = max(0.0, low - 0.5 * span - 0.5)
    ax.set_ylim(bottom, high + 0.15 * span + 0.3)
    if bottom > 0:
        ax.text(0.0, -0.01, f"axis starts at {bottom:.1f}", transform=ax.transAxes, fontsize=7, ha="right", va="top")


def plot_prec1(series: dict[tuple, list[dict]], title: str, path: Path) -> Path | None:
    """Prec@1 of each backend/precision (newest run of any batch size) with the FP32 reference line."""
    runs = []
    for records in series.values():
        with_acc = [r for r in records if r.get("prec1") is not None]
        if with_acc:
            runs.append(max(with_acc, key=lambda r: (str(r.get("created_utc")), str(r.get("run_id")))))
    if not runs:
        return None
    runs.sort(key=row_sort_key)
    plt = _pyplot()
    import matplotlib

    colors = matplotlib.colormaps["tab10"].colors
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN))
    prec_color = [colors[order_key(r.get("precision"), PRECISION_ORDER)[0] % len(colors)] for r in runs]
    _bars(ax, [label(r) for r in runs], [float(r["prec1"]) for r in runs], prec_color)
    ref = _reference(runs)
    if ref is not None:
        ax.axhline(ref["prec1"], color="black", linestyle="--", linewidth=1,
                   label=f"FP32 reference: {label(ref)} {ref['prec1']:.2f}%")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_ylabel("Prec@1 (%)")
    ax.set_xlabel("backend precision (device)")
    ax.set_title(wrap(title), fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_agreement(candidates: list[dict], title: str, path: Path) -> Path | None:
    """Top-1 agreement with the reference per compare candidate."""
    rows = [(c, stat(c, "top1_agreement_pct")) for c in candidates]
    rows = [(c, float(v)) for c, v in rows if v is not None]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN))
    names = [f"{c.get('backend') or c.get('name')} {c.get('precision')} ({c.get('device', '-')})" for c, _ in rows]
    _bars(ax, names, [v for _, v in rows], ["tab:green"] * len(rows))
    ax.axhline(100.0, color="black", linestyle=":", linewidth=1)
    ax.set_ylabel("top-1 agreement with reference (%)")
    ax.set_xlabel("candidate backend precision (device)")
    ax.set_title(wrap(title), fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def machine_figures(records: list[dict], out_dir: Path) -> list[tuple[str, Path]]:
    """Per machine: the overview panels, the layer profiles and one set of timelines."""
    from valsuite.results import figures
    from valsuite.results.render import machine_of

    made = []
    by_machine: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_machine[machine_of(record)].append(record)
    for machine, runs in sorted(by_machine.items()):
        stem = slug(machine)
        for caption, path in (
                (f"overview, {machine}", figures.machine_figure(runs, machine, out_dir / f"overview_{stem}.png")),
                (f"top {figures.TOP_LAYERS} layers, {machine}", figures.layer_profile_figure(runs, out_dir / f"layers_{stem}.png")),
                (f"utilisation timelines, {machine}", figures.timeline_figure(timeline_runs(runs), out_dir / f"timeline_{stem}.png"))):
            if path is not None:
                made.append((caption, path))
    return made


def timeline_runs(records: list[dict]) -> list[dict]:
    """The runs of the one network/size/batch group with the most timelines (vanilla vs engines)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for group in measurement_groups(records):
        with_line = [r for r in group.records if ((r.get("utilisation") or {}).get("timeline") or {}).get("t_s")]
        if with_line:
            groups[group.sort_key] += with_line
    if not groups:
        return []
    return max(sorted(groups.items()), key=lambda kv: len(kv[1]))[1]


def render_plots(records: list[dict], out_dir: str | Path = PLOTS_DIR) -> list[tuple[str, Path]]:
    """Write every plot the records support; returns (caption, path) in a deterministic order."""
    out_dir = Path(out_dir)
    made: list[tuple[str, Path]] = []
    for (machine, network, weights, dataset, size), series in sorted(_series_sets(records).items()):
        stem = slug(network, weights, *([size] if size else []), machine, sha256_text(dataset)[:8])
        first = next(iter(series.values()))[0]
        at = f" at {size}" if size else ""
        where = f"{network} ({weights}){at}, {dataset_tag(first)}, on {machine}"
        made.append((f"throughput vs batch size, {where}",
                     plot_throughput(series, f"Throughput vs batch size: {where}", out_dir / f"throughput_{stem}.png")))
        made.append((f"latency p50/p99, {where}",
                     plot_latency(series, f"Latency-all p50 / p99: {where}", out_dir / f"latency_{stem}.png")))
        prec = plot_prec1(series, f"Prec@1 per backend/precision: {where}", out_dir / f"prec1_{stem}.png")
        if prec is not None:
            made.append((f"Prec@1 per precision, {where}", prec))
    made += machine_figures(records, out_dir)
    for key, record, candidates in parity_groups(records):
        machine, network, weights, dataset, batch, ref_backend, ref_precision = key
        stem = slug(network, weights, machine, f"b{batch}", ref_backend, ref_precision, sha256_text(dataset)[:8])
        where = f"{network} ({weights}) vs {ref_backend} {ref_precision}, batch {batch}, on {machine}"
        path = plot_agreement(candidates, f"Top-1 agreement: {where}", out_dir / f"agreement_{stem}.png")
        if path is not None:
            made.append((f"top-1 agreement, {where}", path))
    return made
