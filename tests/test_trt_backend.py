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
