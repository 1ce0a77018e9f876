"""TensorRT arguments: the build options (shared by build_trt.py and main.py) and main.py's seam.

Nothing here imports tensorrt: `-h` works on any machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXTRA_KEYS = ("trt_min_batch", "trt_opt_batch", "trt_max_batch", "trt_opt_level", "trt_workspace_mb",
              "trt_tf32", "trt_timing_cache", "trt_rebuild", "trt_verbose")


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """Engine build options (min/opt/max batch, optimization level, timing cache, workspace, TF32)."""
    group = parser.add_argument_group("TensorRT engine build")
    group.add_argument("--min_batch", "--min-batch", type=int, default=None,
                       help="smallest batch of a dynamic engine's profile (default: 1)")
    group.add_argument("--opt_batch", "--opt-batch", type=int, default=None,
                       help="batch the dynamic engine is tuned for (default: 32; main.py: --batch_size)")
    group.add_argument("--max_batch", "--max-batch", type=int, default=None,
                       help="largest batch of a dynamic engine's profile (default: 256, or the batch size if larger)")
    group.add_argument("--build_op_lvl", "--build-op-lvl", type=int, default=3, choices=range(6), metavar="0-5",
                       help="builder optimization level; higher builds slower and may run faster (default: %(default)s)")
    group.add_argument("--timing-cache", "--timing_cache", type=Path, default=None,
                       help="tactic timing cache reused across builds (default: <weights-dir>/tensorrt.timing.cache)")
    group.add_argument("--workspace", type=int, default=None, metavar="MB",
                       help="builder workspace limit in MB (default: TensorRT's, the GPU's memory)")
    group.add_argument("--tf32", action="store_true",
                       help="allow TF32 in FP32 layers of TensorRT engines and of torch on CUDA (off by default: FP32 means FP32)")
    group.add_argument("--trt-verbose", action="store_true", help="TensorRT's verbose builder log")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """main.py's TensorRT flags: -trt (unless the parser has it), --engine, --cuda-graph, build options."""
    if "-trt" not in parser._option_string_actions:  # the main CLI may already define it
        parser.add_argument("-trt", dest="backend", action="store_const", const="tensorrt",
                            help="same as --backend tensorrt")
    group = parser.add_argument_group("TensorRT run")
    group.add_argument("--engine", type=Path, default=None, metavar="PATH",
                       help="run this engine (built by build_trt.py); refused when its sidecar says it is stale "
                            "for this TensorRT, GPU, ONNX or precision. Default: build or reuse one under weights/")
    group.add_argument("--cuda-graph", action="store_true",
                       help="capture each batch shape's engine run in a CUDA graph and replay it")
    group.add_argument("--rebuild-engine", action="store_true", help="rebuild the engine even when it is fresh")
    add_build_arguments(parser)


def backend_extras(args: argparse.Namespace) -> dict:
    """main.py plugin hook: build options for every backend of a run (only tensorrt reads trt_*)."""
    return backend_extra_from_args(args)


def prepare_run(args: argparse.Namespace, cfg, spec):
    """main.py plugin hook: --engine and --cuda-graph belong to the tensorrt rows only."""
    if cfg.backend == "tensorrt":
        if getattr(args, "engine", None) is not None:
            cfg.backend_options["artifact"] = args.engine
        cfg.backend_options["cuda_graph"] = bool(getattr(args, "cuda_graph", False))
    return cfg


def backend_extra_from_args(args: argparse.Namespace) -> dict:
    """The BackendOptions.extra entries the tensorrt backend reads."""
    return {
        "trt_min_batch": getattr(args, "min_batch", None),
        "trt_opt_batch": getattr(args, "opt_batch", None),
        "trt_max_batch": getattr(args, "max_batch", None),
        "trt_opt_level": getattr(args, "build_op_lvl", 3),
        "trt_workspace_mb": getattr(args, "workspace", None),
        "trt_tf32": bool(getattr(args, "tf32", False)),
        "trt_timing_cache": getattr(args, "timing_cache", None),
        "trt_rebuild": bool(getattr(args, "rebuild_engine", False)),
        "trt_verbose": bool(getattr(args, "trt_verbose", False)),
    }


def build_options_from_extra(extra: dict, precision: str, input_chw, batch_size: int, weights_dir):
    """BackendOptions.extra -> BuildOptions for the engine main.py builds (dynamic batch, opt = batch size)."""
    from valsuite.tensorrt.build import BuildOptions
    from valsuite.tensorrt.cache import timing_cache_path_for
    from valsuite.tensorrt.profile import profile_for_run

    shapes = profile_for_run((-1, *input_chw), batch_size, extra.get("trt_min_batch"),
                             extra.get("trt_opt_batch"), extra.get("trt_max_batch"))
    cache = extra.get("trt_timing_cache") or timing_cache_path_for(weights_dir)
    return BuildOptions(precision=precision, shapes=shapes, opt_level=int(extra.get("trt_opt_level", 3)),
                        workspace_mb=extra.get("trt_workspace_mb"), tf32=bool(extra.get("trt_tf32", False)),
                        timing_cache=Path(cache))
