"""Scripts: help without optional engines, user errors as one line with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


def run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("script", ["main.py", "onnx_transform.py"])
def test_help_works(script):
    result = run(script, "-h")
    assert result.returncode == 0 and "usage:" in result.stdout


def test_import_valsuite_needs_no_optional_engines():
    code = ("import sys, valsuite, valsuite.backends, valsuite.cli.main_cli; "
            "bad = [m for m in ('tensorrt', 'ultralytics', 'onnxruntime', 'torch') if m in sys.modules]; "
            "print(bad)")
    result = run("-c", code)
    assert result.returncode == 0 and result.stdout.strip() == "[]"


@pytest.mark.parametrize("args,message", [
    (["-v", "--network", "resnet05", "--synthetic"], "unknown network 'resnet05' (did you mean resnet50?)"),
    (["-v", "--synthetic", "--batch_size", "0"], "--batch_size must be at least 1"),
    (["-v", "--dataset", "no/such/folder"], "dataset folder not found: no/such/folder"),
    (["-v", "--synthetic", "--backend", "torch", "--precision", "int8"], "does not support precision int8"),
    (["-v", "--synthetic", "--backend", "torch", "--precision", "fp16", "--device", "cpu"], "runs on CUDA only"),
    (["-v", "--synthetic", "--backend", "nosuch"], "unknown backend 'nosuch'"),
])
def test_user_errors_are_one_line_and_exit_2(tmp_path, args, message):
    result = run("main.py", *args, "--results-dir", str(tmp_path), "--no-progress")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_synthetic_validation_writes_a_record(tmp_path):
    out = tmp_path / "r.json"
    result = run("main.py", "-v", "--synthetic", "--num-samples", "10", "--batch_size", "4",
                 "--network", "resnet18", "--random-weights", "--backend", "onnxruntime",
                 "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "res"),
                 "--output-json", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["num_images"] == 10 and record["prec1"] is None and record["input"] == "synthetic"
    assert record["latency_all_ms"]["count"] == 2  # 3 batches (4, 4, 2), the first is warm-up
    assert len(list((tmp_path / "res").glob("*.json"))) == 1
    assert "| onnxruntime" in result.stdout


def test_onnx_transform_script(tmp_path):
    result = run("onnx_transform.py", "--network", "resnet18", "--random-weights", "--input_shape", "-1", "3",
                 "224", "224", "--weights-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "max |onnxruntime - torch|" in result.stdout
    assert len(list(tmp_path.glob("resnet18_random_dyn.onnx*"))) == 2   # the ONNX and its sidecar
