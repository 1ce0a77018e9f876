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


def test_option_groups_round_trip_and_help_everywhere():
    from valsuite.backends import backend_names
    from valsuite.cli.main_cli import build_parser
    from valsuite.options.job import JobOptions
    from valsuite.options.run import BACKENDS

    parser = build_parser()
    assert all(action.help for action in parser._actions), "every option has help text"
    assert list(BACKENDS) == backend_names()
    backend_help = next(a.help for a in parser._actions if "--backend" in a.option_strings)
    assert all(name in backend_help for name in backend_names())
    argv = ["--network", "resnet18", "--synthetic", "--num_samples", "16", "--backend", "torch,onnxruntime",
            "--tf32", "--cache", "c", "--calib-size", "9", "--inductor-mode", "aot", "--rtol", "0.01"]
    job = JobOptions.from_args(parser.parse_args(argv))
    again = JobOptions.from_args(parser.parse_args(job.to_argv()))
    assert again == job and sorted(job.to_argv()) == sorted(argv)


@pytest.mark.parametrize("args,message", [
    (["-v", "--random-weights", "--weights", "DEFAULT", "--synthetic"], "--random-weights and --weights exclude"),
    (["-v", "--dataset", "x", "--num_samples", "16"], "--num_samples has no effect with a dataset folder"),
    (["-v", "--synthetic", "--localize"], "--localize has no effect without --compare"),
    (["-v", "--synthetic", "--backend", "torch", "--engine", "e.engine"], "--engine has no effect without a tensorrt"),
    (["--backend", "onnxruntime"], "--backend has no effect in the default job"),
    (["--report", "--tf32"], "--tf32 has no effect with --report"),
    (["--sweep", "--network", "resnet18"], "--network has no effect with --sweep"),
    (["--compare", "--synthetic"], "--synthetic has no effect with --compare"),
    (["--compare", "--inputs", "random", "--dataset", "x", "--candidates", "onnxruntime:fp32"],
     "--dataset has no effect with --inputs random and no int8 candidate"),
    (["--compare", "--val_dataset", "--dataset", "x", "--num_samples", "9"], "--num_samples has no effect"),
])
def test_options_a_mode_does_not_read_are_refused(tmp_path, args, message):
    from valsuite.cli.common import run_script
    from valsuite.cli.main_cli import main

    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = run_script(main, [*args, "--results-dir", str(tmp_path)])
    assert code == 2 and message in err.getvalue(), err.getvalue()


@pytest.mark.parametrize("entry", [["main.py"], ["-m", "valsuite"]])
def test_argparse_errors_are_one_line_and_a_pointer_to_help(entry):
    result = run(*entry, "--batch_size", "many")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 2, result.stderr
    assert lines[0].startswith("error: argument --batch_size") and "-h" in lines[1] and "usage:" not in result.stderr
