"""Per-layer profiles: where the time of one forward pass goes, the N most expensive layers.

Profilers perturb timing (hooks, annotations, per-node synchronisation), so a profile is always a
separate run after the timed batches, on one batch of the run's size, and its times are never
mixed with Latency-all/Latency-model. Each engine reports layers in its own terms:
- torch: torch.profiler with one annotation per leaf module (forward hooks); CPU time on the CPU,
  the device time of the kernels launched inside the annotation on CUDA;
- ONNX Runtime: its session profiling, per graph node (`<node>_kernel_time` events);
- TensorRT: an IProfiler attached to the execution context, per engine layer (tensorrt/layer_timer.py).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

OUTSIDE = "(outside leaf modules)"
NOTE = ("a separate profiling run after the timed batches: profilers add overhead, so these times "
        "are not comparable to Latency-model; use the shares")


@dataclass
class LayerTimes:
    """Summed time per layer over `runs` forward passes, and the total of those passes."""

    tool: str
    runs: int
    total_ms: float                                   # all runs together
    layers: dict = field(default_factory=dict)        # name -> summed ms
    types: dict = field(default_factory=dict)         # name -> layer / op type

    def summary(self, top: int, batch_size: int) -> dict:
        """The record field: the `top` layers by time with their share of the total."""
        ranked = sorted(self.layers.items(), key=lambda kv: (-kv[1], kv[0]))
        total = self.total_ms or sum(self.layers.values())
        rows = [{"name": name, "type": self.types.get(name, ""), "ms": ms / self.runs,
                 "share_pct": 100.0 * ms / total if total else None} for name, ms in ranked[:top]]
        return {"tool": self.tool, "runs": self.runs, "batch_size": batch_size,
                "total_ms": total / self.runs, "num_layers": len(self.layers), "top": rows, "note": NOTE}


def leaf_modules(module) -> dict:
    """id(leaf module) -> (qualified name, class name)."""
    return {id(m): (name, type(m).__name__) for name, m in module.named_modules()
            if name and not any(True for _ in m.children())}


def profile_torch(module, x, runs: int = 5) -> LayerTimes:
    """Leaf modules of `module` annotated with record_function and profiled over `runs` passes."""
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    names = leaf_modules(module)
    open_ranges: dict = {}

    def enter(mod, _inputs):
        rf = record_function(f"layer::{names[id(mod)][0]}")
        rf.__enter__()
        open_ranges.setdefault(id(mod), []).append(rf)

    def leave(mod, _inputs, _output):
        open_ranges[id(mod)].pop().__exit__(None, None, None)

    handles = [m.register_forward_pre_hook(enter) for _, m in module.named_modules() if id(m) in names]
    handles += [m.register_forward_hook(leave) for _, m in module.named_modules() if id(m) in names]
    cuda = x.is_cuda
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    try:
        with torch.inference_mode():
            module(x)                                   # hooks warm, nothing lazy inside the profile
            if cuda:
                torch.cuda.synchronize()
            with profile(activities=activities) as prof:
                for _ in range(runs):
                    with record_function("valsuite::forward"):
                        module(x)
                if cuda:
                    torch.cuda.synchronize()
    finally:
        for handle in handles:
            handle.remove()
    return _torch_times(prof, names, runs, cuda)


def _torch_times(prof, names: dict, runs: int, cuda: bool) -> LayerTimes:
    """Sum the annotation events: CPU time on the CPU, their kernels' device time on CUDA."""
    types = {name: kind for name, kind in names.values()}
    layers: dict = defaultdict(float)
    total = 0.0
    for evt in prof.events():
        if evt.device_type.name != "CPU":              # device-side copies of annotations
            continue
        us = evt.device_time_total if cuda else evt.cpu_time_total
        if evt.name == "valsuite::forward":
            total += us / 1e3
        elif evt.name.startswith("layer::"):
            layers[evt.name[len("layer::"):]] += us / 1e3
    outside = total - sum(layers.values())
    if outside > 0.005 * total:                          # functional ops (residual adds, flatten)
        layers[OUTSIDE] = outside
        types[OUTSIDE] = "functional ops"
    return LayerTimes("torch.profiler (per leaf module, " + ("CUDA kernel time)" if cuda else "CPU time)"),
                      runs, total, dict(layers), types)


def profile_onnxruntime(onnx_path: Path, x, providers: list[str], runs: int = 5,
                        workdir: Path | None = None, threads: int | None = None) -> LayerTimes:
    """A second session of the same ONNX with profiling on; node times from its JSON trace."""
    import tempfile

    import onnxruntime as ort

    folder = Path(workdir or tempfile.mkdtemp(prefix="valsuite_ortprof_"))
    folder.mkdir(parents=True, exist_ok=True)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    opts.enable_profiling = True
    opts.profile_file_prefix = str(folder / "ort_profile")
    if threads:
        opts.intra_op_num_threads = int(threads)
    session = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=providers)
    feed = {session.get_inputs()[0].name: x}
    session.run(None, feed)                               # warm-up pass, excluded below
    for _ in range(runs):
        session.run(None, feed)
    trace = Path(session.end_profiling())
    times = ort_trace_times(json.loads(trace.read_text()), runs)
    trace.unlink(missing_ok=True)
    return times


def ort_trace_times(events: list[dict], runs: int) -> LayerTimes:
    """Node kernel times of the last `runs` model_run events of an ONNX Runtime trace."""
    model_runs = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                        key=lambda e: e["ts"])[-runs:]
    if not model_runs:
        return LayerTimes("onnxruntime profiling (per node)", runs, 0.0)
    since = model_runs[0]["ts"]
    layers: dict = defaultdict(float)
    types = {}
    for e in events:
        name = e.get("name", "")
        if e.get("cat") == "Node" and name.endswith("_kernel_time") and e.get("ts", 0) >= since:
            node = name[: -len("_kernel_time")]
            layers[node] += e.get("dur", 0) / 1e3
            types[node] = (e.get("args") or {}).get("op_name", "")
    total = sum(e.get("dur", 0) for e in model_runs) / 1e3
    return LayerTimes("onnxruntime profiling (per node)", len(model_runs), total, dict(layers), types)


def profile_table(summary: dict) -> str:
    """The top layers as a markdown table (what the CLI prints and the README shows)."""
    from tabulate import tabulate

    rows = [[i + 1, r["name"], r["type"], f"{r['ms']:.3f}", "-" if r["share_pct"] is None else f"{r['share_pct']:.1f}"]
            for i, r in enumerate(summary["top"])]
    head = (f"{summary['tool']}: {summary['num_layers']} layers, {summary['total_ms']:.3f} ms per pass "
            f"(batch {summary['batch_size']}, mean of {summary['runs']} passes)")
    return head + "\n\n" + tabulate(rows, headers=("#", "layer", "type", "ms", "share %"), tablefmt="github",
                                    disable_numparse=True)
