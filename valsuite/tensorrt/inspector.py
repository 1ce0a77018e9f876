"""Per-layer precision summary from the engine inspector's JSON.

`EngineInspector.get_engine_information(LayerInformationFormat.JSON)` on an engine built with
ProfilingVerbosity.DETAILED gives {"Layers": [{"Name", "LayerType", "Inputs": [{"Name",
"Dimensions", "Format/Datatype": "Row major linear FP16 format"}, ...], "Outputs": [...], ...}]}
plus "Bindings" (10.x) or "I/O Tensors" (11.x). With LAYER_NAMES_ONLY the layers are bare
strings. A layer's precision is the data type of its first input tensor (what its kernel reads;
the compute type for convolutions and GEMMs), else of its first output.
"""

from __future__ import annotations

import json
import re
from collections import Counter

# order matters: "BFloat16" must not be read as "Float", "FP8" before "FP"
_DTYPE_PATTERNS = (
    ("bf16", r"bf16|bfloat16"),
    ("fp8", r"fp8|float8|e4m3"),
    ("fp4", r"fp4|float4|e2m1"),
    ("int8", r"int8"),
    ("int4", r"int4"),
    ("uint8", r"uint8"),
    ("int32", r"int32"),
    ("int64", r"int64"),
    ("bool", r"\bbool"),
    ("fp16", r"fp16|half|float16"),
    ("fp32", r"fp32|float32|\bfloat\b"),
)


def dtype_of_format(text: str | None) -> str:
    """'Channel major FP16 format where channel % 4 == 0' -> 'fp16'; unknown or 'N/A ...' -> 'unknown'."""
    lowered = (text or "").lower()
    for name, pattern in _DTYPE_PATTERNS:
        if name == "int8" and "uint8" in lowered:
            continue
        if re.search(pattern, lowered):
            return name
    return "unknown"


def _tensor_dtype(entry) -> str:
    if not isinstance(entry, dict):
        return "unknown"
    for key in ("Format/Datatype", "DataType", "Datatype", "Format"):
        dtype = dtype_of_format(entry.get(key))
        if dtype != "unknown":
            return dtype
    return "unknown"


def layer_precision(layer: dict) -> str:
    for key in ("Inputs", "Outputs"):
        tensors = layer.get(key) or []
        if isinstance(tensors, list) and tensors:
            dtype = _tensor_dtype(tensors[0])
            if dtype != "unknown":
                return dtype
    return "unknown"


def parse_engine_information(text: str) -> dict:
    """Inspector JSON -> {"num_layers", "detailed", "by_precision", "by_type", "layers": [...]}."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"engine inspector output is not JSON: {exc}") from exc
    layers = data.get("Layers", []) if isinstance(data, dict) else []
    rows = []
    for layer in layers:
        if isinstance(layer, str):  # LAYER_NAMES_ONLY
            rows.append({"name": layer, "type": None, "precision": "unknown"})
        elif isinstance(layer, dict):
            rows.append({"name": layer.get("Name"), "type": layer.get("LayerType"),
                         "precision": layer_precision(layer)})
    detailed = bool(rows) and all(r["type"] is not None for r in rows)
    return {
        "num_layers": len(rows),
        "detailed": detailed,
        "by_precision": dict(sorted(Counter(r["precision"] for r in rows).items())),
        "by_type": dict(sorted(Counter(r["type"] or "unknown" for r in rows).items())),
        "io_tensors": _io_tensors(data) if isinstance(data, dict) else [],
        "layers": rows,
    }


def _io_tensors(data: dict) -> list[str]:
    """Engine I/O names: "Bindings" (10.x: strings) or "I/O Tensors" (11.x: objects with "Name")."""
    if isinstance(data.get("I/O Tensors"), list):
        return [t.get("Name") for t in data["I/O Tensors"] if isinstance(t, dict)]
    return [b for b in data.get("Bindings", []) if isinstance(b, str)]


def inspect_engine(trt, engine, context=None) -> dict:
    """Ask the engine inspector (optionally bound to a context with shapes set) and parse its JSON."""
    inspector = engine.create_engine_inspector()
    if context is not None:
        inspector.execution_context = context
    text = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
    summary = parse_engine_information(text)
    summary["engine_num_layers"] = engine.num_layers
    return summary
