"""Activation statistics that do not depend on batch size or image order.

Every observed tensor gets an exact |x| maximum and a histogram of |x| on a fixed logarithmic grid:
the bin of a value is its float32 bit pattern shifted right (8 mantissa bits kept, 0.4% relative
width). Counts are integers and the grid never moves, so the statistics of N images are the same
whether they ran 1, 7 or 64 at a time; ORT's own collectors rebin as the range grows and are not.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from valsuite.errors import ValsuiteError

log = logging.getLogger(__name__)

SHIFT = 15                           # keep 8 of float32's 23 mantissa bits
NUM_BINS = 1 << (31 - SHIFT)         # sign bit dropped by abs()
FP16_MIN_NORMAL = 2.0 ** -14


def bin_lower_edges() -> np.ndarray:
    """Smallest float of each log bin (bin k holds bit patterns [k << SHIFT, (k+1) << SHIFT))."""
    codes = (np.arange(NUM_BINS, dtype=np.uint64) << SHIFT).astype(np.uint32)
    with np.errstate(invalid="ignore"):   # the last bins are the Inf/NaN bit patterns (never filled)
        return codes.view(np.float32).astype(np.float64)


@dataclass
class TensorStats:
    """Accumulated |x| statistics of one tensor."""

    absmax: float = 0.0
    count: int = 0
    tiny: int = 0                                  # nonzero values below FP16's normal range
    hist: np.ndarray | None = None                 # log-grid counts (only for histogram tensors)

    def add(self, x: np.ndarray, with_hist: bool) -> None:
        a = np.abs(np.ascontiguousarray(x, dtype=np.float32)).ravel()
        if a.size == 0:
            return
        peak = float(a.max())
        if not np.isfinite(peak):
            raise ValsuiteError("calibration produced a non-finite activation (NaN or Inf): "
                                "the FP32 model or its input is broken")
        self.absmax = max(self.absmax, peak)
        self.count += int(a.size)
        self.tiny += int(np.count_nonzero((a > 0) & (a < FP16_MIN_NORMAL)))
        if with_hist:
            counts = np.bincount(a.view(np.uint32) >> SHIFT)
            if self.hist is None:
                self.hist = np.zeros(NUM_BINS, dtype=np.int64)
            self.hist[: counts.size] += counts


@dataclass
class CalibrationStats:
    tensors: dict[str, TensorStats] = field(default_factory=dict)
    num_images: int = 0
    seconds: float = 0.0


def augmented_session(model, observe: list[str], threads: int | None):
    """An ORT session whose outputs are the observed tensors (optimisations off: names must survive)."""
    import onnx
    import onnxruntime as ort

    aug = onnx.ModelProto()
    aug.CopyFrom(model)
    existing = {o.name for o in aug.graph.output} | {i.name for i in aug.graph.input}
    for name in observe:
        if name not in existing:
            aug.graph.output.append(onnx.ValueInfoProto(name=name))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = int(threads)
    return ort.InferenceSession(aug.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])


def collect(model, batches, observe: list[str], hist_tensors: set[str], threads: int | None = None,
            progress=None) -> CalibrationStats:
    """Run every batch (float32 NCHW arrays) and accumulate statistics of the observed tensors."""
    session = augmented_session(model, observe, threads)
    input_name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]
    stats = CalibrationStats({name: TensorStats() for name in observe})
    start = time.perf_counter()
    for batch in batches:
        outputs = session.run(names, {input_name: batch})
        if input_name in stats.tensors:
            stats.tensors[input_name].add(batch, input_name in hist_tensors)
        for name, value in zip(names, outputs):
            if name in stats.tensors and name != input_name:
                stats.tensors[name].add(value, name in hist_tensors)
        stats.num_images += int(batch.shape[0])
        if progress is not None:
            progress(int(batch.shape[0]))
    stats.seconds = time.perf_counter() - start
    return stats
