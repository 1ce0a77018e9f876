"""The TensorRT options on the command line: flavour and targets, build_trt.py on this CPU machine with
TensorRT-RTX, -trt rows skipped with the runtime's reason, and other tools' files as candidates."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from valsuite.errors import ValsuiteError
from valsuite.fileio import read_sidecar, sha256_file

RANDOM = ["--network", "resnet18", "--random-weights"]


def _main(argv: list[str]) -> tuple[int, str, str]:
    from valsuite.cli.common import run_script
    from valsuite.cli.main_cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_script(main, argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """ResNet18 (random) exported once for the tests below."""
    from valsuite.export.onnx_export import export_onnx
    from valsuite.models import resolve

    folder = tmp_path_factory.mktemp("weights")
    export_onnx(resolve("resnet18", random_weights=True), folder)
    return folder


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: None)


def test_build_trt_builds_a_static_rtx_engine_here(weights, capsys):
    from valsuite.cli.build_trt_cli import main

    assert main([*RANDOM, "--weights-dir", str(weights), "--input_shape", "1", "3", "224", "224",
                 "--trt-flavour", "rtx", "--trt-compute-capability", "8.6,8.9"]) == 0
    line = capsys.readouterr().out.strip()
    engine = Path(line.split()[0])
    assert engine.name.endswith("_fp32-static-b1.engine") and engine.is_file()
    sidecar = read_sidecar(engine)
    assert sidecar["flavour"] == "rtx" and sidecar["compute_capability_targets"] == ["8.6", "8.9"]
    assert sidecar["network_definition"]["layer_types"]["CONVOLUTION"] == 20
    assert "TensorRT-RTX 1.7.1" in line and "targets ['8.6', '8.9']" in line and "engine not inspected" in line


@pytest.mark.parametrize("args, message", [
    (["--calib-size", "10"], "--calib-size has no effect for an FP32 engine"),
    (["--int8", "--dataset", "d", "--onnx", "x.onnx"], "--dataset has no effect with --onnx"),
    (["--trt-compute-capability", "9.0"], "--trt-compute-capability 9.0: unknown compute capability"),
    (["--trt-flavour", "tensorrt"], "TensorRT is not installed"),
])
def test_build_trt_refusals_are_one_line(weights, args, message):
    from valsuite.cli.build_trt_cli import main
    from valsuite.cli.common import run_script

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert run_script(main, [*RANDOM, "--weights-dir", str(weights), *args]) == 2
    assert message in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1, err.getvalue()


def test_int8_build_without_calibration_images_stops_before_the_export(tmp_path, monkeypatch):
    from valsuite.cli.build_trt_cli import main
    from valsuite.cli.common import run_script

    monkeypatch.chdir(tmp_path)                      # no datasets/val here
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert run_script(main, [*RANDOM, "--weights-dir", str(tmp_path / "w"), "--int8"]) == 2
    assert "int8 calibration needs images" in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").iterdir())   # nothing exported first


def test_validation_lists_the_tensorrt_row_as_skipped_and_runs_the_others(weights, tmp_path, no_gpu):
    code, out, _ = _main(["-v", "-trt", "--backend", "onnxruntime", "--synthetic", "--num-samples", "4",
                          "--batch_size", "4", *RANDOM, "--weights-dir", str(weights), "--trt-flavour", "rtx",
                          "--results-dir", str(tmp_path), "--no-progress"])
    assert code == 0
    assert ("skipped tensorrt:fp32 on cpu: backend tensorrt is not available here: no GPU on this machine; "
            "TensorRT-RTX runs engines on compute capability 8.0, 8.6, 8.9, 12.0, 12.1") in out
    row = next(line for line in out.splitlines() if line.startswith("| tensorrt"))
    assert "skipped (see below)" in row                     # the reason under the table, not in a wide cell
    assert "\nskipped tensorrt:fp32: backend tensorrt is not available here: no GPU on this machine" in out
    assert any(line.startswith("| onnxruntime ") for line in out.splitlines())
    assert len(list(tmp_path.glob("*.json"))) == 1  # the skipped row is listed, not recorded as measured


def test_validation_with_only_unrunnable_rows_is_an_error(tmp_path, no_gpu):
    code, out, err = _main(["-v", "-trt", "--synthetic", *RANDOM, "--results-dir", str(tmp_path), "--no-progress"])
    assert code == 2 and "no requested backend/precision combination can run here" in err
    assert "tensorrt:fp32 on cpu: backend tensorrt is not available here: no GPU on this machine" in err


def test_compare_runs_an_external_onnx_and_skips_an_unrunnable_tensorrt_candidate(weights, tmp_path, no_gpu):
    mine = tmp_path / "someone_elses.onnx"
    shutil.copy(next(weights.glob("resnet18_*_dyn.onnx")), mine)
    out_json = tmp_path / "c.json"
    code, out, _ = _main(["--compare", "--inputs", "random", "--num_samples", "8", "--batch_size", "4", *RANDOM,
                          "--weights-dir", str(weights), "--candidates", f"onnxruntime:file={mine},tensorrt:fp16",
                          "--results-dir", str(tmp_path / "res"), "--output-json", str(out_json), "--no-progress"])
    assert code == 0, out
    record = json.loads(out_json.read_text())
    (cand,) = record["candidates"]
    assert cand["name"] == "onnxruntime:file=someone_elses.onnx" and cand["precision"] == "fp32"
    external = cand["details"]["external"]
    assert external["file"] == str(mine) and external["sha256"] == sha256_file(mine)
    assert cand["parity"]["top1_agreement_pct"] == 100.0
    assert record["skipped"] == [{"candidate": "tensorrt:fp16", "reason": "no GPU on this machine; TensorRT-RTX runs "
                                  "engines on compute capability 8.0, 8.6, 8.9, 12.0, 12.1"}]


def test_external_candidate_spellings(tmp_path):
    from valsuite.parity import parse_candidates

    engine = tmp_path / "e.engine"
    engine.write_bytes(b"plan from another tool")
    (cand,) = parse_candidates(f"tensorrt:int8:engine={engine}", "cuda")
    assert (cand.backend, cand.precision, cand.artifact, cand.name) == ("tensorrt", "int8", engine, "tensorrt:engine=e.engine")
    with pytest.raises(ValsuiteError, match="has no valsuite sidecar that says its precision"):
        parse_candidates(f"tensorrt:engine={engine}", "cuda")
    with pytest.raises(ValsuiteError, match="not a known artifact spelling"):
        parse_candidates(f"onnxruntime:engine={engine}", None)
    with pytest.raises(ValsuiteError, match="ONNX file not found"):
        parse_candidates(f"onnxruntime:file={tmp_path / 'none.onnx'}", None)
