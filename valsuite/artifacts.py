"""The artifact chain, in one place: model -> FP32 ONNX -> precision ONNX -> engine artifact.

    ModelSpec (valsuite/models)
      -> FP32 ONNX, dynamic batch      fp32_onnx()        export/onnx_export.py
      -> FP16 / INT8 (Q/DQ) ONNX       precision_onnx()   precision/variants.py
      -> engine artifact               ONNX Runtime session: onnx_for() itself
                                       TensorRT plan: tensorrt/engines.py, built from onnx_for()'s ONNX
                                       AOTInductor package: backends/inductor_backend.py
Every cached step sits beside its input with a sidecar X.json holding the key of what made it;
fileio.sidecar_stale_reason is the rule (missing file, unreadable sidecar, a key field changed)
and a stale artifact is rebuilt, a stale user-given one refused. Backends ask here for their
ONNX; nothing else exports or converts.
"""

from __future__ import annotations

from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.options.precision import PrecisionOptions


def fp32_onnx(spec, weights_dir: str | Path) -> Path:
    """The dynamic-batch FP32 ONNX (exported, or reused while its sidecar matches)."""
    from valsuite.export.onnx_export import export_onnx

    return Path(export_onnx(spec, Path(weights_dir)))


def precision_onnx(spec, precision: str, fp32: Path, options: PrecisionOptions | None = None) -> Path:
    """FP32: the export itself; FP16/INT8: the variant beside it (made, or reused while fresh)."""
    if precision == "fp32":
        return Path(fp32)
    from valsuite.precision.variants import ensure_precision_onnx

    return Path(ensure_precision_onnx(spec, precision, Path(fp32), options or PrecisionOptions()))


def onnx_for(spec, precision: str, weights_dir: str | Path, artifact: str | Path | None = None,
             options: PrecisionOptions | None = None) -> Path:
    """The ONNX an engine of `precision` runs or is built from: a user-given file, else the chain's."""
    if artifact is not None:
        path = Path(artifact)
        if not path.is_file():
            raise ValsuiteError(f"ONNX file not found: {path}")
        return path
    return precision_onnx(spec, precision, fp32_onnx(spec, weights_dir), options)

