"""main.py options of the GPU-speed feature: --cache, --decode, --cuda-graph, --inductor-mode."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("speed")
    group.add_argument("--cache", type=Path, default=None, metavar="DIR",
                       help="store the preprocessed uint8 crops once in DIR (memory-mapped) and reuse "
                            "them in later runs; a stale cache is rebuilt")
    group.add_argument("--decode", choices=("cpu", "gpu"), default="cpu",
                       help="gpu: batched nvJPEG decode + resize + crop on the GPU, CPU fallback per "
                            "file it cannot decode (default: %(default)s)")
    group.add_argument("--cuda-graph", action="store_true",
                       help="torch/inductor on CUDA: capture the model at --batch_size in a CUDA graph "
                            "(partial last batch padded to that size)")
    group.add_argument("--inductor-mode", choices=("jit", "aot"), default="jit",
                       help="inductor backend: jit = torch.compile in the run; aot = torch.export + "
                            "AOTInductor package weights/<stem>_<precision>_<device>.pt2, reused "
                            "across runs (default: %(default)s)")


def backend_extras(args) -> dict:
    return {"cuda_graph": bool(args.cuda_graph), "inductor_mode": args.inductor_mode}


def prepare_run(args, cfg, spec):
    cfg.cache = args.cache
    cfg.decode = args.decode
    return cfg
