"""trtexec-grade timing options and statistics: percentiles, spin-wait, transfer columns, every
iteration exported, and a stability warning.

trtexec reports H2D Latency, GPU Compute Time and D2H Latency apart, prints a warning when the
coefficient of variation of GPU compute exceeds 10% ("lock clocks or use spin wait"), and can
busy-wait on CUDA events (--useSpinWait) instead of letting the host thread sleep in a blocking
synchronisation, which adds wake-up jitter to short iterations. The suite does the same here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from valsuite.errors import ValsuiteError
from valsuite.fileio import atomic_write_json

DEFAULT_PERCENTILES = (50.0, 90.0, 99.0)   # the keys every record has (renderers rely on p50/p99)
CV_WARN = 0.10                             # trtexec's threshold


@dataclass(frozen=True)
class TimingOptions:
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    spin_wait: bool = False            # busy-wait on the CUDA event that ends each batch
    export_times: Path | None = None   # every timed iteration as JSON
    cv_warn: float = CV_WARN

    def __post_init__(self) -> None:
        for p in self.percentiles:
            if not 0.0 <= float(p) <= 100.0:
                raise ValsuiteError(f"percentile {p} is outside 0..100")


def parse_percentiles(text: str) -> tuple[float, ...]:
    """'50,90,95,99' -> (50.0, 90.0, 95.0, 99.0); errors name the bad item."""
    values = []
    for item in str(text).split(","):
        try:
            values.append(float(item))
        except ValueError:
            raise ValsuiteError(f"--percentiles: {item!r} is not a number (e.g. 50,90,95,99)") from None
    if not values:
        raise ValsuiteError("--percentiles needs at least one value")
    return TimingOptions(percentiles=tuple(values)).percentiles


def percentile_key(p: float) -> str:
    """50 -> 'p50', 99.9 -> 'p99.9'."""
    return f"p{int(p)}" if float(p).is_integer() else f"p{p:g}"


def latency_stats(samples_ms, percentiles=DEFAULT_PERCENTILES) -> dict:
    """mean / max / std / cv and the percentiles (always p50, p90, p99 too) of latencies in ms."""
    wanted = sorted(set(float(p) for p in (*DEFAULT_PERCENTILES, *percentiles)))
    keys = [percentile_key(p) for p in wanted]
    arr = np.asarray([s for s in samples_ms if s is not None], dtype=np.float64)
    if arr.size == 0 or arr.size != len(list(samples_ms)):
        return {"mean": None, "max": None, "std": None, "cv": None, "count": 0} | dict.fromkeys(keys)
    values = np.percentile(arr, wanted)
    mean = float(arr.mean())
    std = float(arr.std())
    return {"mean": mean, "max": float(arr.max()), "std": std, "cv": std / mean if mean > 0 else None,
            "count": int(arr.size)} | {k: float(v) for k, v in zip(keys, values)}


def stability(model_stats: dict, cv_warn: float = CV_WARN) -> dict:
    """trtexec's check: a CV of Latency-model above `cv_warn` means the numbers are not stable."""
    cv = model_stats.get("cv")
    unstable = cv is not None and not math.isnan(cv) and cv > cv_warn
    warning = (f"Latency-model varies by {100 * cv:.1f}% (coefficient of variation > {100 * cv_warn:.0f}%): "
               "the numbers are not stable; lock the clocks (GPU: nvidia-smi -lgc), use --spin-wait, "
               "or time more batches"
               if unstable else None)
    return {"latency_model_cv": cv, "threshold": cv_warn, "stable": not unstable, "warning": warning}


def export_times(path: Path, iterations: list[dict], context: dict) -> Path:
    """Every timed iteration (ms per batch) as JSON, like trtexec --exportTimes."""
    atomic_write_json(Path(path), {"context": context, "iterations": iterations})
    return Path(path)
