"""Utilisation timelines: a background thread samples every 50 ms while a run measures.

On CUDA runs: GPU memory used and GPU utilisation through NVML (nvidia-ml-py), as ArtTRT plotted
them (seed 004); on CPU runs: this process's CPU % (100 = one core) and resident memory (psutil).
Each sample is a few microseconds of NVML or /proc reads; the thread sleeps in between, so its
overhead on throughput is small (benchmarks/monitor_overhead.py measures it). Without NVML or
psutil, one line says so and the run goes on without a timeline.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

INTERVAL_S = 0.05
MAX_POINTS = 2000          # the record keeps at most this many samples (evenly thinned)


class _Nvml:
    name = "nvml"

    def __init__(self, index: int) -> None:
        import pynvml

        pynvml.nvmlInit()
        self._nvml = pynvml
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self.device = pynvml.nvmlDeviceGetName(self._handle)

    def sample(self) -> tuple[float, float]:
        """(GPU memory used MB, GPU utilisation %) of the whole device."""
        mem = self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used / 2**20
        util = float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)
        return mem, util

    def close(self) -> None:
        self._nvml.nvmlShutdown()


class _Psutil:
    name = "psutil"

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self._proc.cpu_percent(None)            # the first call only starts the interval
        self.device = f"process {self._proc.pid}"

    def sample(self) -> tuple[float, float]:
        """(resident memory MB, CPU % of this process since the last sample; 100 = one core)."""
        return self._proc.memory_info().rss / 2**20, float(self._proc.cpu_percent(None))

    def close(self) -> None:
        pass


def _open_source(device: str, gpu_index: int):
    """(source, None) or (None, why not)."""
    try:
        if device == "cuda":
            return _Nvml(gpu_index), None
        return _Psutil(), None
    except ImportError as exc:
        missing = "nvidia-ml-py" if device == "cuda" else "psutil"
        return None, f"no {missing} ({exc.name} not installed)"
    except Exception as exc:  # NVML raises its own error types (no driver, no GPU)
        return None, f"{type(exc).__name__}: {exc}"


class UtilSampler:
    """Context manager: samples on a daemon thread between __enter__ and __exit__."""

    def __init__(self, device: str = "cpu", interval_s: float = INTERVAL_S, gpu_index: int = 0) -> None:
        self.device = device
        self.interval_s = interval_s
        self.gpu_index = gpu_index
        self.times: list[float] = []
        self.memory_mb: list[float] = []
        self.util_pct: list[float] = []
        self.source = None
        self.unavailable: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "UtilSampler":
        self.source, self.unavailable = _open_source(self.device, self.gpu_index)
        if self.source is None:
            log.warning("no utilisation timeline: %s; the run goes on", self.unavailable)
            return self
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, name="valsuite-monitor", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        next_at = time.perf_counter() + self.interval_s
        # the first sample one interval in: psutil's CPU % needs an interval to measure over
        while not self._stop.wait(max(0.0, next_at - time.perf_counter())):
            self._sample()
            next_at += self.interval_s

    def _sample(self) -> None:
        mem, util = self.source.sample()
        self.times.append(time.perf_counter() - self._t0)
        self.memory_mb.append(mem)
        self.util_pct.append(util)

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._sample()                  # the state at the end: a run shorter than one interval has one
            self.source.close()

    def summary(self) -> dict:
        """The record field: peak memory, mean utilisation and the (thinned) timeline."""
        if self.source is None:
            return {"source": None, "unavailable": self.unavailable}
        gpu = self.source.name == "nvml"
        mem_key, util_key = ("gpu_mem", "gpu_util") if gpu else ("rss", "cpu")
        step = max(1, -(-len(self.times) // MAX_POINTS))
        n = len(self.times)
        return {
            "source": self.source.name, "device": self.source.device, "interval_ms": 1e3 * self.interval_s,
            "samples": n,
            f"{mem_key}_peak_mb": max(self.memory_mb) if n else None,
            f"{util_key}_mean_pct": sum(self.util_pct) / n if n else None,
            "timeline": {"t_s": [round(t, 4) for t in self.times[::step]],
                         "memory_mb": [round(m, 1) for m in self.memory_mb[::step]],
                         "util_pct": [round(u, 1) for u in self.util_pct[::step]]},
            "memory_is": "GPU memory used on the device (NVML)" if gpu else "resident memory of this process",
            "util_is": "GPU utilisation (NVML: share of time a kernel ran)" if gpu
            else "CPU % of this process (100 = one core)",
        }
