"""Artifacts from other tools as candidates: layout checks, sha256, detected precision, ORT end to end."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from valsuite.errors import ValsuiteError
from valsuite.external import external_engine, external_onnx, load_external
from valsuite.fileio import sha256_file

SPEC = SimpleNamespace(network="tiny", input_shape=(3, 8, 8), num_classes=4)


def _onnx(path, size=8, classes=4, dtype=TensorProto.FLOAT, qdq=False, extra_input=False):
    """Conv -> GlobalAveragePool -> Flatten: (N, 3, size, size) -> (N, classes)."""
    np_dtype = np.float16 if dtype == TensorProto.FLOAT16 else np.float32
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((classes, 3, 3, 3)).astype(np_dtype), "w")
    nodes, conv_in, inits = [], "input", [w]
    if qdq:
        inits += [numpy_helper.from_array(np.array(0.05, np.float32), "s"),
                  numpy_helper.from_array(np.array(0, np.int8), "z")]
        nodes += [helper.make_node("QuantizeLinear", ["input", "s", "z"], ["q"]),
                  helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"])]
        conv_in = "dq"
    nodes += [helper.make_node("Conv", [conv_in, "w"], ["c"], pads=[1, 1, 1, 1]),
              helper.make_node("GlobalAveragePool", ["c"], ["g"]),
              helper.make_node("Flatten", ["g"], ["logits"])]
    inputs = [helper.make_tensor_value_info("input", dtype, ["batch", 3, size, size])]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("mask", dtype, ["batch", 1]))
    graph = helper.make_graph(nodes, "tiny", inputs, [helper.make_tensor_value_info("logits", dtype, ["batch", classes])],
                              inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_external_onnx_records_the_file_sha256_and_precision(tmp_path):
    art = external_onnx(SPEC, _onnx(tmp_path / "m.onnx"))
    assert art.sha256 == sha256_file(tmp_path / "m.onnx") and art.precision == "fp32"
    assert art.input_shape == (-1, 3, 8, 8) and art.output_shape == (-1, 4)
    assert art.label == "onnxruntime:file=m.onnx"
    record = art.describe()
    assert record["file"] == str(tmp_path / "m.onnx") and record["sha256"] == art.sha256 and record["external"]
    assert external_onnx(SPEC, _onnx(tmp_path / "q.onnx", qdq=True)).precision == "int8"
    assert external_onnx(SPEC, _onnx(tmp_path / "h.onnx", dtype=TensorProto.FLOAT16)).precision == "fp16"


@pytest.mark.parametrize("kwargs, words", [
    ({"size": 16}, r"takes input \(-1, 3, 16, 16\), but tiny with these weights takes \(N, 3, 8, 8\)"),
    ({"classes": 10}, r"returns \(-1, 10\), but valsuite needs \(N, 4\) logits"),
    ({"extra_input": True}, "has 2 inputs and 1 outputs"),
])
def test_layout_mismatch_is_one_line(tmp_path, kwargs, words):
    with pytest.raises(ValsuiteError, match=words) as info:
        external_onnx(SPEC, _onnx(tmp_path / "m.onnx", **kwargs))
    assert "\n" not in str(info.value)


def test_missing_or_unreadable_files(tmp_path):
    with pytest.raises(ValsuiteError, match="ONNX file not found"):
        external_onnx(SPEC, tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 not protobuf at all \xff" * 10)
    with pytest.raises(ValsuiteError, match="is not a readable ONNX file"):
        external_onnx(SPEC, junk)
    with pytest.raises(ValsuiteError, match="cannot take an external artifact"):
        load_external(SPEC, "torch", junk)


def test_onnxruntime_backend_runs_an_external_file_and_refuses_the_wrong_row(tmp_path):
    import torch

    from valsuite.backends.base import BackendOptions
    from valsuite.backends.onnxruntime_backend import OnnxRuntimeBackend

    path = _onnx(tmp_path / "m.int8.onnx", qdq=True)
    backend = OnnxRuntimeBackend(SPEC, "int8", "cpu", BackendOptions(artifact=path))
    with backend:
        out, _ = backend.infer(torch.zeros((2, 3, 8, 8)))
        info = backend.info()
    assert tuple(out.shape) == (2, 4)
    assert info.details["sha256"] == sha256_file(path) and info.details["external"]["precision_detected"] == "int8"
    with pytest.raises(ValsuiteError, match="holds a int8 graph, but its row is fp32"):
        OnnxRuntimeBackend(SPEC, "fp32", "cpu", BackendOptions(artifact=path)).activate()


def test_external_engine_layout_from_its_sidecar_or_later(tmp_path):
    from valsuite.tensorrt.build import BuildOptions, build_engine
    from valsuite.tensorrt.engines import expected_facts
    from valsuite.tensorrt.flavour import get_flavour
    from valsuite.tensorrt.profile import profile_from_args

    rtx = get_flavour("rtx").import_module()
    onnx_path = _onnx(tmp_path / "m.onnx")
    engine = tmp_path / "m.engine"
    options = BuildOptions("fp32", profile_from_args((-1, 3, 8, 8), 1, 2, 4))
    build_engine(rtx, onnx_path, engine, options, expected_facts(rtx, onnx_path, options))
    art = external_engine(SPEC, engine)
    assert art.input_shape == (-1, 3, 8, 8) and art.facts["flavour"] == "rtx" and art.sha256 == sha256_file(engine)
    assert art.label == "tensorrt:engine=m.engine" and art.facts["layout_checked"] == "from its sidecar"
    with pytest.raises(ValsuiteError, match=r"takes \(N, 3, 16, 16\)"):
        external_engine(SimpleNamespace(network="big", input_shape=(3, 16, 16), num_classes=4), engine)
    bare = tmp_path / "other_tool.engine"
    bare.write_bytes(engine.read_bytes())  # no sidecar: checked once deserialized on a GPU
    assert "after deserializing" in external_engine(SPEC, bare).facts["layout_checked"]
