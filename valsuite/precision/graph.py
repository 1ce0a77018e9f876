"""Small ONNX graph helpers shared by the FP16 converter, calibration and Q/DQ insertion."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from valsuite.errors import ValsuiteError

FLOAT = 1      # onnx.TensorProto.FLOAT
FLOAT16 = 10   # onnx.TensorProto.FLOAT16


def load_model(path: str | Path):
    """onnx.load with a user error (a truncated or foreign file must not become a traceback)."""
    import onnx

    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf raises DecodeError and friends
        raise ValsuiteError(f"cannot read ONNX {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from exc


def check_opset(model, minimum: int = 13) -> int:
    """The default-domain opset; Q/DQ with per-channel axes needs 13 or newer."""
    version = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if version < minimum:
        raise ValsuiteError(f"ONNX opset {version} is older than {minimum}; re-export with a newer opset")
    return version


def tensor_types(model) -> dict[str, int]:
    """Element type of every named tensor (inputs, initializers, node outputs) via shape inference."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    types: dict[str, int] = {}
    g = inferred.graph
    for vi in [*g.input, *g.value_info, *g.output]:
        types[vi.name] = vi.type.tensor_type.elem_type
    for init in g.initializer:
        types[init.name] = init.data_type
    for node in g.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    types[node.output[0]] = attr.t.data_type
    return types


def consumers(model) -> dict[str, list]:
    """tensor name -> nodes reading it."""
    table: dict[str, list] = defaultdict(list)
    for node in model.graph.node:
        for name in node.input:
            if name:
                table[name].append(node)
    return table


def producers(model) -> dict[str, object]:
    return {out: node for node in model.graph.node for out in node.output}


def initializer_map(model) -> dict[str, object]:
    return {init.name: init for init in model.graph.initializer}


def constant_value(model, name: str):
    """numpy value of an initializer or Constant output, else None."""
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            for attr in node.attribute:
                if attr.name == "value":
                    return numpy_helper.to_array(attr.t)
    return None


def float_activations(model, types: dict[str, int] | None = None) -> list[str]:
    """Float tensors computed at run time (graph input and node outputs), in graph order."""
    types = types if types is not None else tensor_types(model)
    names = [i.name for i in model.graph.input if types.get(i.name) == FLOAT]
    for node in model.graph.node:
        if node.op_type == "Constant":
            continue
        names.extend(o for o in node.output if o and types.get(o) == FLOAT)
    return names
