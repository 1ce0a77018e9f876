"""The one call into the precision step: the ONNX a TensorRT engine of `precision` is built from.

FP32 is the exported ONNX itself. FP16 (casts in the graph) and INT8 (explicit Q/DQ nodes) come
from `valsuite.precision.ensure_precision_onnx`, imported lazily so that this package works
before that step lands; tests replace this function.
"""

from __future__ import annotations

from pathlib import Path

from valsuite.errors import ValsuiteError


def fp32_onnx(spec, weights_dir: Path) -> Path:
    """The dynamic-batch FP32 ONNX (exported or reused; its sidecar holds its sha256)."""
    from valsuite.export.onnx_export import export_onnx

    return export_onnx(spec, weights_dir)


def precision_onnx(spec, precision: str, fp32_path: Path, precision_options=None) -> Path:
    if precision == "fp32":
        return Path(fp32_path)
    try:
        from valsuite.precision import ensure_precision_onnx
    except ImportError as exc:
        raise ValsuiteError(f"a TensorRT {precision} engine is built from a {precision} ONNX, and the "
                            f"precision step that makes it is missing from this valsuite") from exc
    if precision_options is None:
        try:
            from valsuite.precision import PrecisionOptions
            precision_options = PrecisionOptions()
        except ImportError:
            precision_options = None
    return Path(ensure_precision_onnx(spec, precision, Path(fp32_path), precision_options))
