"""The figures people look for first, one per machine with panels (matplotlib, Agg).

- accuracy against throughput over every record of the machine (models x backends x precisions),
  the Pareto front marked: nothing is both faster and more accurate than a point on it;
- model-only latency against GFLOPs, one colour per backend/precision (the TensorRT shootout's
  point: latency does not track GFLOPs);
- model-only throughput against input resolution, one line per network (a dot where a network
  has one size: no line through a single x value);
- batch-1 Latency-model p50 next to p99 on a log axis, so a 1 ms median is visible beside a
  20 ms tail.
Plus per run: the top-15 layers of a layer profile, and utilisation timelines side by side.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

from valsuite.results.tables import MEASURED_KINDS, PRECISION_ORDER, order_key, row_sort_key

DPI = 100
PANEL_IN = (6.4, 4.6)
TOP_LAYERS = 15
MAX_PROFILES = 6           # panels in the layer-profile figure (the record has every profile)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors():
    import matplotlib

    return matplotlib.colormaps["tab10"].colors + matplotlib.colormaps["Dark2"].colors


def combo(record: dict) -> str:
    return f"{record.get('backend')} {record.get('precision')}"


def size_text(record: dict) -> str:
    size = record.get("input_size")
    return "x".join(map(str, size)) if size else "native"


def model_img_s(record: dict) -> float | None:
    lat = (record.get("latency_model_ms") or {}).get("mean")
    return 1e3 * record["batch_size"] / lat if lat and record.get("batch_size") else None


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both x (higher) and y (higher), by falling x."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def _measured(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("kind") in MEASURED_KINDS]


# -- panels ---------------------------------------------------------------------------------------
def panel_accuracy(ax, records: list[dict]) -> bool:
    runs = [r for r in _measured(records) if r.get("prec1") is not None and r.get("throughput_img_s")]
    if not runs:
        return False
    points = [(float(r["throughput_img_s"]), float(r["prec1"])) for r in runs]
    combos = sorted({combo(r) for r in runs}, key=lambda c: c)
    colors = dict(zip(combos, _colors()))
    for r, (x, y) in zip(runs, points):
        ax.scatter(x, y, color=colors[combo(r)], s=30, zorder=3)
    front = sorted(pareto_front(points), key=lambda i: points[i])
    fx, fy = zip(*(points[i] for i in front))
    # "pre": between two front points the best accuracy at that throughput or more is the right one's
    ax.step(fx, fy, where="pre", color="black", linewidth=1, linestyle="--", zorder=2, label="Pareto front")
    for n, i in enumerate(front):
        r = runs[i]
        ax.annotate(f"{r['network']} {combo(r)} b{r['batch_size']}", points[i], fontsize=7,
                    xytext=(4, 4 if n % 2 == 0 else -10), textcoords="offset points")
    for name in combos:
        ax.scatter([], [], color=colors[name], label=name)
    ax.set_xscale("log")
    ax.set_xlabel("throughput (images/s from Latency-all, log)")
    ax.set_ylabel("Prec@1 (%)")
    ax.set_title(f"Accuracy vs throughput, {len(runs)} runs", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    return True


def _main_batch(runs: list[dict]) -> int | None:
    counts = Counter(r.get("batch_size") for r in runs)
    return max(counts, key=lambda b: (counts[b], -(b or 0))) if counts else None


def panel_gflops(ax, records: list[dict]) -> bool:
    runs = [r for r in _measured(records) if r.get("gflops") and (r.get("latency_model_ms") or {}).get("p50")]
    batch = _main_batch(runs)
    runs = [r for r in runs if r.get("batch_size") == batch]
    if not runs:
        return False
    by_combo = defaultdict(list)
    for r in runs:
        by_combo[combo(r)].append(r)
    for color, name in zip(_colors(), sorted(by_combo, key=lambda c: row_sort_key(by_combo[c][0]))):
        pts = sorted((r["gflops"], r["latency_model_ms"]["p50"]) for r in by_combo[name])
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], color=color, label=name, s=28, zorder=3)
    labelled = set()
    for r in sorted(runs, key=lambda r: r["gflops"]):
        if r["network"] not in labelled:                 # name each network once, at its smallest size
            labelled.add(r["network"])
            ax.annotate(r["network"], (r["gflops"], r["latency_model_ms"]["p50"]), fontsize=6,
                        xytext=(3, -8), textcoords="offset points", color="dimgray")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis)
    _plain_log_ticks(ax.yaxis)
    ax.set_xlabel("GFLOPs per image (log)")
    ax.set_ylabel(f"Latency-model p50 per batch of {batch} (ms, log)")
    ax.set_title(f"Model-only latency vs GFLOPs, batch {batch}", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7)
    return True


def panel_resolution(ax, records: list[dict]) -> bool:
    runs = [r for r in _measured(records) if r.get("input_size") and model_img_s(r)]
    batch = _main_batch(runs)
    runs = [r for r in runs if r.get("batch_size") == batch]
    if not runs or len({tuple(r["input_size"]) for r in runs}) < 2:
        return False
    combos = sorted({combo(r) for r in runs}, key=lambda c: order_key(c.split()[-1], PRECISION_ORDER) + (c,))
    styles = dict(zip(combos, ("-", "--", "-.", ":")))
    markers = dict(zip(combos, ("o", "s", "^", "D")))
    networks = sorted({r["network"] for r in runs})
    colors = dict(zip(networks, _colors()))
    for net in networks:
        for name in combos:
            pts = sorted((r["input_size"][0] * r["input_size"][1] / 1e6, model_img_s(r))
                         for r in runs if r["network"] == net and combo(r) == name)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=colors[net], marker=markers[name],
                        linestyle=styles[name] if len(pts) > 1 else "none", markersize=4)
    sizes = sorted({(r["input_size"][0] * r["input_size"][1] / 1e6, size_text(r)) for r in runs})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks([s[0] for s in sizes], [s[1] for s in sizes], fontsize=7)
    ax.minorticks_off()
    _plain_log_ticks(ax.yaxis)
    for net in networks:
        ax.plot([], [], color=colors[net], label=net)
    for name in combos:
        ax.plot([], [], color="gray", linestyle=styles[name], marker=markers[name], label=name)
    ax.set_xlabel("input size (H x W, log of pixels)")
    ax.set_ylabel("model-only throughput (images/s, log)")
    ax.set_title(f"Throughput vs resolution, batch {batch}", fontsize=10)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(fontsize=6, ncol=2)
    return True


def panel_batch1(ax, records: list[dict]) -> bool:
    runs = [r for r in _measured(records) if r.get("batch_size") == 1 and (r.get("latency_model_ms") or {}).get("p50")]
    if not runs:
        return False
    runs.sort(key=lambda r: (str(r["network"]), size_text(r), row_sort_key(r)))
    runs = runs[-20:]
    ys = range(len(runs))
    p50 = [r["latency_model_ms"]["p50"] for r in runs]
    p99 = [r["latency_model_ms"].get("p99") or 0.0 for r in runs]
    ax.barh([y + 0.2 for y in ys], p50, height=0.4, color="tab:blue", label="p50")
    ax.barh([y - 0.2 for y in ys], p99, height=0.4, color="tab:orange", label="p99")
    ax.set_yticks(list(ys), [f"{r['network']} {size_text(r)} {combo(r)}" for r in runs], fontsize=6)
    ax.set_ylim(-0.8, max(len(runs), 6) - 0.2)          # a few runs keep thin bars
    if len(runs) <= 12:
        for y, a, b in zip(ys, p50, p99):
            ax.annotate(f"{a:.3g}", (a, y + 0.2), fontsize=6, va="center", xytext=(2, 0), textcoords="offset points")
            ax.annotate(f"{b:.3g}", (b, y - 0.2), fontsize=6, va="center", xytext=(2, 0), textcoords="offset points")
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel("Latency-model at batch 1 (ms, log)")
    ax.set_title("Batch 1: p50 next to p99", fontsize=10)
    ax.legend(fontsize=7)
    return True


def _plain_log_ticks(axis) -> None:
    """Log axes labelled 2, 5, 10 instead of 2x10^0."""
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(fmt)
    axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(f"{v:g}")[0] in "25" else ""))


PANELS = (panel_accuracy, panel_gflops, panel_resolution, panel_batch1)


def machine_figure(records: list[dict], machine: str, path: Path) -> Path | None:
    """One figure for one machine: every panel the records support, two per row."""
    plt = _plt()
    probe = plt.figure()
    usable = [p for p in PANELS if p(probe.add_subplot(), records)]
    plt.close(probe)
    if not usable:
        return None
    cols = min(2, len(usable))
    rows = math.ceil(len(usable) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(PANEL_IN[0] * cols, PANEL_IN[1] * rows + 0.5), squeeze=False)
    for ax, panel in zip(axes.flat, usable):
        panel(ax, records)
    for ax in list(axes.flat)[len(usable):]:
        ax.axis("off")
    fig.suptitle(f"{machine}: {len(_measured(records))} runs", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    _plt().close(fig)
    return path


# -- per run: layer profile, timelines -------------------------------------------------------------
def run_title(record: dict) -> str:
    return f"{record.get('network')} {size_text(record)} {combo(record)} b{record.get('batch_size')}"


def layer_profile_figure(records: list[dict], path: Path) -> Path | None:
    """The top-15 layers of each profiled run, one panel per run, horizontal bars of share %."""
    runs = sorted((r for r in _measured(records) if (r.get("layer_profile") or {}).get("top")),
                  key=lambda r: (str(r.get("network")), size_text(r), row_sort_key(r)))[:MAX_PROFILES]
    if not runs:
        return None
    plt = _plt()
    cols = min(2, len(runs))
    rows = math.ceil(len(runs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7.5 * cols, 5.2 * rows), squeeze=False)
    for ax, r in zip(axes.flat, runs):
        prof = r["layer_profile"]
        top = prof["top"][:TOP_LAYERS][::-1]
        names = [row["name"] if len(row["name"]) <= 42 else "…" + row["name"][-41:] for row in top]
        ax.barh(range(len(top)), [row["share_pct"] or 0.0 for row in top], color="tab:purple")
        ax.set_yticks(range(len(top)), [f"{n} ({row['type']})" for n, row in zip(names, top)], fontsize=6)
        for y, row in enumerate(top):
            ax.annotate(f"{row['ms']:.3g} ms", (row["share_pct"] or 0.0, y), fontsize=6, xytext=(2, -2),
                        textcoords="offset points")
        ax.set_xlabel(f"share of {prof['total_ms']:.3g} ms per pass (%)")
        ax.set_title(f"{run_title(r)}: top {len(top)} of {prof['num_layers']} layers\n{prof['tool']}", fontsize=8)
    for ax in list(axes.flat)[len(runs):]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def timeline_figure(records: list[dict], path: Path) -> Path | None:
    """Memory and utilisation over time, one column per run (vanilla next to the engines)."""
    runs = [r for r in _measured(records) if ((r.get("utilisation") or {}).get("timeline") or {}).get("t_s")]
    if not runs:
        return None
    runs.sort(key=row_sort_key)
    runs = runs[:6]
    plt = _plt()
    fig, axes = plt.subplots(2, len(runs), figsize=(3.6 * len(runs) + 0.6, 5.6), squeeze=False)
    for col, r in enumerate(runs):
        util = r["utilisation"]
        line = util["timeline"]
        axes[0][col].plot(line["t_s"], line["memory_mb"], color="tab:blue")
        axes[1][col].plot(line["t_s"], line["util_pct"], color="tab:green")
        peak = util.get("gpu_mem_peak_mb") or util.get("rss_peak_mb")
        mean = util.get("gpu_util_mean_pct") or util.get("cpu_mean_pct")
        name = "Vanilla (torch fp32)" if combo(r) == "torch fp32" else combo(r)
        axes[0][col].set_title(f"{name} ({r.get('device')})\npeak {peak:,.0f} MB, mean {mean:.0f}%", fontsize=8)
        axes[1][col].set_xlabel("seconds into the run", fontsize=8)
    for row, key in ((0, "memory_mb"), (1, "util_pct")):
        # one scale per row, from 0 (a 1% change must not look like a doubling), set after all
        # runs are drawn so that no run is cut off
        top = max(max(r["utilisation"]["timeline"][key] or [0.0]) for r in runs)
        for ax in axes[row]:
            ax.set_ylim(0, max(top * 1.08, 1.0 if row else 10.0))
    gpu = runs[0]["utilisation"].get("source") == "nvml"
    axes[0][0].set_ylabel("GPU memory used (MB)" if gpu else "process RSS (MB)", fontsize=8)
    axes[1][0].set_ylabel("GPU utilisation (%)" if gpu else "process CPU (%; 100 = 1 core)", fontsize=8)
    fig.suptitle(f"Utilisation every {runs[0]['utilisation'].get('interval_ms', 50):.0f} ms: "
                 f"{runs[0].get('network')} {size_text(runs[0])} b{runs[0].get('batch_size')}", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
