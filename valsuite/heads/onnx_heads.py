"""Head variants as ONNX graph edits: one function per head, the result cached with a sidecar.

Each edit takes the exported (or precision-converted) model and appends the head after its single
output, so every engine that reads ONNX (ONNX Runtime, TensorRT) runs the same head. Reductions
(TopK, ArgMax, ReduceMax) read float32: an FP16 model's output is cast first, because ONNX Runtime's
CPU kernels for them have no float16 version. Nodes the new outputs no longer need (the full-size
Resize of a fused head) are removed, so no engine computes them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from valsuite.errors import ValsuiteError
from valsuite.fileio import (atomic_write_bytes, read_sidecar, sha256_file, sidecar_stale_reason,
                             write_sidecar)
from valsuite.heads.kinds import TOPK, HeadSpec

log = logging.getLogger(__name__)

# Bump when an edit below changes what it writes: every cached head ONNX is then rebuilt.
HEADS_REVISION = 1
PREFIX = "head/"
FLOAT, INT64, FLOAT16 = 1, 7, 10
_PASS_THROUGH = ("Cast", "Identity")


# -- small graph helpers -------------------------------------------------------------------------
def _output(model):
    if len(model.graph.output) != 1:
        raise ValsuiteError(f"a head edit needs a model with one output, this one has {len(model.graph.output)}")
    return model.graph.output[0]


def _node(model, op: str, inputs: list[str], name: str, outputs: int = 1, **attrs) -> list[str]:
    from onnx import helper

    outs = [f"{PREFIX}{name}" if outputs == 1 else f"{PREFIX}{name}_{i}" for i in range(outputs)]
    model.graph.node.append(helper.make_node(op, inputs, outs, name=f"{PREFIX}{name}", **attrs))
    return outs


def _const(model, name: str, values: list[int]) -> str:
    from onnx import helper

    tensor = helper.make_tensor(f"{PREFIX}{name}", INT64, [len(values)], values)
    model.graph.initializer.append(tensor)
    return tensor.name


def _as_float32(model, tensor: str, elem_type: int, name: str) -> str:
    """FP16 -> FP32 before a reduction; float32 tensors pass unchanged."""
    if elem_type == FLOAT:
        return tensor
    return _node(model, "Cast", [tensor], f"{name}_to_float", to=FLOAT)[0]


def _set_outputs(model, outputs: list[tuple[str, int, list]]) -> None:
    """Replace the graph outputs by (tensor, element type, shape) and drop what nothing reads."""
    from onnx import helper

    del model.graph.output[:]
    for name, elem, shape in outputs:
        model.graph.output.append(helper.make_tensor_value_info(name, elem, shape))
    _prune(model)


def _prune(model) -> None:
    """Dead-node elimination: keep only nodes whose outputs the graph outputs need."""
    needed = {o.name for o in model.graph.output}
    keep = []
    for node in reversed(list(model.graph.node)):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    del model.graph.node[:]
    model.graph.node.extend(reversed(keep))
    used_inits = [i for i in model.graph.initializer if i.name in needed]
    del model.graph.initializer[:]
    model.graph.initializer.extend(used_inits)


def _input_hw(model) -> tuple[int, int]:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    hw = [d.dim_value for d in dims[2:4]] if len(dims) == 4 else []
    if len(hw) != 2 or not all(hw):
        raise ValsuiteError("a segmentation head needs an ONNX whose input has a fixed height and width")
    return hw[0], hw[1]


def _batch_dim(model):
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    return dim.dim_value or (dim.dim_param or "batch")


def _resize_to(model, tensor: str, size: tuple[int, int], name: str, **attrs) -> str:
    """Resize `tensor` (N, C, h, w) to (N, C, size): sizes = Concat(Shape(x)[:2], size)."""
    shape = _node(model, "Shape", [tensor], f"{name}_shape")[0]
    nc = _node(model, "Slice", [shape, _const(model, f"{name}_zero", [0]), _const(model, f"{name}_two", [2])],
               f"{name}_nc")[0]
    sizes = _node(model, "Concat", [nc, _const(model, f"{name}_hw", list(size))], f"{name}_sizes", axis=0)[0]
    return _node(model, "Resize", [tensor, "", "", sizes], name, **attrs)[0]


def _reducemax(model, tensor: str, name: str) -> list[str]:
    """ReduceMax over axis 1, keepdims: `axes` is an attribute before opset 18, an input from 18 on."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    if opset >= 18:
        return _node(model, "ReduceMax", [tensor, _const(model, f"{name}_axes", [1])], name, keepdims=1)
    return _node(model, "ReduceMax", [tensor], name, axes=[1], keepdims=1)


