"""FP16 ONNX from the FP32 ONNX, with FP32 kept where measured ranges say FP16 would hurt.

Nodes compute in FP16 unless (a) an output's measured |x| maximum exceeds FP16_SAFE_MAX (a margin
under 65504 for images the calibration did not see), (b) too many of its nonzero outputs fall below
FP16's normal range (precision lost to subnormals), (c) a weight overflows or flushes to zero in
FP16, or (d) its op must stay FP32 (Q/DQ scales before opset 19, shape generators). Casts are
inserted at every FP16/FP32 boundary; graph I/O stays FP32 unless fp16_io.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from valsuite.errors import ValsuiteError
from valsuite.precision.graph import FLOAT, FLOAT16, tensor_types

log = logging.getLogger(__name__)

FP16_MAX = 65504.0
FP16_SAFE_MAX = FP16_MAX / 4        # activations above this on calibration images may overflow on others
TINY_FRACTION = 0.01                # nonzero values below 2**-14: above 1% of a tensor -> keep FP32
WEIGHT_UNDERFLOW_FRACTION = 0.01    # nonzero weights that become 0 in FP16 (|w| < 2**-25)
ALWAYS_FP32_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "ConstantOfShape", "RandomNormal",
                             "RandomUniform", "RandomNormalLike", "RandomUniformLike", "EyeLike"})
TYPE_AGNOSTIC_OPS = frozenset({"Shape", "Size"})
FLOAT_ONLY_INPUTS = {"Resize": {2}, "Upsample": {1}}   # inputs that are float32 whatever T is


@dataclass
class Fp16Result:
    model: object
    kept_fp32: dict[str, str] = field(default_factory=dict)   # node name -> reason
    fp16_nodes: int = 0
    casts: int = 0


def _weight_reason(name: str, value: np.ndarray) -> str | None:
    a = np.abs(value[np.isfinite(value)].astype(np.float64))
    if a.size and a.max() > FP16_MAX:
        return f"weight {name} has |w| up to {a.max():.3g} > FP16 max {FP16_MAX:g}"
    nonzero = a[a > 0]
    if nonzero.size and np.mean(nonzero < 2.0 ** -25) > WEIGHT_UNDERFLOW_FRACTION:
        return f"weight {name}: {100 * np.mean(nonzero < 2.0 ** -25):.1f}% of values flush to 0 in FP16"
    return None


def _range_reason(node, stats: dict) -> str | None:
    for out in node.output:
        st = stats.get(out)
        if st is None:
            continue
        if st.absmax > FP16_SAFE_MAX:
            return f"output {out} reaches |x|={st.absmax:.4g} on calibration images (FP16 safe max {FP16_SAFE_MAX:g})"
        if st.count and st.tiny / st.count > TINY_FRACTION:
            return (f"output {out}: {100 * st.tiny / st.count:.1f}% of values below FP16's normal range "
                    f"(2^-14), precision lost")
    return None


def plan_fp16(model, stats: dict, types: dict[str, int], block_nodes=()) -> tuple[set[str], dict[str, str]]:
    """(names of nodes to run in FP16, {node kept in FP32: reason})."""
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    fp16, kept = set(), {}
    for node in model.graph.node:
        floats = [t for t in [*node.input, *node.output] if t and types.get(t) == FLOAT]
        if node.op_type == "Constant" or node.op_type in TYPE_AGNOSTIC_OPS or not floats:
            continue
        if node.name in block_nodes:
            kept[node.name] = "kept FP32 by request"
        elif node.op_type in ALWAYS_FP32_OPS:
            kept[node.name] = f"{node.op_type} stays FP32"
        else:
            reason = _range_reason(node, stats)
            for name in node.input:
                if reason is None and name in inits and types.get(name) == FLOAT:
                    reason = _weight_reason(name, numpy_helper.to_array(inits[name]))
            if reason is None:
                fp16.add(node.name)
            else:
                kept[node.name] = reason
    return fp16, kept


class _Converter:
    def __init__(self, model, types: dict[str, int]) -> None:
        self.model = model
        self.types = types
        self.inits = {i.name: i for i in model.graph.initializer}
        self.constants = {n.output[0]: n for n in model.graph.node if n.op_type == "Constant"}
        self.home: dict[str, int] = {}          # run-time float tensors -> FLOAT or FLOAT16
        self.made: dict[tuple[str, int], str] = {}
        self.casts = 0

    def _const_value(self, name: str) -> np.ndarray:
        from onnx import numpy_helper

        if name in self.inits:
            return numpy_helper.to_array(self.inits[name])
        attr = next(a for a in self.constants[name].attribute if a.name == "value")
        return numpy_helper.to_array(attr.t)

    def tensor_as(self, name: str, dtype: int, before: list) -> str:
        """Name of `name` in dtype: a converted constant copy or a Cast appended to `before`."""
        from onnx import helper, numpy_helper

        if name in self.inits or name in self.constants:
            if dtype == FLOAT:
                return name
            key = (name, dtype)
            if key not in self.made:
                value = np.clip(self._const_value(name), -FP16_MAX, FP16_MAX).astype(np.float16)
                self.model.graph.initializer.append(numpy_helper.from_array(value, f"{name}_fp16"))
                self.made[key] = f"{name}_fp16"
            return self.made[key]
        if self.home.get(name, FLOAT) == dtype:
            return name
        key = (name, dtype)
        if key not in self.made:
            suffix = "fp16" if dtype == FLOAT16 else "fp32"
            out = f"{name}_cast_{suffix}"
            before.append(helper.make_node("Cast", [name], [out], name=f"{name}_Cast_{suffix}", to=dtype))
            self.made[key] = out
            self.casts += 1
        return self.made[key]


def convert_to_fp16(model, stats: dict | None = None, fp16_io: bool = False, block_nodes=()) -> Fp16Result:
    """A converted copy of `model`; `stats` maps tensor names to TensorStats (absmax, tiny)."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    types = tensor_types(out)
    fp16_nodes, kept = plan_fp16(out, stats or {}, types, block_nodes)
    conv = _Converter(out, types)
    for inp in out.graph.input:
        if types.get(inp.name) == FLOAT:
            conv.home[inp.name] = FLOAT16 if fp16_io else FLOAT
            if fp16_io:
                inp.type.tensor_type.elem_type = FLOAT16
    nodes = []
    for node in out.graph.node:
        if node.op_type == "Constant" or node.op_type in TYPE_AGNOSTIC_OPS:
            nodes.append(node)
            continue
        dtype = FLOAT16 if node.name in fp16_nodes else FLOAT
        special = FLOAT_ONLY_INPUTS.get(node.op_type, set())
        for idx, name in enumerate(node.input):
            if name and types.get(name) == FLOAT and node.op_type != "Cast":
                node.input[idx] = conv.tensor_as(name, FLOAT if idx in special else dtype, nodes)
        if node.op_type == "Cast" and dtype == FLOAT16:
            for attr in node.attribute:
                if attr.name == "to" and attr.i == FLOAT:
                    attr.i = FLOAT16
        for name in node.output:
            if types.get(name) == FLOAT:
                conv.home[name] = dtype
        nodes.append(node)
    _fix_outputs(out, conv, nodes, fp16_io)
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    _cleanup(out)
    return Fp16Result(out, kept, len(fp16_nodes), conv.casts)


