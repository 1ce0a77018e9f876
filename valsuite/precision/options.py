"""What a precision variant is made from: the options every caller (CLI, backends) passes in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from valsuite.errors import ValsuiteError

# Bump when the conversion, calibration or Q/DQ placement changes: cached ranges and variants
# made by an older tool version are then rebuilt.
TOOL_VERSION = "precision-1"
CALIB_METHODS = ("minmax", "entropy", "percentile")
DEFAULT_CALIB_METHOD = "minmax"
DEFAULT_PERCENTILE = 99.99
DEFAULT_CALIB_SIZE = 500
INT8_FALLBACKS = ("fp32", "fp16")
# ops whose inputs get Q/DQ by default (TensorRT's recommended placement: weighted layers)
DEFAULT_QUANT_OPS = ("Conv", "Gemm", "MatMul")


@dataclass
class PrecisionOptions:
    """Options for ensure_precision_onnx; the defaults are the measured ones (docs/precision.md)."""

    fp16_io: bool = False                    # FP16 variant takes/returns float16 (default: float32 I/O)
    calib_dataset: Path | None = None        # folder of calibration images (any layout)
    calib_size: int = DEFAULT_CALIB_SIZE
    calib_method: str = DEFAULT_CALIB_METHOD
    calib_percentile: float = DEFAULT_PERCENTILE
    calib_seed: int = 0
    calib_batch_size: int = 16               # memory only: ranges do not depend on it
    recalibrate: bool = False
    int8_fallback: str = "fp32"              # precision of layers that are not quantized
    eval_dataset: Path | None = None         # the evaluation folder (default calibration source)
    cache_dir: Path | None = None            # default: beside the FP32 ONNX
    quant_ops: tuple[str, ...] = DEFAULT_QUANT_OPS
    exclude_nodes: tuple[str, ...] = ()      # node names never quantized (kept in the fallback precision)
    threads: int | None = None               # onnxruntime threads while calibrating
    extra: dict = field(default_factory=dict)

    def check(self) -> "PrecisionOptions":
        """Raise a user error for impossible values (called before any work)."""
        if self.calib_method not in CALIB_METHODS:
            raise ValsuiteError(f"unknown calibration method {self.calib_method!r}",
                                hint=f"choose from {', '.join(CALIB_METHODS)}")
        if self.int8_fallback not in INT8_FALLBACKS:
            raise ValsuiteError(f"--int8-fallback must be one of {', '.join(INT8_FALLBACKS)}")
        if self.calib_size < 1:
            raise ValsuiteError(f"--calib-size must be at least 1, got {self.calib_size}")
        if self.calib_batch_size < 1:
            raise ValsuiteError(f"--calib-batch-size must be at least 1, got {self.calib_batch_size}")
        if not 50.0 < self.calib_percentile <= 100.0:
            raise ValsuiteError(f"--calib-percentile must be in (50, 100], got {self.calib_percentile}")
        return self

    def method_facts(self) -> dict:
        """The calibration method with its parameter, for cache keys and records."""
        facts = {"method": self.calib_method}
        if self.calib_method == "percentile":
            facts["percentile"] = self.calib_percentile
        return facts
