"""Explicit INT8: QuantizeLinear/DequantizeLinear pairs the way TensorRT wants them.

Placement follows TensorRT's guidance for explicit quantization: Q/DQ on the inputs of the
weighted layers (Conv, Gemm, MatMul; optionally other ops), one pair per activation tensor shared
by its quantized consumers; weights stored as int8 with a per-output-channel DequantizeLinear.
Everything is symmetric (zero point 0, range -127..127 for weights); activations are per tensor.
Layers without Q/DQ run in the precision of the rest of the graph (FP32 unless converted after).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

WEIGHTED_OPS = ("Conv", "Gemm", "MatMul")


@dataclass
class QdqResult:
    model: object
    qdq_pairs: int = 0                       # activation Q -> DQ pairs
    weight_dequantize: int = 0               # int8 weight initializers with a DequantizeLinear
    quantized_layers: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)   # node -> why it stayed unquantized


def _weight_axis(node, weight: np.ndarray) -> int | None:
    """Output-channel axis of a weight, or None when the node/weight layout is not handled."""
    if node.op_type == "Conv":
        return 0
    if node.op_type == "Gemm" and weight.ndim == 2:
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    if node.op_type == "MatMul" and weight.ndim == 2:
        return 1
    return None


def quantize_weight(weight: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-channel int8: (q in -127..127, scale per channel); all-zero channels get scale 1."""
    moved = np.moveaxis(weight.astype(np.float32), axis, 0)
    amax = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    shape = [1] * weight.ndim
    shape[axis] = -1
    q = np.clip(np.rint(weight / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


class _Builder:
    """Adds Q/DQ nodes and initializers to a graph, each tensor at most once."""

    def __init__(self, model, amax: dict[str, float]) -> None:
        self.model = model
        self.graph = model.graph
        self.amax = amax
        self.inits = {i.name: i for i in self.graph.initializer}
        self.new_nodes: list = []
        self.act_done: dict[str, str] = {}
        self.weight_done: dict[str, str] = {}

    def activation(self, name: str) -> str:
        from onnx import helper, numpy_helper

        if name in self.act_done:
            return self.act_done[name]
        scale = np.float32(self.amax[name] / 127.0)
        self.graph.initializer.extend([numpy_helper.from_array(np.array(scale, np.float32), f"{name}_qscale"),
                                       numpy_helper.from_array(np.array(0, np.int8), f"{name}_qzero")])
        q = helper.make_node("QuantizeLinear", [name, f"{name}_qscale", f"{name}_qzero"], [f"{name}_q"],
                             name=f"{name}_QuantizeLinear")
        dq = helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_qscale", f"{name}_qzero"],
                              [f"{name}_dq"], name=f"{name}_DequantizeLinear")
        self.new_nodes.append((name, [q, dq]))
        self.act_done[name] = f"{name}_dq"
        return self.act_done[name]

    def weight(self, name: str, axis: int) -> str:
        from onnx import helper, numpy_helper

        if name in self.weight_done:
            return self.weight_done[name]
        q, scale = quantize_weight(numpy_helper.to_array(self.inits[name]), axis)
        self.graph.initializer.extend([
            numpy_helper.from_array(q, f"{name}_int8"),
            numpy_helper.from_array(scale, f"{name}_wscale"),
            numpy_helper.from_array(np.zeros(scale.shape, np.int8), f"{name}_wzero"),
        ])
        dq = helper.make_node("DequantizeLinear", [f"{name}_int8", f"{name}_wscale", f"{name}_wzero"],
                              [f"{name}_dq"], name=f"{name}_DequantizeLinear", axis=axis)
        self.new_nodes.append((None, [dq]))
        self.weight_done[name] = f"{name}_dq"
        return self.weight_done[name]


def _plan(node, inits: dict, amax: dict) -> tuple[list[tuple[int, str, int | None]], str | None]:
    """[(input index, 'act'|'weight', axis)] for a node, or a reason it cannot be quantized."""
    from onnx import numpy_helper

    plan = []
    indices = (0, 1) if node.op_type in WEIGHTED_OPS else range(len(node.input))
    for idx in indices:
        if idx >= len(node.input) or not node.input[idx]:
            continue
        name = node.input[idx]
        if name in inits:
            if node.op_type not in WEIGHTED_OPS or idx != 1:
                return [], f"constant input {name} is not a weight"
            axis = _weight_axis(node, numpy_helper.to_array(inits[name]))
            if axis is None:
                return [], f"weight layout of {node.op_type} not handled"
            plan.append((idx, "weight", axis))
        elif amax.get(name, 0.0) > 0.0:
            plan.append((idx, "act", None))
        else:
            return [], f"no calibrated range for input {name}"
    return plan, None


def insert_qdq(model, amax: dict[str, float], quant_ops=WEIGHTED_OPS, exclude_nodes=()) -> QdqResult:
    """A copy of `model` with Q/DQ on the inputs of every quantizable node of `quant_ops`."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    builder = _Builder(out, amax)
    result = QdqResult(out)
    excluded = set(exclude_nodes)
    for node in out.graph.node:
        if node.op_type not in quant_ops:
            continue
        if node.name in excluded:
            result.skipped[node.name] = "excluded by option"
            continue
        plan, reason = _plan(node, builder.inits, amax)
        if reason:
            result.skipped[node.name] = reason
            continue
        for idx, kind, axis in plan:
            name = node.input[idx]
            node.input[idx] = builder.activation(name) if kind == "act" else builder.weight(name, axis)
        result.quantized_layers.append(node.name)
    _splice(out, builder)
    _drop_unused_initializers(out)
    result.qdq_pairs = len(builder.act_done)
    result.weight_dequantize = len(builder.weight_done)
    return result


def _splice(model, builder: _Builder) -> None:
    """Put each activation Q/DQ right after its producer (topological order), weight DQs first."""
    produced_by = {o: i for i, n in enumerate(model.graph.node) for o in n.output}
    weight_nodes = [n for src, nodes in builder.new_nodes if src is None for n in nodes]
    after: dict[int, list] = {}
    for src, nodes in builder.new_nodes:
        if src is not None:
            after.setdefault(produced_by.get(src, -1), []).extend(nodes)
    ordered = [*weight_nodes, *after.get(-1, [])]
    for i, node in enumerate(model.graph.node):
        ordered.append(node)
        ordered.extend(after.get(i, []))
    del model.graph.node[:]
    model.graph.node.extend(ordered)


def _drop_unused_initializers(model) -> None:
    used = {name for node in model.graph.node for name in node.input}
    used |= {o.name for o in model.graph.output}
    keep = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
