"""onnxslim after export: outputs proven unchanged, or the simplified graph is not used."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from valsuite.export import simplify


def _tiny(path) -> None:
    """Conv whose padding arrives through a foldable Constant -> Pad (what the exporter leaves)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")]
    nodes = [helper.make_node("Pad", ["input", "pads"], ["p"]),
             helper.make_node("Conv", ["p", "w"], ["c"]),
             helper.make_node("GlobalAveragePool", ["c"], ["g"]),
             helper.make_node("Flatten", ["g"], ["logits"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_simplified_graph_replaces_the_export(tmp_path):
    path = tmp_path / "m.onnx"
    _tiny(path)
    result = simplify.simplify_export(path, (-1, 3, 8, 8))
    raw = simplify.unsimplified_path(path)
    assert result.applied and raw.is_file() and raw.parent.name == "unsimplified"
    assert result.facts["nodes_before"] == 4 and result.facts["max_abs_diff_vs_unsimplified"] < 1e-5
    assert result.facts["nodes_after"] == len(onnx.load(str(path)).graph.node)


def test_a_simplifier_that_changes_outputs_is_not_used(tmp_path, monkeypatch, caplog):
    import onnxslim

    def wrong_slim(model):
        w = model.graph.initializer[0]
        w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w) * 2, w.name))
        return model

    monkeypatch.setattr(onnxslim, "slim", wrong_slim)
    path = tmp_path / "m.onnx"
    _tiny(path)
    original = path.read_bytes()
    result = simplify.simplify_export(path, (-1, 3, 8, 8))
    assert not result.applied and "outputs changed" in result.facts["reason"]
    assert path.read_bytes() == original and not simplify.unsimplified_path(path).exists()
    assert "keeping the unsimplified export" in caplog.text


@pytest.mark.parametrize("shape", [(-1, 3, 8, 8), (2, 3, 8, 8)])
def test_max_abs_diff_of_a_file_with_itself_is_zero(tmp_path, shape):
    path = tmp_path / "m.onnx"
    _tiny(path)
    assert simplify.max_abs_diff(path, path, shape) == 0.0
