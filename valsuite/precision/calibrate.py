"""Calibration runs with a managed cache: ranges for INT8 and for FP16 safety decisions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import onnxruntime

from valsuite.models.spec import ModelSpec
from valsuite.precision import stats as S
from valsuite.precision.cache import cache_key, load_cache, save_cache, write_trt_cache
from valsuite.precision.calibdata import CalibrationSet, calibration_batches, select_calibration
from valsuite.precision.graph import float_activations, initializer_map, tensor_types
from valsuite.options.precision import TOOL_VERSION, PrecisionOptions
from valsuite.precision.ranges import amax_for

log = logging.getLogger(__name__)


@dataclass
class Calibration:
    """Per-tensor results of one calibration (from the cache or freshly measured)."""

    tensors: dict[str, dict]          # name -> {"amax", "absmax", "tiny", "count"}
    key: str
    facts: dict                       # method, num_images, source, cache file, seconds, reused
    calib: CalibrationSet

    def amax(self) -> dict[str, float]:
        return {k: v["amax"] for k, v in self.tensors.items()}

    def as_stats(self) -> dict[str, S.TensorStats]:
        return {k: S.TensorStats(v["absmax"], v["count"], v["tiny"]) for k, v in self.tensors.items()}


def int8_candidates(model, quant_ops) -> list[str]:
    """Activation inputs of every node the Q/DQ step may quantize (exclusions do not change it)."""
    inits = initializer_map(model)
    types = tensor_types(model)
    names = []
    for node in model.graph.node:
        if node.op_type not in quant_ops:
            continue
        inputs = node.input[:2] if node.op_type in ("Conv", "Gemm", "MatMul") else node.input
        names.extend(i for i in inputs if i and i not in inits and types.get(i) == 1 and i not in names)
    return names


def cache_paths(fp32_onnx: Path, options: PrecisionOptions, kind: str) -> tuple[Path, Path]:
    folder = Path(options.cache_dir) if options.cache_dir else fp32_onnx.parent / "calibration"
    stem = fp32_onnx.name.removesuffix(".onnx")
    return folder / f"{stem}.{kind}.calib.json", folder / f"{stem}.{kind}.trt.cache"


def calibrate(spec: ModelSpec, model, fp32_sha: str, fp32_onnx: Path, options: PrecisionOptions,
              kind: str) -> Calibration:
    """kind "int8": histograms + the method's ranges on Q/DQ candidates; "fp16": |x| max of all."""
    calib = select_calibration(options, kind)
    if kind == "int8":
        observe = int8_candidates(model, options.quant_ops)
        method = options.method_facts()
        tag = f"int8-{options.calib_method}"
    else:
        observe = float_activations(model)
        method = {"method": "absmax"}
        tag = "fp16-ranges"
    key_facts = {"fp32_onnx_sha256": fp32_sha, "calibration_files": calib.files_key(), "method": method,
                 "preprocess": spec.preprocess.describe(), "tensors": sorted(observe),
                 "tool_version": TOOL_VERSION, "onnxruntime": onnxruntime.__version__}
    json_path, trt_path = cache_paths(fp32_onnx, options, tag)
    payload, why = (None, "--recalibrate") if options.recalibrate else load_cache(json_path, key_facts)
    reused = payload is not None
    if payload is None:
        log.info("calibrating %s on %d images (%s): cache %s: %s", kind, len(calib.paths) or calib.synthetic,
                 method["method"], json_path.name, why)
        payload = _measure(model, calib, spec, options, observe, kind, key_facts, json_path)
        if kind == "int8":
            write_trt_cache(trt_path, {k: v["amax"] for k, v in payload["tensors"].items()},
                            options.calib_method)
    facts = {**method, "num_images": payload["num_images"], "cache_key": payload["key"],
             "cache_file": str(json_path), "seconds": payload["seconds"], "reused_cache": reused,
             **{k: v for k, v in calib.facts().items() if k != "num_images"}}
    if kind == "int8":
        facts["trt_cache_file"] = str(trt_path)
    return Calibration(payload["tensors"], payload["key"], facts, calib)


def _measure(model, calib, spec, options, observe, kind, key_facts, json_path) -> dict:
    # minmax needs only the exact maximum: no histograms, the fastest pass
    hist = set(observe) if kind == "int8" and options.calib_method != "minmax" else set()
    batches = calibration_batches(calib, spec.preprocess, options.calib_batch_size)
    stats = S.collect(model, batches, observe, hist, options.threads)
    tensors = {}
    for name, st in stats.tensors.items():
        amax = amax_for(st, options.calib_method, options.calib_percentile) if kind == "int8" else st.absmax
        tensors[name] = {"amax": float(amax), "absmax": st.absmax, "tiny": st.tiny, "count": st.count}
    log.info("calibrated %d tensors on %d images in %.1f s", len(tensors), stats.num_images, stats.seconds)
    return save_cache(json_path, key_facts, tensors, {"num_images": stats.num_images,
                                                       "seconds": round(stats.seconds, 2)})
