"""End to end on the shared ImageNet sample: EfficientNet-Lite0 with real weights, torch vs onnxruntime."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO
from valsuite.evaluate.runner import RunConfig, run_one
from valsuite.evaluate.validate import top1_array

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outcomes(sample_val, tmp_path_factory):
    weights_dir = tmp_path_factory.mktemp("weights")
    runs = {}
    for backend in ("torch", "onnxruntime"):
        cfg = RunConfig(network="efficientnet_lite0", backend=backend, batch_size=64, dataset=sample_val,
                        workers=2, weights_dir=weights_dir, progress=False)
        runs[backend] = run_one(cfg)
    return runs


def test_every_image_is_evaluated_once(outcomes):
    for outcome in outcomes.values():
        record = outcome.record
        assert record["num_images"] == 600 == record["dataset"]["num_images"]
        assert record["num_batches"] == 10 and record["warmup_batches"] == 1 and record["timed_batches"] == 9
        assert sorted(outcome.result.indices) == list(range(600))


def test_torch_and_onnxruntime_agree_on_every_top1(outcomes):
    torch_top1 = top1_array(outcomes["torch"].result)
    ort_top1 = top1_array(outcomes["onnxruntime"].result)
    assert np.array_equal(torch_top1, ort_top1)
    assert outcomes["torch"].record["prec1"] == outcomes["onnxruntime"].record["prec1"]


def test_efficientnet_lite0_accuracy_on_the_sample(outcomes):
    record = outcomes["torch"].record
    assert record["prec1"] >= 80.0, record["prec1"]
    assert record["prec5"] >= record["prec1"]
    assert record["preprocess"]["interpolation"] == "bicubic"


def test_cli_validation_record(sample_val, tmp_path, outcomes):
    """The issue's acceptance command: exactly 600 images, prec1 equal to the torch backend's."""
    out = tmp_path / "r.json"
    result = subprocess.run(
        [sys.executable, "main.py", "-v", "--network", "efficientnet_lite0", "--backend", "onnxruntime",
         "--dataset", str(sample_val), "--batch_size", "50", "--output-json", str(out), "--no-progress",
         "--results-dir", str(tmp_path / "results"), "--weights-dir", str(tmp_path / "w")],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["num_images"] == 600 and record["batch_size"] == 50
    assert record["prec1"] == outcomes["torch"].record["prec1"]
    assert record["dataset"]["file_list_sha256"] == outcomes["torch"].record["dataset"]["file_list_sha256"]
    # Latency-all contains Latency-model (plus normalisation and copies) in every batch
    assert record["latency_all_ms"]["mean"] >= record["latency_model_ms"]["mean"] > 0
    assert record["latency_all_ms"]["count"] == record["timed_batches"] == 10  # 12 batches, 2 warm-up
