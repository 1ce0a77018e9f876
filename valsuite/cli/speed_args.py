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
    if "--cuda-graph" not in parser._option_string_actions:   # the TensorRT group may define it first
        group.add_argument("--cuda-graph", action="store_true",
                           help="capture the model in a CUDA graph and replay it")
    else:
        action = parser._option_string_actions["--cuda-graph"]
        action.help = (action.help or "") + "; torch/inductor: captured once at --batch_size, partial last batch padded"
    group.add_argument("--inductor-mode", choices=("jit", "aot"), default="jit",
                       help="inductor backend: jit = torch.compile in the run; aot = torch.export + "
                            "AOTInductor package weights/<stem>_<precision>_<device>.pt2, reused "
                            "across runs (default: %(default)s)")


def backend_extras(args) -> dict:
    return {"inductor_mode": args.inductor_mode}


def prepare_run(args, cfg, spec):
    """--cuda-graph belongs to the torch and inductor rows here (the TensorRT plugin sets its own)."""
    cfg.cache = args.cache
    cfg.decode = args.decode
    if cfg.backend in ("torch", "inductor", "pytorch", "vanilla", "compile"):
        cfg.backend_options["cuda_graph"] = bool(getattr(args, "cuda_graph", False))
    return cfg