def _final_resize(model):
    """The Resize that upsamples the logits to the input size (through trailing Casts)."""
    producers = {o: n for n in model.graph.node for o in n.output}
    node = producers.get(_output(model).name)
    while node is not None and node.op_type in _PASS_THROUGH:
        node = producers.get(node.input[0])
    if node is None or node.op_type != "Resize":
        raise ValsuiteError("a fused head needs the model's last op to be the Resize that upsamples the "
                            "logits to the input size; this model ends otherwise")
    return node


def _elem_types(model) -> dict[str, int]:
    from valsuite.precision.graph import tensor_types

    return tensor_types(model)


# -- classifier heads ----------------------------------------------------------------------------
def classifier_logits(model, head: HeadSpec):
    """The exported graph as it is: 1000 scores per image, ranked on the host."""
    return model


def classifier_topk(model, head: HeadSpec):
    """TopK(k=5, largest, sorted) on the scores: outputs topk_indices (N, 5) int64 and topk_scores."""
    out = _output(model)
    x = _as_float32(model, out.name, out.type.tensor_type.elem_type, "topk")
    k = _const(model, "k", [TOPK])
    scores, indices = _node(model, "TopK", [x, k], "topk", outputs=2, axis=1, largest=1, sorted=1)
    batch = _batch_dim(model)
    _rename(model, {scores: "topk_scores", indices: "topk_indices"})
    _set_outputs(model, [("topk_indices", INT64, [batch, TOPK]), ("topk_scores", FLOAT, [batch, TOPK])])
    return model


def classifier_argmax(model, head: HeadSpec):
    """ArgMax over the classes: output argmax_index (N, 1) int64."""
    out = _output(model)
    x = _as_float32(model, out.name, out.type.tensor_type.elem_type, "argmax")
    index = _node(model, "ArgMax", [x], "argmax", axis=1, keepdims=1)[0]
    _rename(model, {index: "argmax_index"})
    _set_outputs(model, [("argmax_index", INT64, [_batch_dim(model), 1])])
    return model


def _rename(model, names: dict[str, str]) -> None:
    for node in model.graph.node:
        node.output[:] = [names.get(o, o) for o in node.output]
        node.input[:] = [names.get(i, i) for i in node.input]


# -- segmentation heads --------------------------------------------------------------------------
def seg_host_argmax(model, head: HeadSpec):
    """Variant 1: logits at the input size leave the engine; the host takes the argmax."""
    return model


def seg_argmax(model, head: HeadSpec):
    """Variant 2: ArgMax over the classes of the upsampled logits: labels (N, 1, H, W) int64."""
    return _seg_reduce(model, "ArgMax", "labels", INT64)


def seg_reducemax(model, head: HeadSpec):
    """Variant 4: ReduceMax over the classes of the upsampled logits: scores (N, 1, H, W) float32."""
    return _seg_reduce(model, "ReduceMax", "scores", FLOAT)


def _seg_reduce(model, op: str, out_name: str, elem: int):
    out = _output(model)
    height, width = _input_hw(model)
    x = _as_float32(model, out.name, out.type.tensor_type.elem_type, op.lower())
    reduced = _reducemax(model, x, "reducemax") if op == "ReduceMax" \
        else _node(model, op, [x], op.lower(), axis=1, keepdims=1)
    _rename(model, {reduced[0]: out_name})
    _set_outputs(model, [(out_name, elem, [_batch_dim(model), 1, height, width])])
    return model


def seg_fused_argmax(model, head: HeadSpec):
    """Variant 3: Resize bilinear to fuse_scale x input, ArgMax, Resize nearest to the input size."""
    return _seg_fused(model, head, "ArgMax", "labels", INT64)


def seg_fused_reducemax(model, head: HeadSpec):
    """Variant 5: Resize bilinear to fuse_scale x input, ReduceMax, Resize nearest to the input size."""
    return _seg_fused(model, head, "ReduceMax", "scores", FLOAT)


def fused_size(height: int, width: int, scale: float) -> tuple[int, int]:
    return max(1, round(height * scale)), max(1, round(width * scale))


