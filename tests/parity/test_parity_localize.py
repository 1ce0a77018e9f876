"""--localize names the node where a planted perturbation enters the graph."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from valsuite.errors import ValsuiteError
from valsuite.parity.localize import format_localize, localize, match_tensors


def _conv(name: str, inp: str, out: str, cin: int, cout: int, rng) -> tuple:
    w = numpy_helper.from_array(rng.standard_normal((cout, cin, 3, 3)).astype(np.float32) * 0.3, f"{name}_w")
    b = numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32) * 0.1, f"{name}_b")
    node = helper.make_node("Conv", [inp, w.name, b.name], [out], name=name, pads=[1, 1, 1, 1])
    return node, [w, b]


def small_model() -> onnx.ModelProto:
    """input -> conv1 -> relu1 -> conv2 -> relu2 -> conv3 -> pool -> flatten -> logits."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    for name, inp, out, cin, cout in (("conv1", "input", "c1", 3, 8), ("conv2", "r1", "c2", 8, 8),
                                      ("conv3", "r2", "c3", 8, 10)):
        node, params = _conv(name, inp, out, cin, cout, rng)
        nodes.append(node)
        inits += params
        if name != "conv3":
            nodes.append(helper.make_node("Relu", [out], [f"r{out[1]}"], name=f"relu{out[1]}"))
    nodes += [helper.make_node("GlobalAveragePool", ["c3"], ["pooled"], name="pool"),
              helper.make_node("Flatten", ["pooled"], ["logits"], name="flatten")]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def plant_mul(model: onnx.ModelProto, tensor: str, factor: float = 1.5) -> onnx.ModelProto:
    """Copy of `model` where `tensor` is multiplied by `factor` right after its producer."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    nodes = list(copy.graph.node)
    index = next(i for i, n in enumerate(nodes) if tensor in n.output)
    producer = nodes[index]
    outputs = [f"{tensor}_pre" if o == tensor else o for o in producer.output]
    del producer.output[:]
    producer.output.extend(outputs)
    copy.graph.initializer.append(numpy_helper.from_array(np.array(factor, dtype=np.float32), "planted_factor"))
    mul = helper.make_node("Mul", [f"{tensor}_pre", "planted_factor"], [tensor], name="planted_mul")
    nodes.insert(index + 1, mul)
    del copy.graph.node[:]
    copy.graph.node.extend(nodes)
    onnx.checker.check_model(copy)
    return copy


def _inputs(shape, n: int = 3) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((n, *shape)).astype(np.float32)


def test_planted_perturbation_is_named(tmp_path):
    ref = tmp_path / "fp32.onnx"
    cand = tmp_path / "planted.onnx"
    model = small_model()
    onnx.save(model, ref)
    onnx.save(plant_mul(model, "c2"), cand)
    result = localize(ref, cand, _inputs((3, 8, 8)), rtol=1e-3)
    first = result.first_exceeding(3)
    assert first[0].tensor == "c2"
    assert first[0].node == "conv2" and first[0].candidate_node == "planted_mul"
    assert first[0].rel_l2 == pytest.approx(0.5, rel=1e-4)
    # tensors before the plant are clean, tensors after it all carry the error
    by_name = {t.tensor: t for t in result.tensors}
    assert not by_name["c1"].exceeds and by_name["c1"].isclose_pct == 100.0
    assert not by_name["r1"].exceeds
    assert by_name["r2"].exceeds and by_name["logits"].exceeds
    text = format_localize(result)
    assert "conv2 (Conv)" in text and "planted_mul (Mul)" in text


def test_identical_graphs_exceed_nothing(tmp_path):
    ref = tmp_path / "fp32.onnx"
    onnx.save(small_model(), ref)
    result = localize(ref, ref, _inputs((3, 8, 8), 2))
    assert result.first_exceeding() == [] and not result.unmatched
    assert len(result.tensors) == 7  # one output per node
    assert "No intermediate tensor exceeds" in format_localize(result)


def test_renamed_and_cast_tensors_are_matched():
    """A candidate whose conv2 output got renamed (same node name) and whose relu1 output only
    exists as a cast copy `r1_fp16` is still matched."""
    model = small_model()
    cand = onnx.ModelProto()
    cand.CopyFrom(model)
    rename = {"c2": "conv2_out_renamed", "r1": "r1_fp16"}
    for node in cand.graph.node:
        if node.name == "relu1":
            node.name = "relu1_converted"  # no twin by node name: only the suffix rule can match
        for seq in (node.input, node.output):
            for i, name in enumerate(seq):
                seq[i] = rename.get(name, name)
    pairs, unmatched = match_tensors(model.graph, cand.graph)
    got = {p.tensor: (p.candidate_tensor, p.match) for p in pairs}
    assert got["c2"] == ("conv2_out_renamed", "node")
    assert got["r1"] == ("r1_fp16", "suffix")
    assert got["c1"] == ("c1", "name")
    assert unmatched == []


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(ValsuiteError):
        localize(tmp_path / "nope.onnx", tmp_path / "nope2.onnx", _inputs((3, 8, 8), 1))


def test_planted_perturbation_in_efficientnet_lite0(tmp_path):
    """The real exported FP32 ONNX with a Mul planted after a Conv in the middle of the network."""
    from valsuite.export.onnx_export import export_onnx
    from valsuite.models import resolve

    spec = resolve("efficientnet_lite0")
    ref = export_onnx(spec, tmp_path / "weights")
    model = onnx.load(ref)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    target = convs[len(convs) // 2]
    cand = tmp_path / "planted.onnx"
    onnx.save(plant_mul(model, target.output[0], 1.5), cand)
    result = localize(ref, cand, _inputs(spec.input_shape, 2), rtol=1e-3)
    first = result.first_exceeding(1)[0]
    assert (first.node, first.tensor, first.candidate_node) == (target.name, target.output[0], "planted_mul")
    assert first.rel_l2 == pytest.approx(0.5, rel=1e-3)
    # every tensor before the plant is within tolerance
    assert not any(t.exceeds for t in result.tensors if t.position < first.position)
