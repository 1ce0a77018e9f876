"""End-to-end precision targets on ../shared/imagenet-sample with EfficientNet-Lite0 (slow).

Calibrate on a seeded half of the 600 images (the default when calibrating from the evaluation
folder), evaluate the other half with ONNX Runtime CPU, compare with the FP32 ONNX.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO
from valsuite.fileio import read_sidecar

pytestmark = pytest.mark.slow
CALIB = 300


@pytest.fixture(scope="module")
def lite0(sample_val, tmp_path_factory):
    from valsuite.data.manifest import scan_dataset
    from valsuite.export.onnx_export import export_onnx
    from valsuite.models import resolve
    from valsuite.precision import PrecisionOptions, calibration_exclusions, ensure_precision_onnx

    spec = resolve("efficientnet_lite0")
    weights = tmp_path_factory.mktemp("weights")
    fp32 = export_onnx(spec, weights)
    options = PrecisionOptions(eval_dataset=sample_val, calib_size=CALIB)
    paths = {p: ensure_precision_onnx(spec, p, fp32, options) for p in ("fp32", "fp16", "int8")}
    manifest = scan_dataset(sample_val)
    excluded, facts = calibration_exclusions(options, manifest)
    return spec, weights, paths, manifest.without(excluded), excluded, facts


def predictions(path, spec, manifest, batch=50):
    import onnxruntime as ort
    import torch

    from valsuite.data.preprocess import load_uint8, normalize

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    preds = []
    for i in range(0, len(manifest), batch):
        chunk = manifest.entries[i:i + batch]
        raw = torch.from_numpy(np.stack([load_uint8(manifest.path(e), spec.preprocess) for e in chunk]))
        preds.append(sess.run(None, {"input": normalize(raw, spec.preprocess).numpy()})[0].argmax(1))
    return np.concatenate(preds)


def test_accuracy_targets(lite0):
    spec, _, paths, manifest, excluded, facts = lite0
    assert len(excluded) == CALIB and len(manifest) == 600 - CALIB and facts["excluded_images"] == CALIB
    labels = np.array([e.label for e in manifest.entries])
    pred = {p: predictions(path, spec, manifest) for p, path in paths.items()}
    prec1 = {p: float((v == labels).mean() * 100) for p, v in pred.items()}
    agree = {p: float((v == pred["fp32"]).mean() * 100) for p, v in pred.items()}
    print(json.dumps({"prec1": prec1, "agreement": agree}))
    assert agree["fp16"] >= 99.5
    assert prec1["int8"] >= prec1["fp32"] - 1.0
    assert agree["int8"] >= 98.0
    side = read_sidecar(paths["int8"])
    assert side["qdq_pairs"] > 0 and side["calibration"]["num_images"] == CALIB


def test_fp16_storage_simulation_agrees(lite0):
    """ORT CPU runs FP16 chains in FP32; this rounds every tensor to FP16 to check the target honestly."""
    import onnx

    from valsuite.precision.fp16 import simulate_fp16_storage

    spec, _, paths, manifest, _, _ = lite0
    kept = {k["node"] for k in read_sidecar(paths["fp16"])["kept_fp32"]}
    sim = simulate_fp16_storage(onnx.load(str(paths["fp32"])), kept)
    sim_path = paths["fp32"].with_name("sim_fp16.onnx")
    onnx.save(sim, str(sim_path))
    agree = (predictions(sim_path, spec, manifest) == predictions(paths["fp32"], spec, manifest)).mean()
    assert agree >= 0.995


def test_main_py_int8_record(lite0, sample_val, tmp_path):
    _, weights, paths, _, _, _ = lite0
    out = tmp_path / "rec.json"
    cmd = [sys.executable, "main.py", "-v", "--backend", "onnxruntime", "--precision", "int8",
           "--dataset", str(sample_val), "--calib-size", str(CALIB), "--weights-dir", str(weights),
           "--batch_size", "50", "--workers", "1", "--no-progress", "--results-dir", str(tmp_path / "r"),
           "--output-json", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = json.loads(out.read_text())
    assert rec["precision"] == "int8" and rec["artifact"] == str(paths["int8"])
    assert rec["model_size_mb"] < 0.5 * paths["fp32"].stat().st_size / 2**20 and rec["num_layers"] > 0
    cal = rec["backend_details"]["calibration"]
    assert cal["num_images"] == CALIB and cal["method"] and len(cal["cache_key"]) == 64
    assert rec["dataset"]["excluded_images"] == CALIB and rec["num_images"] == 600 - CALIB
    assert "calibration image" in rec["dataset"]["excluded_reason"]
