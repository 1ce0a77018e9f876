"""ensure_precision_onnx: the FP16 / INT8 ONNX next to the FP32 one, rebuilt only when stale."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from valsuite.errors import ValsuiteError
from valsuite.fileio import (artifact_lock, atomic_write_bytes, read_sidecar, sha256_file, sidecar_stale_reason,
                             write_sidecar)
from valsuite.models.spec import ModelSpec
from valsuite.precision.calibrate import calibrate
from valsuite.precision.fp16 import convert_to_fp16
from valsuite.precision.graph import check_opset, load_model
from valsuite.options.precision import TOOL_VERSION, PrecisionOptions
from valsuite.precision.qdq import insert_qdq

log = logging.getLogger(__name__)

VARIANT_PRECISIONS = ("fp16", "int8")


def variant_path(fp32_onnx: Path, precision: str, options: PrecisionOptions) -> Path:
    stem = fp32_onnx.name.removesuffix(".onnx")
    if precision == "fp16":
        tag = "fp16" + ("-fp16io" if options.fp16_io else "")
    else:
        tag = f"int8-{options.calib_method}" + ("-fp16rest" if options.int8_fallback == "fp16" else "")
    return fp32_onnx.with_name(f"{stem}.{tag}.onnx")


def _fp32_sha(fp32_onnx: Path) -> str:
    if not fp32_onnx.is_file():
        raise ValsuiteError(f"FP32 ONNX not found: {fp32_onnx}")
    return sha256_file(fp32_onnx)


def _build_facts(precision: str, fp32_sha: str, options: PrecisionOptions) -> dict:
    """What the variant file depends on besides calibration (its key in the sidecar)."""
    facts = {"precision": precision, "source_sha256": fp32_sha, "tool_version": TOOL_VERSION}
    if precision == "fp16":
        facts["fp16_io"] = options.fp16_io
    else:
        facts |= {"int8_fallback": options.int8_fallback, "quant_ops": list(options.quant_ops),
                  "exclude_nodes": sorted(options.exclude_nodes)}
    return facts


def stale_reason(path: Path, facts: dict) -> str | None:
    """Why an existing variant cannot be reused (None: reuse it)."""
    return sidecar_stale_reason(path, read_sidecar(path), facts, key_field="key", content_field="sha256")


def ensure_precision_onnx(spec: ModelSpec, precision: str, fp32_onnx: Path,
                          options: PrecisionOptions | None = None) -> Path:
    """fp32: `fp32_onnx` itself. fp16/int8: the variant beside it, built unless its sidecar matches."""
    if precision == "fp32":
        return Path(fp32_onnx)
    if precision not in VARIANT_PRECISIONS:
        raise ValsuiteError(f"no ONNX variant for precision {precision}",
                            hint=f"the precision step makes {', '.join(VARIANT_PRECISIONS)}")
    options = (options or PrecisionOptions()).check()
    fp32_onnx = Path(fp32_onnx)
    fp32_sha = _fp32_sha(fp32_onnx)
    model = load_model(fp32_onnx)
    check_opset(model)
    fp16_cal = calibrate(spec, model, fp32_sha, fp32_onnx, options, "fp16") \
        if precision == "fp16" or options.int8_fallback == "fp16" else None
    int8_cal = calibrate(spec, model, fp32_sha, fp32_onnx, options, "int8") if precision == "int8" else None
    facts = _build_facts(precision, fp32_sha, options)
    facts["calibration_key"] = (int8_cal or fp16_cal).key
    path = variant_path(fp32_onnx, precision, options)
    with artifact_lock(path):   # parallel runs into one folder: the second waits, then reuses
        reason = stale_reason(path, facts)
        if reason is None:
            return path
        log.info("building %s variant %s (%s)", precision, path.name, reason)
        _build_variant(model, precision, path, options, fp16_cal, int8_cal,
                       {"precision": precision, "source_onnx": str(fp32_onnx), "source_sha256": fp32_sha,
                        "key": facts})
    return path


def _build_variant(model, precision: str, path: Path, options: PrecisionOptions, fp16_cal, int8_cal,
                   sidecar: dict) -> None:
    if precision == "fp16":
        result = convert_to_fp16(model, fp16_cal.as_stats(), fp16_io=options.fp16_io)
        out = result.model
        sidecar |= {"fp16_io": options.fp16_io, "calibration": _short(fp16_cal.facts)}
    else:
        qdq = insert_qdq(model, int8_cal.amax(), options.quant_ops, options.exclude_nodes)
        out = qdq.model
        sidecar |= {"qdq_pairs": qdq.qdq_pairs, "weight_dequantize": qdq.weight_dequantize,
                    "quantized_layers": qdq.quantized_layers, "not_quantized": qdq.skipped,
                    "int8_fallback": options.int8_fallback, "calibration": _short(int8_cal.facts),
                    "symmetric": True, "weights_per_channel": True, "activations_per_tensor": True}
        result = None
        if options.int8_fallback == "fp16":
            result = convert_to_fp16(out, fp16_cal.as_stats(), block_nodes=set(qdq.quantized_layers))
            out = result.model
    if result is not None:
        sidecar |= {"kept_fp32": [{"node": n, "reason": r} for n, r in result.kept_fp32.items()
                                  if not r.startswith(("QuantizeLinear", "DequantizeLinear"))],
                    "fp16_nodes": result.fp16_nodes, "casts": result.casts}
    _save(out, path, sidecar)


def _short(facts: dict) -> dict:
    return {k: v for k, v in facts.items() if v not in (None, [], "")}


def _save(model, path: Path, sidecar: dict) -> None:
    """Check that ONNX Runtime runs the variant, then write it atomically with its sidecar."""
    import onnxruntime as ort

    data = model.SerializeToString()
    try:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        inp = session.get_inputs()[0]
        shape = [1 if not isinstance(d, int) else d for d in inp.shape]
        dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
        session.run(None, {inp.name: np.zeros(shape, dtype)})
    except Exception as exc:  # a variant ORT cannot run is a bug in this step: say which file
        raise ValsuiteError(f"the {sidecar['precision']} variant for {path.name} does not run in "
                            f"onnxruntime: {exc}".splitlines()[0]) from exc
    atomic_write_bytes(path, data)
    write_sidecar(path, sidecar | {"sha256": sha256_file(path), "size_bytes": path.stat().st_size,
                                   "nodes": len(model.graph.node),
                                   "opset": check_opset(model)})
    log.info("wrote %s (%.1f MB, %d nodes)", path, path.stat().st_size / 2**20, len(model.graph.node))
