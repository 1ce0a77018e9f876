"""The benchmark matrix in its reduced form, end to end on the CPU: 2 backbones x 2 input sizes x
torch/ONNX Runtime, random weights, records -> matrix table, CSV and figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from valsuite.results.record import load_records

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("matplotlib")


@pytest.mark.slow
def test_reduced_matrix_sweep(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import matrix_sweep

    out = tmp_path / "sweep"
    rc = matrix_sweep.main(["--out", str(out), "--device", "cpu", "--targets", "torch:fp32,onnxruntime:fp32",
                            "--networks", "mobilenet_v3_small,shufflenet_v2_x1_0", "--sizes", "224x224,128x160",
                            "--batch", "2", "--batches", "3", "--profile-layers", "4", "--batch1", "torch:fp32"])
    assert rc == 0
    records = load_records(out / "records")
    assert len(records) == 2 * 2 * 2 + 2 and all(r["kind"] == "validation" for r in records)
    sizes = {(r["network"], tuple(r["input_size"]), r["backend"]) for r in records if r["batch_size"] == 2}
    assert len(sizes) == 8 and all(r["gflops"] > 0 for r in records)
    small = [r for r in records if r["input_size"] == [128, 160]]
    assert small and all(r["native_input_size"] is False and r["prec1"] is None for r in small)
    profiled = [r for r in records if "layer_profile" in r]
    assert {(r["network"], r["backend"]) for r in profiled} == {("mobilenet_v3_small", "torch"),
                                                                 ("shufflenet_v2_x1_0", "torch")}
    assert all(len(r["layer_profile"]["top"]) == 4 for r in profiled)
    report = (out / "report.md").read_text()
    assert "#### Benchmark matrix (synthetic input)" in report and "128x160*" in report
    assert {p.name.split("_")[0] for p in (out / "plots").iterdir()} >= {"overview", "layers", "timeline"}
    assert json.loads((out / "summary.json").read_text())["skipped_for_budget"] == []
    assert (out / "rows.csv").read_text().count("\n") == 11
