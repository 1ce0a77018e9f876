"""Per-layer profiles: torch (profiler per leaf module), ONNX Runtime (session profiling per node),
TensorRT (IProfiler, against a stand-in context and the API manifests)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from valsuite.errors import ValsuiteError
from valsuite.evaluate.layer_profile import OUTSIDE, ort_trace_times, profile_onnxruntime, profile_table, profile_torch
from valsuite.evaluate.runner import RunConfig, run_one

MANIFESTS = Path(__file__).resolve().parents[2].parent / "shared" / "trt-api"
if not MANIFESTS.is_dir():
    MANIFESTS = Path("/work/shared/trt-api")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.big = torch.nn.Conv2d(3, 64, 7, padding=3)      # ~40x the multiply-adds of `small`
        self.small = torch.nn.Conv2d(64, 4, 1)
        self.fc = torch.nn.Linear(4, 10)

    def forward(self, x):
        x = self.small(torch.relu(self.big(x)))          # relu is functional: outside leaf modules
        return self.fc(x.mean(dim=(2, 3)))


def test_torch_profile_ranks_leaf_modules_and_counts_functional_ops():
    times = profile_torch(Net().eval(), torch.randn(2, 3, 64, 64), runs=2)
    summary = times.summary(top=10, batch_size=2)
    names = [row["name"] for row in summary["top"]]
    assert set(names) >= {"big", "small", "fc"}
    assert [n for n in names if n != OUTSIDE][0] == "big"
    assert {r["type"] for r in summary["top"] if r["name"] == "big"} == {"Conv2d"}
    assert sum(r["share_pct"] for r in summary["top"]) == pytest.approx(100.0, abs=1.0)
    assert OUTSIDE in names
    assert summary["runs"] == 2 and "separate profiling run" in summary["note"]
    assert "| big " in profile_table(summary)


def test_torch_profile_removes_its_hooks():
    net = Net().eval()
    profile_torch(net, torch.randn(1, 3, 16, 16), runs=1)
    assert not net.big._forward_hooks and not net.big._forward_pre_hooks


def test_ort_trace_keeps_the_last_runs_only():
    events = [{"cat": "Session", "name": "model_run", "ts": 0, "dur": 5000},
              {"cat": "Node", "name": "a_kernel_time", "ts": 10, "dur": 4000, "args": {"op_name": "Conv"}},
              {"cat": "Session", "name": "model_run", "ts": 100, "dur": 2000},
              {"cat": "Node", "name": "a_kernel_time", "ts": 110, "dur": 1500, "args": {"op_name": "Conv"}},
              {"cat": "Node", "name": "b_kernel_time", "ts": 120, "dur": 500, "args": {"op_name": "Relu"}}]
    times = ort_trace_times(events, runs=1)
    assert times.layers == {"a": 1.5, "b": 0.5} and times.total_ms == 2.0 and times.types["b"] == "Relu"
    assert times.summary(1, 1)["top"] == [{"name": "a", "type": "Conv", "ms": 1.5, "share_pct": 75.0}]


def test_ort_profile_names_real_nodes(tmp_path):
    import onnx

    path = tmp_path / "net.onnx"
    torch.onnx.export(Net().eval(), torch.randn(1, 3, 32, 32), str(path), input_names=["x"], dynamo=False)
    times = profile_onnxruntime(path, torch.randn(1, 3, 32, 32).numpy(), ["CPUExecutionProvider"], runs=2,
                                workdir=tmp_path / "prof")
    assert times.runs == 2 and times.total_ms > 0 and times.layers
    graph_ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Conv", "Gemm"} <= set(times.types.values()) and "ReduceMean" in graph_ops  # ORT fuses and adds layout nodes
    assert sum(times.layers.values()) <= times.total_ms * 1.05
    assert not list((tmp_path / "prof").glob("*.json"))          # the trace file is removed


class _FakeTrt:
    class IProfiler:
        def __init__(self):
            pass


class _FakeContext:
    """Reports two layers per pass to whatever profiler is attached, like report_to_profiler()."""

    def __init__(self):
        self.profiler = None
        self.enqueue_emits_profile = True
        self.passes = 0

    def report_to_profiler(self):
        self.profiler.report_layer_time("conv1", 2.0)
        self.profiler.report_layer_time("fc", 0.5)
        return True


def test_tensorrt_layer_timer_sums_per_layer_after_a_warm_up_pass():
    from valsuite.tensorrt.layer_timer import profile_context

    ctx = _FakeContext()
    executed = []
    layers = profile_context(_FakeTrt, ctx, lambda: executed.append(1), lambda: None, runs=3)
    assert layers == {"conv1": 6.0, "fc": 1.5} and len(executed) == 4
    assert ctx.enqueue_emits_profile is False


@pytest.mark.skipif(not MANIFESTS.is_dir(), reason="TensorRT API manifests not found")
def test_tensorrt_profiler_names_exist_in_every_manifest():
    from tools.trt_apicheck import check_files, load_manifests

    manifests = load_manifests(MANIFESTS)
    report = check_files([Path("valsuite/tensorrt/layer_timer.py")], manifests)
    used = {u.text for u in report.uses}
    assert {"trt.IProfiler", "IExecutionContext.profiler", "IExecutionContext.report_to_profiler",
            "IExecutionContext.enqueue_emits_profile"} <= used
    assert report.violations == []
    for m in manifests:                                   # the method the subclass overrides
        assert m.has("IProfiler", "report_layer_time"), m.version


def test_run_records_a_profile_and_unsupported_backends_say_why(tmp_path):
    cfg = RunConfig(network="shufflenet_v2_x1_0", random_weights=True, batch_size=2, num_samples=4, workers=0,
                    progress=False, weights_dir=tmp_path, profile_layers=3, profile_runs=1)
    record = run_one(cfg).record
    assert len(record["layer_profile"]["top"]) == 3 and record["layer_profile"]["batch_size"] == 2
    assert record["latency_model_ms"]["count"] == 1          # the profile passes are not timed batches
    from valsuite.backends import create_backend
    from valsuite.models import resolve

    backend = create_backend("inductor", resolve("shufflenet_v2_x1_0", random_weights=True))
    with pytest.raises(ValsuiteError, match="not available for backend inductor"):
        backend.layer_times(torch.zeros(1, 3, 224, 224), 1)