def _fix_outputs(model, conv: _Converter, nodes: list, fp16_io: bool) -> None:
    """Graph outputs keep their names; a Cast gives them the requested I/O type."""
    from onnx import helper

    want = FLOAT16 if fp16_io else FLOAT
    for output in model.graph.output:
        name = output.name
        if conv.types.get(name) != FLOAT:
            continue
        if conv.home.get(name, FLOAT) != want:
            inner = f"{name}_inner"
            for node in nodes:
                node.output[:] = [inner if o == name else o for o in node.output]
                node.input[:] = [inner if i == name else i for i in node.input]
            nodes.append(helper.make_node("Cast", [inner], [name], name=f"{name}_Cast_out", to=want))
            conv.casts += 1
        output.type.tensor_type.elem_type = want


def _cleanup(model) -> None:
    """Drop initializers and Constants nobody reads; redo type inference; check the model."""
    import onnx

    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    keep = [n for n in model.graph.node if n.op_type != "Constant" or n.output[0] in used]
    del model.graph.node[:]
    model.graph.node.extend(keep)
    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    inits = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)
    del model.graph.value_info[:]
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ValsuiteError(f"FP16 conversion produced an invalid ONNX: {exc}".splitlines()[0]) from exc


def simulate_fp16_storage(model, keep_fp32=()):
    """An FP32 model whose weights and every computed float tensor are rounded through FP16.

    ONNX Runtime's CPU provider has few FP16 kernels: it runs an FP16 graph by casting to FP32
    around them and drops the casts between consecutive nodes, so activations never round to FP16
    there. This model makes the rounding explicit (Cast to FP16 and back after every node) so that
    a CPU run shows what FP16 storage costs; FP16 accumulation inside a kernel is not simulated.
    """
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    types = tensor_types(out)
    keep = set(keep_fp32)
    kept_inputs = {i for n in out.graph.node if n.name in keep for i in n.input}
    for init in out.graph.initializer:
        if init.data_type == FLOAT and init.name not in kept_inputs:
            value = numpy_helper.to_array(init).astype(np.float16).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(value, init.name))
    outputs = {o.name for o in out.graph.output}
    nodes = []
    for node in out.graph.node:
        nodes.append(node)
        if node.op_type in ("Constant", *TYPE_AGNOSTIC_OPS) or node.name in keep:
            continue
        for idx, name in enumerate(node.output):
            if types.get(name) != FLOAT or name in outputs:
                continue
            raw = f"{name}_prefp16"
            node.output[idx] = raw
            nodes.append(helper.make_node("Cast", [raw], [f"{name}_half"], to=FLOAT16))
            nodes.append(helper.make_node("Cast", [f"{name}_half"], [name], to=FLOAT))
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    del out.graph.value_info[:]
    return out
