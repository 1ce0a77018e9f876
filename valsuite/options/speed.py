"""Speed group: uint8 cache, GPU decode, CUDA graphs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valsuite.options.base import OptionGroup, option

CUDA_GRAPH_BACKENDS = ("torch", "inductor", "tensorrt")


@dataclass
class SpeedOptions(OptionGroup):
    TITLE = "speed"

    cache: Path | None = option("--cache", type=Path, metavar="DIR",
                                help="store the preprocessed uint8 crops once in DIR (memory-mapped) and reuse them "
                                     "in later runs; a stale cache is rebuilt")
    decode: str = option("--decode", default="cpu", choices=("cpu", "gpu"),
                         help="gpu: batched nvJPEG decode + resize + crop on the GPU, CPU fallback per file it "
                              "cannot decode (default: %(default)s)")
    cuda_graph: bool = option("--cuda-graph", default=False,
                              help="capture the model in a CUDA graph and replay it (torch, inductor: captured once "
                                   "at --batch_size, partial last batch padded; tensorrt: per batch shape)")
