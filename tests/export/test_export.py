"""ONNX export: checked against torch, dynamic batch, cached with a sidecar, stale when inputs change."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from valsuite.errors import ValsuiteError
from valsuite.export.onnx_export import export_onnx, parse_input_shape, stale_reason
from valsuite.fileio import read_sidecar
from valsuite.models import resolve


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    spec = resolve("efficientnet_lite0")
    weights_dir = tmp_path_factory.mktemp("weights")
    return spec, weights_dir, export_onnx(spec, weights_dir, [-1, 3, 224, 224])


def test_export_is_checked_and_has_a_dynamic_batch(exported):
    spec, _, path = exported
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param == "batch"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        out = session.run(None, {"input": np.zeros((batch, 3, 224, 224), np.float32)})[0]
        assert out.shape == (batch, 1000)
    facts = read_sidecar(path)
    assert facts["max_abs_diff_vs_torch"] < 1e-3 and len(facts["sha256"]) == 64
    assert facts["preprocess"]["interpolation"] == "bicubic" and facts["input_shape"] == [-1, 3, 224, 224]


def test_export_is_simplified_and_the_unsimplified_file_is_kept_aside(exported):
    """onnxslim folds EfficientNet-Lite0's run-time padding arithmetic; outputs stay the same."""
    from valsuite.export.simplify import max_abs_diff, unsimplified_path

    _, _, path = exported
    facts = read_sidecar(path)["simplify"]
    raw = unsimplified_path(path)
    assert facts["applied"] and facts["tool"].startswith("onnxslim-") and facts["unsimplified_path"] == str(raw)
    before, after = onnx.load(str(raw)), onnx.load(str(path))
    assert (facts["nodes_before"], facts["nodes_after"]) == (len(before.graph.node), len(after.graph.node))
    ops_after = {n.op_type for n in after.graph.node}
    assert facts["ops_before"]["Slice"] > 0 and facts["ops_before"]["Pad"] > 0
    assert not ops_after & {"Slice", "Pad", "ConstantOfShape"}  # padding folded into the Conv pads
    assert sum(n.op_type == "Conv" for n in after.graph.node) == sum(n.op_type == "Conv" for n in before.graph.node)
    assert facts["max_abs_diff_vs_unsimplified"] < 1e-4
    assert max_abs_diff(raw, path, (-1, 3, 224, 224), seed=7, batch=8) < 1e-4  # another batch, independently


def test_cached_export_is_reused_and_tampering_is_detected(exported):
    spec, weights_dir, path = exported
    mtime = path.stat().st_mtime_ns
    assert export_onnx(spec, weights_dir) == path and path.stat().st_mtime_ns == mtime
    with open(path, "ab") as handle:
        handle.write(b"garbage")
    assert stale_reason(path, {}) == "file content no longer matches its sidecar sha256 (truncated or modified)"
    export_onnx(spec, weights_dir)   # rebuilt, not reused
    onnx.checker.check_model(str(path))


def test_changed_preprocessing_marks_the_onnx_stale(exported):
    spec, weights_dir, path = exported
    from valsuite.export.onnx_export import export_facts

    facts = export_facts(spec, (-1, 3, 224, 224), 17)
    assert stale_reason(path, facts) is None
    assert stale_reason(path, export_facts(spec, (-1, 3, 224, 224), 17, simplify=False)) == "simplifier changed"
    facts["preprocess"] = dict(facts["preprocess"], resize_size=232)
    assert stale_reason(path, facts) == "preprocess changed"


def test_input_shape_rules():
    spec = resolve("resnet50", random_weights=True)
    assert parse_input_shape([-1, 3, 224, 224], spec) == (-1, 3, 224, 224)
    assert parse_input_shape([8, 3, 224, 224], spec) == (8, 3, 224, 224)
    assert parse_input_shape(None, spec) == (-1, 3, 224, 224)
    with pytest.raises(ValsuiteError, match="does not match"):
        parse_input_shape([-1, 3, 256, 256], spec)
    with pytest.raises(ValsuiteError, match="at least 1"):
        parse_input_shape([-5, 3, 224, 224], spec)


def test_static_batch_export(tmp_path):
    spec = resolve("resnet18", random_weights=True)
    path = export_onnx(spec, tmp_path, [2, 3, 224, 224])
    assert path.name.endswith("_b2.onnx")
    model = onnx.load(str(path))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    assert read_sidecar(path)["simplify"]["applied"]
    with pytest.raises(ValsuiteError, match="opset 13 is too old"):
        export_onnx(spec, tmp_path, opset=13)
