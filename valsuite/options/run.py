"""Run/timing group: backends, precisions, device, batching, warm-up and where records go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.options.base import OptionGroup, option

# kept in step with valsuite.backends._REGISTRY (a test checks); listed here so that -h needs no import
BACKENDS = ("torch", "onnxruntime", "tensorrt", "inductor")


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


@dataclass
class RunOptions(OptionGroup):
    TITLE = "run and timing"

    backend: str | None = option("--backend", "-b",
                                 help=f"{', '.join(BACKENDS)} (aliases ort, trt, pytorch, compile); a comma list "
                                      "gives several rows (default: torch)")
    trt: bool = option("-trt", default=False, help="same as --backend tensorrt (added to --backend's list)")
    precision: str = option("--precision", "-p", default="fp32", help="fp32, fp16, bf16, int8 (comma list allowed)")
    device: str | None = option("--device", choices=("cpu", "cuda"),
                                help="default: each backend's preferred device here (cuda when available)")
    batch_size: int = option("--batch_size", "--batch-size", default=32, type=int,
                             help="images per batch (default: %(default)s)")
    workers: int = option("--workers", default=2, type=int,
                          help="data loader worker processes (default: %(default)s)")
    inflight: int = option("--inflight", default=1, type=int,
                           help="batches submitted before the oldest is collected (CUDA torch/inductor): 2 keeps "
                                "the GPU busy between batches; Latency-all then includes queueing (default: 1)")
    warmup: int | None = option("--warmup", type=int,
                                help="warm-up batches left out of latency (default: 10%% of batches, at least 1)")
    output_json: Path | None = option("--output-json", type=Path, help="also write the run record here")
    results_dir: Path = option("--results-dir", default=Path("outputs/results"), type=Path,
                               help="every run record is stored here (default: %(default)s)")
    no_progress: bool = option("--no-progress", default=False, help="no progress bar")

    def validate(self) -> "RunOptions":
        if self.batch_size < 1:
            raise ValsuiteError(f"--batch_size must be at least 1, got {self.batch_size}")
        if self.inflight < 1:
            raise ValsuiteError(f"--inflight must be at least 1, got {self.inflight}")
        return self

    def backends(self) -> list[str]:
        names = split_list(self.backend) or ["torch"]
        if self.trt:
            names = ["tensorrt"] if not self.backend else names + ["tensorrt"]
        return list(dict.fromkeys(names))

    def precisions(self) -> list[str]:
        return split_list(self.precision) or ["fp32"]
