"""What a precision variant is made from: the options every caller (CLI, backends) passes in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.options.base import OptionGroup, option

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
class PrecisionOptions(OptionGroup):
    """Options for ensure_precision_onnx; the defaults are the measured ones (docs/precision.md).
    The fields with a flag are also main.py's "precision variants" option group."""

    TITLE = "precision variants (fp16 / int8 ONNX)"

    fp16_io: bool = option("--fp16-io", default=False,
                           help="the fp16 variant takes and returns float16 (default: float32 I/O)")
    calib_dataset: Path | None = option("--calib-dataset", type=Path, metavar="DIR",
                                        help="calibration images (any layout). Default: DATASET/calibration_list.txt "
                                             "if it exists, else a seeded sample of the evaluation folder (at most "
                                             "half of it), which is then excluded from evaluation")
    calib_size: int = option("--calib-size", default=DEFAULT_CALIB_SIZE, type=int,
                             help="number of calibration images (default: %(default)s, or all available)")
    calib_method: str = option("--calib-method", default=DEFAULT_CALIB_METHOD, choices=CALIB_METHODS,
                               help="activation range method (default: %(default)s, measured in docs/precision.md)")
    calib_percentile: float = option("--calib-percentile", default=DEFAULT_PERCENTILE, type=float,
                                     help="percentile of |x| for --calib-method percentile (default: %(default)s)")
    calib_seed: int = option("--calib-seed", default=0, type=int, help="seed of the calibration sample")
    calib_batch_size: int = option("--calib-batch-size", default=16, type=int,
                                   help="images per calibration batch (memory only; ranges do not depend on it)")
    recalibrate: bool = option("--recalibrate", default=False, help="recompute the calibration cache")
    int8_fallback: str = option("--int8-fallback", default="fp32", choices=INT8_FALLBACKS,
                                help="precision of layers without Q/DQ in the int8 variant (default: %(default)s, "
                                     "so int8 vs fp32 measures quantization alone)")
    calib_exclude: bool = option("--calib-exclude", default=False,
                                 help="leave the evaluated folder's calibration images out of every row even "
                                      "without an int8 row (a sweep with int8 rows passes it to its other rows, "
                                      "so every row of the sweep is measured on the same images)")
    eval_dataset: Path | None = None         # the evaluation folder (default calibration source)
    cache_dir: Path | None = None            # default: beside the FP32 ONNX
    quant_ops: tuple[str, ...] = DEFAULT_QUANT_OPS
    exclude_nodes: tuple[str, ...] = ()      # node names never quantized (kept in the fallback precision)
    threads: int | None = None               # onnxruntime threads while calibrating

    def validate(self) -> "PrecisionOptions":
        return self.check()

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
