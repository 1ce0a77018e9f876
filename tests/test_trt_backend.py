"""The tensorrt backend and the TensorRT CLI on a machine without TensorRT (this one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from valsuite.errors import ValsuiteError

ROOT = Path(__file__).resolve().parents[1]


def test_backend_module_imports_without_tensorrt():
    import valsuite.backends.tensorrt_backend as module

    assert "tensorrt" not in vars(module)
    from valsuite.backends import backend_class

    assert backend_class("trt") is module.TensorRTBackend


def test_available_names_the_gpu_and_what_the_flavour_supports(monkeypatch):
    from valsuite.backends.tensorrt_backend import TensorRTBackend
    from valsuite.tensorrt.flavour import GpuInfo

    monkeypatch.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: None)
    ok, reason = TensorRTBackend.available("rtx")
    assert not ok and reason.startswith("no GPU on this machine; TensorRT-RTX runs engines on compute capability 8.0")
    h200 = GpuInfo("NVIDIA H200", "9.0")
    monkeypatch.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: h200)
    ok, reason = TensorRTBackend.available("rtx")
    assert not ok and "NVIDIA H200 (compute capability 9.0)" in reason and "12.0" in reason and "\n" not in reason
    monkeypatch.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: GpuInfo("NVIDIA GeForce RTX 3060", "8.6"))
    assert TensorRTBackend.available("rtx") == (True, "")


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
    backend.options.extra["trt_flavour"] = "rtx"
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


def test_trt_args_seam():
    import argparse

    from valsuite.cli.trt_args import add_arguments, backend_extra_from_args, build_options_from_extra

    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="torch")
    add_arguments(parser)
    args = parser.parse_args(["-trt", "--engine", "x.engine", "--cuda-graph", "--max_batch", "512", "--tf32",
                              "--build_op_lvl", "4", "--workspace", "1024"])
    assert args.backend == "tensorrt" and args.engine == Path("x.engine") and args.cuda_graph
    extra = backend_extra_from_args(args)
    options = build_options_from_extra(extra, "fp16", (3, 224, 224), 64, Path("w"))
    assert options.shapes.to_dict() == {"min": [1, 3, 224, 224], "opt": [64, 3, 224, 224], "max": [512, 3, 224, 224]}
    assert (options.opt_level, options.workspace_mb, options.tf32) == (4, 1024, True)
    assert options.timing_cache == Path("w") / "tensorrt.timing.cache"
    other = argparse.ArgumentParser()
    other.add_argument("-trt", dest="backend", action="store_const", const="tensorrt")
    add_arguments(other)  # a main CLI that already has -trt keeps its own


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


def test_main_plugin_hooks_give_engine_and_cuda_graph_to_tensorrt_rows_only():
    from types import SimpleNamespace

    from valsuite.cli.main_cli import build_parser
    from valsuite.cli.trt_args import backend_extras, prepare_run

    args = build_parser().parse_args(["-v", "-trt", "--engine", "e.engine", "--cuda-graph", "--max_batch", "64"])
    assert args.trt and args.engine == Path("e.engine")
    rows = {name: SimpleNamespace(backend=name, backend_options=dict(backend_extras(args))) for name in ("torch", "tensorrt")}
    for cfg in rows.values():
        prepare_run(args, cfg, None)
    assert rows["tensorrt"].backend_options["artifact"] == Path("e.engine") and rows["tensorrt"].backend_options["cuda_graph"]
    assert "artifact" not in rows["torch"].backend_options and "cuda_graph" not in rows["torch"].backend_options
    assert rows["torch"].backend_options["trt_max_batch"] == 64


def test_main_help_works_without_tensorrt():
    run = subprocess.run([sys.executable, "main.py", "-h"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "-trt" in run.stdout and "--engine" in run.stdout and "--cuda-graph" in run.stdout
