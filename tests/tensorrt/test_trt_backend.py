"""The tensorrt backend and the TensorRT CLI on a machine without TensorRT (this one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from valsuite.errors import ValsuiteError

ROOT = Path(__file__).resolve().parents[2]


def test_backend_module_imports_without_tensorrt():
    import valsuite.backends.tensorrt_backend as module

    assert "tensorrt" not in vars(module)
    from valsuite.backends import backend_class

    assert backend_class("trt") is module.TensorRTBackend


def test_available_names_the_gpu_and_what_the_flavour_supports(monkeypatch):
    from valsuite.backends import backend_available
    from valsuite.backends.base import BackendOptions
    from valsuite.backends.tensorrt_backend import TensorRTBackend
    from valsuite.options.trt import TrtBuildOptions
    from valsuite.tensorrt.flavour import GpuInfo

    rtx = BackendOptions(trt=TrtBuildOptions(trt_flavour="rtx"))

    monkeypatch.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: None)
    ok, reason = TensorRTBackend.available(rtx)
    assert not ok and reason.startswith("no GPU on this machine; TensorRT-RTX runs engines on compute capability 8.0")
    h200 = GpuInfo("NVIDIA H200", "9.0")
    monkeypatch.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: h200)
    ok, reason = TensorRTBackend.available(rtx)
    assert not ok and "NVIDIA H200 (compute capability 9.0)" in reason and "12.0" in reason and "\n" not in reason
    monkeypatch.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: GpuInfo("NVIDIA GeForce RTX 3060", "8.6"))
    assert TensorRTBackend.available(rtx) == (True, "") == backend_available("tensorrt", rtx)


def test_no_flavour_installed_is_one_line_error(monkeypatch):
    import importlib

    from valsuite.tensorrt.flavour import get_flavour

    real = importlib.import_module

    def no_tensorrt(name, *args):
        if name in ("tensorrt", "tensorrt_rtx"):
            raise ImportError(f"No module named '{name}'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_tensorrt)
    with pytest.raises(ValsuiteError, match="no TensorRT flavour is installed.*pip install tensorrt-rtx-cu13") as info:
        get_flavour("auto")
    assert "\n" not in str(info.value)
    with pytest.raises(ValsuiteError, match="TensorRT-RTX is not installed"):
        get_flavour("rtx").import_module()


def test_activate_on_a_machine_the_flavour_cannot_run_is_one_line_error(monkeypatch):
    from valsuite.backends.tensorrt_backend import TensorRTBackend
    from valsuite.models import resolve

    monkeypatch.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: None)
    spec = resolve("resnet18", random_weights=True)
    backend = TensorRTBackend(spec, precision="fp32", device="cuda")
    backend.options.trt.trt_flavour = "rtx"
    with pytest.raises(ValsuiteError, match="^no GPU on this machine; TensorRT-RTX runs engines") as info:
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


def test_trt_option_groups_make_build_options():
    from valsuite.cli.main_cli import build_parser
    from valsuite.options.job import JobOptions
    from valsuite.tensorrt.profile import profile_for_run

    args = build_parser().parse_args(["-trt", "--engine", "x.engine", "--cuda-graph", "--max_batch", "512", "--tf32",
                                      "--build_op_lvl", "4", "--workspace", "1024", "--trt-flavour", "rtx",
                                      "--trt-compute-capability", "8.6,12.0"])
    job = JobOptions.from_args(args)
    assert job.run.backends() == ["tensorrt"] and job.trt_run.engine == Path("x.engine") and job.speed.cuda_graph
    build = job.trt
    shapes = profile_for_run((-1, 3, 224, 224), 64, build.min_batch, build.opt_batch, build.max_batch)
    options = build.build_options("fp16", shapes, Path("w"))
    assert options.shapes.to_dict() == {"min": [1, 3, 224, 224], "opt": [64, 3, 224, 224], "max": [512, 3, 224, 224]}
    assert (options.opt_level, options.workspace_mb, options.tf32) == (4, 1024, True)
    assert options.timing_cache == Path("w") / "tensorrt.timing.cache"
    assert build.to_argv() == ["--max_batch", "512", "--build_op_lvl", "4", "--workspace", "1024", "--tf32",
                               "--trt-flavour", "rtx", "--trt-compute-capability", "8.6,12.0"]
    assert build.build_options_for(build.flavour(), "fp16", shapes, Path("w")).targets == ("8.6", "12.0")
    with pytest.raises(ValsuiteError, match="--trt-compute-capability 9.0: unknown compute capability"):
        JobOptions.from_args(build_parser().parse_args(["-trt", "--trt-compute-capability", "9.0"]))


def test_build_trt_help():
    help_run = subprocess.run([sys.executable, "build_trt.py", "-h"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert help_run.returncode == 0
    for flag in ("--fp16", "--int8", "--input_shape", "--min_batch", "--opt_batch", "--max_batch", "--engine_name",
                 "--build_op_lvl", "--timing-cache", "--workspace", "--tf32"):
        assert flag in help_run.stdout


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