def _seg_fused(model, head: HeadSpec, op: str, out_name: str, elem: int):
    from onnx import helper

    height, width = _input_hw(model)
    final = _final_resize(model)
    attrs = {a.name: helper.get_attribute_value(a) for a in final.attribute}
    low = final.input[0]                                 # the logits before the full-size upsample
    small = _resize_to(model, low, fused_size(height, width, head.fuse_scale), "fuse_bilinear", **attrs)
    x = _as_float32(model, small, _elem_types(model).get(low, FLOAT), "fuse")
    if op == "ArgMax":
        reduced = _node(model, "ArgMax", [x], "fuse_argmax", axis=1, keepdims=1)[0]
        reduced = _node(model, "Cast", [reduced], "fuse_argmax_float", to=FLOAT)[0]  # Resize reads floats
    else:
        reduced = _reducemax(model, x, "fuse_reducemax")[0]
    big = _resize_to(model, reduced, (height, width), "fuse_nearest", mode="nearest",
                     coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    if op == "ArgMax":
        big = _node(model, "Cast", [big], "fuse_labels", to=INT64)[0]
    _rename(model, {big: out_name})
    _set_outputs(model, [(out_name, elem, [_batch_dim(model), 1, height, width])])
    return model


EDITS: dict[tuple[str, str], Callable] = {
    ("classification", "logits"): classifier_logits,
    ("classification", "topk"): classifier_topk,
    ("classification", "argmax"): classifier_argmax,
    ("segmentation", "host-argmax"): seg_host_argmax,
    ("segmentation", "argmax"): seg_argmax,
    ("segmentation", "fused-argmax"): seg_fused_argmax,
    ("segmentation", "reducemax"): seg_reducemax,
    ("segmentation", "fused-reducemax"): seg_fused_reducemax,
}


# -- the cached artifact -------------------------------------------------------------------------
def head_path(source: Path, head: HeadSpec) -> Path:
    return source.with_name(f"{source.name.removesuffix('.onnx')}.{head.tag}.onnx")


def head_key(source_sha: str, head: HeadSpec) -> dict:
    """What a head ONNX depends on: its source's bytes, the head, the edit code's revision."""
    return {"source_sha256": source_sha, **head.describe(), "heads_revision": HEADS_REVISION}


def head_stale_reason(path: Path, key: dict) -> str | None:
    return sidecar_stale_reason(path, read_sidecar(path), key, key_field="key", content_field="sha256")


def ensure_head_onnx(source: Path, head: HeadSpec) -> Path:
    """The ONNX with `head` appended beside `source` (the source itself for the identity heads)."""
    source = Path(source)
    if head.is_identity:
        return source
    if not source.is_file():
        raise ValsuiteError(f"ONNX not found: {source}")
    key = head_key(sha256_file(source), head)
    path = head_path(source, head)
    reason = head_stale_reason(path, key)
    if reason is None:
        return path
    log.info("building head %s: %s (%s)", head.name, path.name, reason)
    model = apply_head(_load(source), head)
    _check_runs(model, path)
    atomic_write_bytes(path, model.SerializeToString())
    write_sidecar(path, {"key": key, "source_onnx": str(source), "sha256": sha256_file(path),
                         "size_bytes": path.stat().st_size, "outputs": [o.name for o in model.graph.output],
                         "nodes": len(model.graph.node)})
    return path


def apply_head(model, head: HeadSpec):
    """The edit for `head` on a copy of `model` (checked with onnx.checker)."""
    import onnx

    edited = EDITS[(head.task, head.name)](_copy(model), head)
    try:
        onnx.checker.check_model(edited)
    except onnx.checker.ValidationError as exc:
        raise RuntimeError(f"head {head.name} made an invalid ONNX: {exc}") from exc
    return edited


def _copy(model):
    import onnx

    clone = onnx.ModelProto()
    clone.CopyFrom(model)
    return clone


def _load(path: Path):
    from valsuite.precision.graph import load_model

    return load_model(path)


def _check_runs(model, path: Path) -> None:
    """ONNX Runtime must run the edited graph on one zero batch (a failing edit names the file)."""
    import numpy as np
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        inp = session.get_inputs()[0]
        shape = [1 if not isinstance(d, int) else d for d in inp.shape]
        dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
        session.run(None, {inp.name: np.zeros(shape, dtype)})
    except Exception as exc:  # onnxruntime raises its own types
        raise ValsuiteError(f"the head ONNX {path.name} does not run in onnxruntime: {exc}".splitlines()[0]) from exc
