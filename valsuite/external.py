"""Artifacts from other tools as candidates: a user's ONNX file (ModelOpt, ONNX Runtime quantization,
another exporter) or a TensorRT engine, evaluated with the preprocessing of --network/--weights.

The record names the file and its sha256, so a result can always be traced to the exact bytes.
Before anything runs, the file's input/output layout is checked against the model's: one image
input (N, C, H, W) whose C, H, W are the weights' crop, and one (N, num_classes) output; anything
else is a one-line error. An engine's layout is read from its valsuite sidecar when it has one,
otherwise from the engine itself once it is deserialized (which needs a GPU the flavour runs on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.fileio import read_sidecar, sha256_file

KINDS = {"onnxruntime": "file", "tensorrt": "engine"}  # backend -> what its external artifact is called


@dataclass(frozen=True)
class ExternalArtifact:
    backend: str                          # "onnxruntime" | "tensorrt"
    path: Path
    sha256: str
    precision: str | None                 # what the graph holds (Q/DQ -> int8, float16 -> fp16), None: unknown
    input_shape: tuple | None = None      # (N, C, H, W); N is -1 when dynamic
    output_shape: tuple | None = None
    facts: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Row name: 'onnxruntime:file=model.int8.onnx'."""
        return f"{self.backend}:{KINDS[self.backend]}={self.path.name}"

    def describe(self) -> dict:
        """What a run record keeps: the exact file and what was checked."""
        return {"external": True, "file": str(self.path), "sha256": self.sha256, "precision_detected": self.precision,
                "input_shape": list(self.input_shape) if self.input_shape else None,
                "output_shape": list(self.output_shape) if self.output_shape else None} | self.facts


def _dims(value_info) -> tuple:
    dims = value_info.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims)


def check_layout(spec, path: Path, input_shape: tuple, output_shape: tuple) -> None:
    """One-line error unless (N, C, H, W) -> (N, num_classes) with the model's C, H, W."""
    want_in = tuple(spec.input_shape)
    if len(input_shape) != 4 or tuple(input_shape[1:]) != want_in:
        raise ValsuiteError(f"{path.name} takes input {tuple(input_shape)}, but {spec.network} with these weights "
                            f"takes (N, {', '.join(map(str, want_in))})",
                            hint="export it at the weights' crop size, or pick the matching --network/--weights")
    if len(output_shape) != 2 or output_shape[1] not in (-1, spec.num_classes):
        raise ValsuiteError(f"{path.name} returns {tuple(output_shape)}, but valsuite needs (N, {spec.num_classes}) logits")


def onnx_precision(model) -> str:
    """int8 when the graph has Q/DQ nodes, fp16 when its input or most weights are float16, else fp32."""
    from onnx import TensorProto

    ops = {node.op_type for node in model.graph.node}
    if ops & {"QuantizeLinear", "DequantizeLinear"}:
        return "int8"
    inits = model.graph.initializer
    half = sum(1 for t in inits if t.data_type == TensorProto.FLOAT16)
    if model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16 or half > len(inits) / 2:
        return "fp16"
    return "fp32"


def external_onnx(spec, path: str | Path) -> ExternalArtifact:
    """A user's ONNX: exists, loads, has one image input and a logits output matching the model."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ValsuiteError(f"ONNX file not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own types for files that are not ONNX
        raise ValsuiteError(f"{path} is not a readable ONNX file: {exc}".splitlines()[0]) from exc
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1 or not model.graph.output:
        raise ValsuiteError(f"{path.name} has {len(inputs)} inputs and {len(model.graph.output)} outputs; "
                            "valsuite needs one image input and a logits output")
    in_shape, out_shape = _dims(inputs[0]), _dims(model.graph.output[0])
    check_layout(spec, path, in_shape, out_shape)
    return ExternalArtifact("onnxruntime", path, sha256_file(path), onnx_precision(model), in_shape, out_shape,
                            {"input_name": inputs[0].name, "output_name": model.graph.output[0].name,
                             "nodes": len(model.graph.node)})


def external_engine(spec, path: str | Path) -> ExternalArtifact:
    """A TensorRT engine: its sidecar's facts when valsuite built it; else checked after deserializing."""
    path = Path(path)
    if not path.is_file():
        raise ValsuiteError(f"TensorRT engine not found: {path}")
    sidecar = read_sidecar(path) or {}
    facts = {k: sidecar[k] for k in ("flavour", "tensorrt_version", "compute_capability_targets", "precision")
             if k in sidecar}
    in_shape = out_shape = None
    if "profile" in sidecar:
        profile = sidecar["profile"]
        dynamic = profile["min"][0] != profile["max"][0]
        in_shape = (-1 if dynamic else profile["max"][0], *profile["max"][1:])
        check_layout(spec, path, in_shape, (in_shape[0], spec.num_classes))
    facts["layout_checked"] = "from its sidecar" if in_shape else "after deserializing (needs a GPU the flavour runs on)"
    return ExternalArtifact("tensorrt", path, sha256_file(path), sidecar.get("precision"), in_shape, out_shape, facts)


def artifact_precision(backend: str, path: Path, given: str | None = None) -> str:
    """The precision an artifact's row runs at: read from the file (ONNX graph, engine sidecar), or
    given (`tensorrt:int8:engine=PATH`) where the file cannot say; a contradiction is an error."""
    import onnx

    if not path.is_file():
        raise ValsuiteError(f"{'ONNX file' if backend == 'onnxruntime' else 'TensorRT engine'} not found: {path}")
    if backend == "onnxruntime":
        try:
            found = onnx_precision(onnx.load(str(path), load_external_data=False))
        except Exception as exc:  # protobuf raises its own types for files that are not ONNX
            raise ValsuiteError(f"{path} is not a readable ONNX file: {exc}".splitlines()[0]) from exc
    else:
        found = (read_sidecar(path) or {}).get("precision")
    if found and given and found != given:
        raise ValsuiteError(f"{path.name} holds a {found} model, not {given}", hint="leave the precision out")
    if not (found or given):
        raise ValsuiteError(f"{path.name} has no valsuite sidecar that says its precision",
                            hint=f"name it: {backend}:int8:{KINDS[backend]}={path} (or fp32/fp16)")
    return found or given


def load_external(spec, backend: str, path: str | Path) -> ExternalArtifact:
    """'onnxruntime' + an ONNX file, or 'tensorrt' + an engine file."""
    if backend == "onnxruntime":
        return external_onnx(spec, path)
    if backend == "tensorrt":
        return external_engine(spec, path)
    raise ValsuiteError(f"{backend} cannot take an external artifact",
                        hint="onnxruntime:file=PATH (an ONNX) or tensorrt:engine=PATH (an engine)")
