"""The tensorrt backend and the TensorRT CLI on a machine without TensorRT (this one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from valsuite.errors import ValsuiteError

ROOT = Path(__file__).resolve().parents[1]


def _has_tensorrt() -> bool:
    try:
        import tensorrt  # noqa: F401
    except Exception:
        return False
    return True


def test_backend_module_imports_without_tensorrt():
    import valsuite.backends.tensorrt_backend as module

    assert "tensorrt" not in vars(module)
    from valsuite.backends import backend_class

    assert backend_class("trt") is module.TensorRTBackend


@pytest.mark.skipif(_has_tensorrt(), reason="TensorRT is installed here")
def test_available_says_how_to_install():
    from valsuite.backends.tensorrt_backend import TensorRTBackend

    ok, reason = TensorRTBackend.available()
    assert not ok and "pip install tensorrt" in reason and "\n" not in reason


@pytest.mark.skipif(_has_tensorrt(), reason="TensorRT is installed here")
def test_activate_without_tensorrt_is_one_line_error():
    from valsuite.backends.tensorrt_backend import TensorRTBackend
    from valsuite.models import resolve

    spec = resolve("resnet18", random_weights=True)
    backend = TensorRTBackend(spec, precision="fp32", device="cuda")
    with pytest.raises(ValsuiteError, match="TensorRT is not installed.*pip install tensorrt") as info:
        backend.activate()
    assert "\n" not in str(info.value)


def test_cpu_device_and_bf16_are_refused():
    from valsuite.backends.tensorrt_backend import TensorRTBackend
    from valsuite.models import resolve

    spec = resolve("resnet18", random_weights=True)
    with pytest.raises(ValsuiteError, match="runs on an NVIDIA GPU only, not on cpu"):
        TensorRTBackend(spec, device="cpu")
    with pytest.raises(ValsuiteError, match="does not support precision bf16"):
        TensorRTBackend(spec, precision="bf16", device="cuda")


def test_no_gpu_is_one_line_error(monkeypatch):
    import torch

    from valsuite.tensorrt.gpu import require_cuda

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValsuiteError, match="needs an NVIDIA GPU"):
        require_cuda()


def test_trt_option_groups_make_build_options():
    from valsuite.cli.main_cli import build_parser
    from valsuite.options.job import JobOptions
    from valsuite.tensorrt.profile import profile_for_run

    args = build_parser().parse_args(["-trt", "--engine", "x.engine", "--cuda-graph", "--max_batch", "512", "--tf32",
                                      "--build_op_lvl", "4", "--workspace", "1024"])
    job = JobOptions.from_args(args)
    assert job.run.backends() == ["tensorrt"] and job.trt_run.engine == Path("x.engine") and job.speed.cuda_graph
    build = job.trt
    shapes = profile_for_run((-1, 3, 224, 224), 64, build.min_batch, build.opt_batch, build.max_batch)
    options = build.build_options("fp16", shapes, Path("w"))
    assert options.shapes.to_dict() == {"min": [1, 3, 224, 224], "opt": [64, 3, 224, 224], "max": [512, 3, 224, 224]}
    assert (options.opt_level, options.workspace_mb, options.tf32) == (4, 1024, True)
    assert options.timing_cache == Path("w") / "tensorrt.timing.cache"
    assert build.to_argv() == ["--max_batch", "512", "--build_op_lvl", "4", "--workspace", "1024", "--tf32"]


def test_build_trt_help_and_missing_tensorrt():
    help_run = subprocess.run([sys.executable, "build_trt.py", "-h"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert help_run.returncode == 0
    for flag in ("--fp16", "--int8", "--input_shape", "--min_batch", "--opt_batch", "--max_batch", "--engine_name",
                 "--build_op_lvl", "--timing-cache", "--workspace", "--tf32"):
        assert flag in help_run.stdout
    if _has_tensorrt():
        return
    run = subprocess.run([sys.executable, "build_trt.py", "--network", "resnet18", "--random-weights",
                          "--input_shape", "-1", "3", "224", "224"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install tensorrt" in lines[0]


def test_build_trt_bad_profile_is_exit_2():
    run = subprocess.run([sys.executable, "build_trt.py", "--network", "resnet18", "--random-weights",
                          "--input_shape", "32", "3", "224", "224", "--max_batch", "64"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "fixes the batch to 32" in run.stderr


def test_engine_and_cuda_graph_reach_the_rows_that_read_them():
    from valsuite.cli.main_cli import build_parser
    from valsuite.options.job import JobOptions

    args = build_parser().parse_args(["-v", "-trt", "--engine", "e.engine", "--cuda-graph", "--max_batch", "64"])
    job = JobOptions.from_args(args)
    rows = {name: job.backend_options(name, None) for name in ("torch", "tensorrt", "onnxruntime")}
    assert rows["tensorrt"].artifact == Path("e.engine") and rows["tensorrt"].cuda_graph
    assert rows["torch"].artifact is None and rows["torch"].cuda_graph
    assert not rows["onnxruntime"].cuda_graph
    assert rows["torch"].trt.max_batch == 64


def test_main_help_works_without_tensorrt():
    run = subprocess.run([sys.executable, "main.py", "-h"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "-trt" in run.stdout and "--engine" in run.stdout and "--cuda-graph" in run.stdout
