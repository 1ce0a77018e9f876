"""Profile shapes, engine naming, sidecar staleness and inspector parsing: no TensorRT needed."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from valsuite.errors import ValsuiteError
from valsuite.fileio import sha256_file, write_sidecar
from valsuite.tensorrt.cache import engine_path_for, stale_reason
from valsuite.tensorrt.engines import check_engine_file
from valsuite.tensorrt.flavour import GpuInfo
from valsuite.tensorrt.inspector import dtype_of_format, parse_engine_information
from valsuite.tensorrt.profile import ProfileShapes, profile_for_run, profile_from_args
from valsuite.tensorrt.versions import parse_version

# -- profiles -------------------------------------------------------------------------------------

def test_dynamic_profile_defaults_and_options():
    shapes = profile_from_args((-1, 3, 224, 224))
    assert (shapes.min, shapes.opt, shapes.max) == ((1, 3, 224, 224), (32, 3, 224, 224), (256, 3, 224, 224))
    assert shapes.dynamic and shapes.tag() == "dynamic-b1-32-256" and shapes.kind == "dynamic"
    shapes = profile_from_args((-1, 3, 240, 240), min_batch=4, opt_batch=8, max_batch=64)
    assert (shapes.min[0], shapes.opt[0], shapes.max[0]) == (4, 8, 64) and shapes.sample_shape == (3, 240, 240)
    assert profile_from_args((-1, 3, 224, 224), max_batch=16).opt[0] == 16  # opt clamped into the range


def test_static_profile():
    shapes = profile_from_args((32, 3, 224, 224))
    assert shapes.min == shapes.opt == shapes.max == (32, 3, 224, 224)
    assert not shapes.dynamic and shapes.tag() == "static-b32" and shapes.kind == "static"
    assert profile_from_args((8, 3, 224, 224), max_batch=8).tag() == "static-b8"


@pytest.mark.parametrize("shape, kwargs", [
    ((-1, 3, 224, 224), {"min_batch": 8, "opt_batch": 4}),
    ((-1, 3, 224, 224), {"min_batch": 0}),
    ((-1, 3, 224, 224), {"opt_batch": 300}),
    ((32, 3, 224, 224), {"max_batch": 64}),
    ((0, 3, 224, 224), {}),
    ((-1, 3, 224), {}),
    ((-1, 0, 224, 224), {}),
])
def test_bad_profiles_are_one_line_errors(shape, kwargs):
    with pytest.raises(ValsuiteError) as info:
        profile_from_args(shape, **kwargs)
    assert "\n" not in str(info.value)


def test_run_profile_covers_the_batch_size():
    assert profile_for_run((-1, 3, 224, 224), 64).to_dict()["opt"][0] == 64
    big = profile_for_run((-1, 3, 224, 224), 512)
    assert big.max[0] == 512 and big.covers(512)


def test_batch_check_includes_partial_batches():
    shapes = profile_from_args((-1, 3, 224, 224), min_batch=2, max_batch=32)
    shapes.check_batch(2)
    shapes.check_batch(32)
    for bad in (1, 33):
        with pytest.raises(ValsuiteError, match=f"batch size {bad} is outside"):
            shapes.check_batch(bad)
    assert ProfileShapes.from_dict(shapes.to_dict()) == shapes


# -- naming ---------------------------------------------------------------------------------------

def test_engine_names(tmp_path):
    dyn = profile_from_args((-1, 3, 224, 224))
    assert engine_path_for("resnet50_IMAGENET1K_V2", tmp_path, "int8", dyn) == \
        tmp_path / "resnet50_IMAGENET1K_V2_int8-dynamic-b1-32-256.engine"
    assert engine_path_for("m", "weights", "fp16", profile_from_args((8, 3, 224, 224))).name == "m_fp16-static-b8.engine"
    names = {engine_path_for("m", tmp_path, p, s).name for p in ("fp32", "fp16", "int8")
             for s in (dyn, profile_from_args((8, 3, 224, 224)))}
    assert len(names) == 6  # precision and profile never share a file


# -- staleness ------------------------------------------------------------------------------------

GPU = {"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}


def _trt(version: str, module: str = "tensorrt"):
    """A stand-in module: what check_engine_file reads is its name (the flavour) and version."""
    return SimpleNamespace(__name__=module, __version__=version)


@pytest.fixture(autouse=True)
def h100(monkeypatch):
    monkeypatch.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: GpuInfo(**GPU))


def _engine(tmp_path, **overrides):
    path = tmp_path / "m_fp16_dyn1-32-256.engine"
    path.write_bytes(b"plan-bytes")
    onnx = tmp_path / "m_fp16.onnx"
    onnx.write_bytes(b"onnx-bytes")
    facts = {"flavour": "tensorrt", "tensorrt_version": "10.13.3.9", "gpu": GPU, "onnx_sha256": sha256_file(onnx),
             "profile": profile_from_args((-1, 3, 224, 224)).to_dict(), "precision": "fp16",
             "build_options": {"opt_level": 3, "workspace_mb": None, "tf32": False}}
    sidecar = facts | {"engine_sha256": sha256_file(path), "onnx_path": str(onnx)} | overrides
    write_sidecar(path, sidecar)
    return path, facts, onnx


def test_fresh_engine_is_reused(tmp_path):
    path, facts, _ = _engine(tmp_path)
    assert stale_reason(path, facts) is None


@pytest.mark.parametrize("key, value, words", [
    ("tensorrt_version", "11.4.0.106", "tensorrt version differs"),
    ("gpu", {"name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0"}, "gpu differs"),
    ("gpu", {"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.1"}, "gpu differs"),
    ("onnx_sha256", "0" * 64, "onnx sha256 differs"),
    ("profile", profile_from_args((-1, 3, 224, 224), max_batch=512).to_dict(), "profile differs"),
    ("precision", "int8", "precision differs"),
    ("build_options", {"opt_level": 5, "workspace_mb": None, "tf32": False}, "build options differs"),
])
def test_each_identity_change_makes_the_engine_stale(tmp_path, key, value, words):
    path, facts, _ = _engine(tmp_path)
    reason = stale_reason(path, facts | {key: value})
    assert reason and words in reason


def test_missing_sidecar_or_changed_file_is_stale(tmp_path):
    path, facts, _ = _engine(tmp_path)
    path.write_bytes(b"other plan")
    assert "changed" in stale_reason(path, facts)
    (tmp_path / f"{path.name}.json").unlink()
    assert "sidecar" in stale_reason(path, facts)
    assert stale_reason(tmp_path / "none.engine", facts) == "missing"


def test_engine_by_path_is_refused_when_stale(tmp_path):
    path, facts, onnx = _engine(tmp_path)
    assert check_engine_file(path, "fp16", _trt("10.13.3.9"))["precision"] == "fp16"
    with pytest.raises(ValsuiteError, match="built for fp16, but this run asks for int8"):
        check_engine_file(path, "int8", _trt("10.13.3.9"))
    with pytest.raises(ValsuiteError, match="stale: tensorrt version differs: engine has 10.13.3.9, this run needs 11.4"):
        check_engine_file(path, "fp16", _trt("11.4.0.106"))
    with pytest.raises(ValsuiteError, match="stale: flavour differs: engine has tensorrt, this run needs rtx"):
        check_engine_file(path, "fp16", _trt("1.7.1.116", "tensorrt_rtx"))  # another flavour: never loaded
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: GpuInfo("NVIDIA L4", "8.9"))
        with pytest.raises(ValsuiteError, match="gpu differs"):
            check_engine_file(path, "fp16", _trt("10.13.3.9"))
    onnx.write_bytes(b"re-exported")
    with pytest.raises(ValsuiteError, match="ONNX .* changed since the build"):
        check_engine_file(path, "fp16", _trt("10.13.3.9"))
    with pytest.raises(ValsuiteError, match="not found"):
        check_engine_file(tmp_path / "nope.engine", "fp16", _trt("10.13.3.9"))


def test_engine_without_sidecar_is_refused(tmp_path):
    path = tmp_path / "x.engine"
    path.write_bytes(b"plan")
    with pytest.raises(ValsuiteError, match="no readable sidecar"):
        check_engine_file(path, "fp32", _trt("10.8.0.43"))


# -- inspector JSON -------------------------------------------------------------------------------
# Written by hand in the format TensorRT documents for get_engine_information(LayerInformationFormat.JSON)
# with ProfilingVerbosity.DETAILED: 10.x lists "Bindings" as names, 11.x "I/O Tensors" as objects.

def _layer(name, kind, in_fmt, out_fmt):
    return {"Name": name, "LayerType": kind,
            "Inputs": [{"Name": f"{name}_in", "Location": "Device", "Dimensions": [32, 64, 56, 56],
                        "Format/Datatype": in_fmt}],
            "Outputs": [{"Name": f"{name}_out", "Location": "Device", "Dimensions": [32, 64, 56, 56],
                         "Format/Datatype": out_fmt}],
            "TacticValue": "0x0000000000000001"}


SAMPLE_10X = json.dumps({
    "Layers": [
        _layer("input_quantize", "Scale", "Row major linear FP32", "Thirty-two wide channel vectorized row major Int8 format"),
        _layer("conv1 + relu", "CaskConvolution", "Thirty-two wide channel vectorized row major Int8 format",
               "Thirty-two wide channel vectorized row major Int8 format"),
        _layer("conv2", "CaskConvolution", "Channel major FP16 format where channel % 8 == 0",
               "Channel major FP16 format where channel % 8 == 0"),
        _layer("Reformatting CopyNode for Output Tensor 0", "Reformat", "Channel major FP16 format where channel % 8 == 0",
               "Row major linear FP32"),
        _layer("gemm", "CaskGemmMatrixMultiply", "Row major linear BF16 format", "Row major linear FP32"),
        {"Name": "shape_only", "LayerType": "NoOp", "Inputs": [], "Outputs": []},
    ],
    "Bindings": ["input", "logits"],
})
SAMPLE_11X = json.dumps({
    "Layers": [_layer("conv1", "CaskConvolution", "Row major linear FP32", "Row major linear FP32")],
    "I/O Tensors": [{"Name": "input", "IOMode": "Input", "DataType": "Float", "Dimensions": [-1, 3, 224, 224]},
                    {"Name": "logits", "IOMode": "Output", "DataType": "Float", "Dimensions": [-1, 1000]}],
})


def test_inspector_summary_10x():
    summary = parse_engine_information(SAMPLE_10X)
    assert summary["num_layers"] == 6 and summary["detailed"]
    assert summary["by_precision"] == {"bf16": 1, "fp16": 2, "fp32": 1, "int8": 1, "unknown": 1}
    assert summary["by_type"]["CaskConvolution"] == 2
    assert summary["io_tensors"] == ["input", "logits"]
    assert summary["layers"][1] == {"name": "conv1 + relu", "type": "CaskConvolution", "precision": "int8"}


def test_inspector_summary_11x_and_names_only():
    summary = parse_engine_information(SAMPLE_11X)
    assert summary["by_precision"] == {"fp32": 1} and summary["io_tensors"] == ["input", "logits"]
    names_only = parse_engine_information(json.dumps({"Layers": ["conv1 + relu", "fc"], "Bindings": ["input", "logits"]}))
    assert names_only["num_layers"] == 2 and not names_only["detailed"]
    assert names_only["by_precision"] == {"unknown": 2}
    with pytest.raises(ValueError):
        parse_engine_information("not json")


@pytest.mark.parametrize("text, dtype", [
    ("Row major linear FP32", "fp32"), ("Float", "fp32"), ("Half", "fp16"),
    ("Channel major FP16 format where channel % 2 == 0", "fp16"), ("Row major linear BFloat16", "bf16"),
    ("Thirty-two wide channel vectorized row major Int8 format.", "int8"), ("Row major linear UInt8", "uint8"),
    ("Row major linear FP8", "fp8"), ("Row major linear Int32", "int32"), ("N/A due to dynamic shapes", "unknown"),
])
def test_dtype_of_format(text, dtype):
    assert dtype_of_format(text) == dtype


def test_parse_version():
    assert parse_version("10.13.3.9") == (10, 13, 3, 9)
    assert parse_version("11.4.0.106") >= (11,)
    assert parse_version("10.8.0.43")[:2] == (10, 8)
