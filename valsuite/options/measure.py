"""Measurement group: trtexec-grade timing, per-layer profiles and utilisation timelines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.options.base import OptionGroup, option

DEFAULT_PROFILE_LAYERS = 15


@dataclass
class MeasureOptions(OptionGroup):
    TITLE = "measurement (timing statistics, layer profiles, utilisation timelines)"

    percentiles: str = option("--percentiles", default="50,90,99", metavar="P,P,...",
                              help="latency percentiles to report, e.g. 50,90,95,99 (p50/p90/p99 are always "
                                   "kept in the record; default: %(default)s)")
    spin_wait: bool = option("--spin-wait", default=False,
                             help="busy-wait on the CUDA event that ends each batch instead of sleeping in a "
                                  "blocking synchronisation (trtexec --useSpinWait)")
    export_times: Path | None = option("--export-times", type=Path, metavar="PATH",
                                       help="write every timed iteration (Latency-all, Latency-model, H2D, D2H) "
                                            "as JSON; with several rows, one file per row (_<backend>_<precision>)")
    profile_layers: int | None = option("--profile-layers", type=int, nargs="?", const=DEFAULT_PROFILE_LAYERS,
                                        metavar="N",
                                        help="after the timed batches, a separate profiling run: the N most "
                                             f"expensive layers (default N {DEFAULT_PROFILE_LAYERS}) with time and "
                                             "share (torch, onnxruntime, tensorrt)")
    no_monitor: bool = option("--no-monitor", default=False,
                              help="no utilisation timeline (NVML GPU memory/utilisation, psutil on the CPU)")
    monitor_interval_ms: float = option("--monitor-interval-ms", default=50.0, type=float,
                                        help="utilisation sampling interval (default: %(default)s ms)")

    def validate(self) -> "MeasureOptions":
        self.timing()                       # percentiles checked here, one-line errors
        if self.profile_layers is not None and self.profile_layers < 1:
            raise ValsuiteError(f"--profile-layers must be at least 1, got {self.profile_layers}")
        if self.monitor_interval_ms < 5:
            raise ValsuiteError(f"--monitor-interval-ms must be at least 5, got {self.monitor_interval_ms:g}")
        return self

    def timing(self, suffix: str = ""):
        """The evaluation library's TimingOptions; `suffix` names one row's --export-times file."""
        from valsuite.evaluate.timing import TimingOptions, parse_percentiles

        path = self.export_times
        if path is not None and suffix:
            path = path.with_name(f"{path.stem}_{suffix}{path.suffix or '.json'}")
        return TimingOptions(percentiles=parse_percentiles(self.percentiles), spin_wait=self.spin_wait,
                             export_times=path)
