"""The precision step: FP16 and INT8 (Q/DQ) ONNX variants of the FP32 ONNX, shared by every engine.

TensorRT 11 no longer lowers precision by itself, so precision lives in the ONNX: FP16 as an FP16
graph, INT8 as explicit QuantizeLinear/DequantizeLinear. ONNX Runtime runs the same files on a CPU.
"""

from valsuite.precision.calibdata import calibration_exclusions, select_calibration
from valsuite.options.precision import CALIB_METHODS, DEFAULT_CALIB_METHOD, PrecisionOptions
from valsuite.precision.variants import ensure_precision_onnx, variant_path

__all__ = ["ensure_precision_onnx", "PrecisionOptions", "calibration_exclusions", "select_calibration",
           "variant_path", "CALIB_METHODS", "DEFAULT_CALIB_METHOD"]
