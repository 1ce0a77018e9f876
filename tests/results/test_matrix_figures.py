"""Matrix figures and tables from made-up records: Pareto front, panels that need data, no line
through a single x value, layer profiles, timelines, the compact matrix table."""

from __future__ import annotations

import pytest
from PIL import Image

from valsuite.results.figures import (layer_profile_figure, machine_figure, pareto_front, panel_resolution,
                                      timeline_figure)
from valsuite.results.record import new_record, validate_record
from valsuite.results.render import render_section
from valsuite.evaluate.timing import latency_stats

pytest.importorskip("matplotlib")
GPU = "NVIDIA H200"


def rec(network="resnet50", size=(224, 224), backend="torch", precision="fp16", batch=32, p50=2.0, gflops=8.2,
        prec1=None, native=True, **extra) -> dict:
    lat = latency_stats([p50, p50 * 1.01, p50 * 1.2])
    return validate_record(new_record(
        "validation", network=network, weights="random", backend=backend, precision=precision, device="cuda",
        batch_size=batch, num_images=batch * 10, prec1=prec1, prec5=None, latency_all_ms=lat,
        latency_model_ms=lat, throughput_img_s=1e3 * batch / p50, model_size_mb=10.0, num_layers=50,
        num_params=1000, dataset={"synthetic": True, "seed": 0, "num_images": batch * 10}, input="synthetic",
        environment={"machine": GPU}, input_size=list(size), native_input_size=native, gflops=gflops,
        model_params=25_000_000, stability={"stable": True}, **extra))


def test_pareto_front_keeps_only_undominated_points():
    points = [(100, 80), (200, 75), (150, 70), (300, 60), (50, 79)]
    assert sorted(pareto_front(points)) == [0, 1, 3]


def test_resolution_panel_needs_two_sizes_and_draws_dots_for_single_points():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert not panel_resolution(ax, [rec(), rec(network="vgg16")])               # one size: no panel
    runs = [rec(), rec(size=(384, 576), native=False, p50=5.0), rec(network="vgg16", size=(384, 576), native=False)]
    assert panel_resolution(ax, runs)
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) > 0]
    assert {len(line.get_xdata()) for line in lines} == {1, 2}
    single = [line for line in lines if len(line.get_xdata()) == 1]
    assert all(line.get_linestyle() == "None" for line in single)                 # a dot, not a line
    plt.close(fig)


def test_machine_figure_has_the_panels_the_records_support(tmp_path):
    runs = [rec(network=n, size=s, native=s == (224, 224), p50=p, gflops=g, precision=pr)
            for n, g in (("resnet50", 8.2), ("mobilenet_v3_large", 0.43)) for s in ((224, 224), (384, 576))
            for pr, p in (("fp16", 2.0), ("fp32", 4.0))]
    path = machine_figure(runs, GPU, tmp_path / "overview.png")
    two_panels = Image.open(path).size
    runs += [rec(batch=1, p50=0.9), rec(prec1=76.1, batch=1, p50=1.0)]
    four_panels = Image.open(machine_figure(runs, GPU, tmp_path / "overview4.png")).size
    assert two_panels[0] == four_panels[0] and four_panels[1] > two_panels[1]
    assert machine_figure([rec(gflops=None)], GPU, tmp_path / "none.png") is None


def test_layer_and_timeline_figures(tmp_path):
    profile = {"tool": "torch.profiler", "runs": 5, "batch_size": 32, "total_ms": 3.0, "num_layers": 40,
               "top": [{"name": f"layer{i}", "type": "Conv2d", "ms": 0.1 * (20 - i), "share_pct": 3.0 * (20 - i) / 2}
                       for i in range(20)], "note": "separate run"}
    line = {"t_s": [0.05 * i for i in range(40)], "memory_mb": [1000 + i for i in range(40)],
            "util_pct": [50.0] * 40}
    util = {"source": "nvml", "interval_ms": 50, "samples": 40, "gpu_mem_peak_mb": 1039.0,
            "gpu_util_mean_pct": 50.0, "timeline": line}
    runs = [rec(layer_profile=profile, utilisation=util), rec(precision="fp32", utilisation=util)]
    assert layer_profile_figure(runs, tmp_path / "layers.png").is_file()
    assert timeline_figure(runs, tmp_path / "timeline.png").is_file()
    assert timeline_figure([rec()], tmp_path / "none.png") is None


def test_matrix_table_replaces_speed_only_groups():
    runs = [rec(network=n, size=s, native=s == (224, 224)) for n in ("resnet50", "vgg16")
            for s in ((224, 224), (384, 576))]
    section = render_section(runs)
    assert "#### Benchmark matrix (synthetic input), on NVIDIA H200" in section
    assert section.count("#### ") == 1                         # no per-group seed tables beside it
    assert "| vgg16 " in section and "384x576*" in section and "| 8.20 " in section
    single = render_section([rec(), rec(precision="fp32")])   # one network, one size: seed tables
    assert "Benchmark matrix" not in single and "GFLOPs" in single
