"""TensorRT groups: engine build options (shared by build_trt.py and main.py) and main.py's engine choice.

Nothing here imports tensorrt: `-h` works on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.options.base import OptionGroup, option
from valsuite.tensorrt.flavour import FLAVOUR_CHOICES, RTX_TARGETS  # plain data: no tensorrt import


@dataclass
class TrtBuildOptions(OptionGroup):
    TITLE = "TensorRT engine build"

    min_batch: int | None = option("--min_batch", "--min-batch", type=int,
                                   help="smallest batch of a dynamic engine's profile (default: 1)")
    opt_batch: int | None = option("--opt_batch", "--opt-batch", type=int,
                                   help="batch the dynamic engine is tuned for (default: 32; main.py: --batch_size)")
    max_batch: int | None = option("--max_batch", "--max-batch", type=int,
                                   help="largest batch of a dynamic engine's profile (default: 256, or the batch "
                                        "size if larger)")
    build_op_lvl: int = option("--build_op_lvl", "--build-op-lvl", default=3, type=int, choices=range(6),
                               metavar="0-5", help="builder optimization level; higher builds slower and may run "
                                                   "faster (default: %(default)s)")
    timing_cache: Path | None = option("--timing-cache", "--timing_cache", type=Path,
                                       help="tactic timing cache reused across builds "
                                            "(default: <weights-dir>/tensorrt.timing.cache)")
    workspace: int | None = option("--workspace", type=int, metavar="MB",
                                   help="builder workspace limit in MB (default: TensorRT's, the GPU's memory)")
    tf32: bool = option("--tf32", default=False,
                        help="allow TF32 in FP32 layers of TensorRT engines and of torch on CUDA "
                             "(off by default: FP32 means FP32)")
    trt_verbose: bool = option("--trt-verbose", default=False, help="TensorRT's verbose builder log")
    trt_flavour: str = option("--trt-flavour", default="auto", choices=FLAVOUR_CHOICES,
                              help="tensorrt (10.x/11.x: builds and runs on the local GPU), rtx (TensorRT for RTX: "
                                   "builds on any machine, a CPU too, runs on compute capability 8.0/8.6/8.9/12.x), "
                                   "or auto: tensorrt when it imports, else rtx (default: %(default)s)")
    trt_compute_capability: str | None = option(
        "--trt-compute-capability", metavar="CC[,CC]",
        help=f"GPUs a TensorRT-RTX engine is built for: {', '.join(RTX_TARGETS)} or current (the local GPU). "
             "Default: what the installed runtime supports (TensorRT-RTX: its portable set 8.0, 8.6, 8.9, 12.x; "
             "TensorRT: the local GPU, the only target it has)")

    def validate(self) -> "TrtBuildOptions":
        for flag, value in (("--min_batch", self.min_batch), ("--opt_batch", self.opt_batch),
                            ("--max_batch", self.max_batch), ("--workspace", self.workspace)):
            if value is not None and value < 1:
                raise ValsuiteError(f"{flag} must be at least 1, got {value}")
        bad = [c for c in self.compute_capabilities() if c not in (*RTX_TARGETS, "current")]
        if bad:
            raise ValsuiteError(f"--trt-compute-capability {','.join(bad)}: unknown compute capability",
                                hint=f"choose from {', '.join(RTX_TARGETS)} or current")
        return self

    def compute_capabilities(self) -> tuple[str, ...]:
        """--trt-compute-capability as a tuple ('8.6', '12.0'); () is the flavour's default."""
        return tuple(c.strip() for c in (self.trt_compute_capability or "").split(",") if c.strip())

    def flavour(self):
        """The TensorRT flavour these options ask for (importing nothing but valsuite)."""
        from valsuite.tensorrt.flavour import get_flavour

        return get_flavour(self.trt_flavour)

    def build_options(self, precision: str, shapes, weights_dir: Path):
        """BuildOptions for one engine (imported lazily: tensorrt is optional)."""
        from valsuite.tensorrt.build import BuildOptions
        from valsuite.tensorrt.cache import timing_cache_path_for

        return BuildOptions(precision=precision, shapes=shapes, opt_level=self.build_op_lvl,
                            workspace_mb=self.workspace, tf32=self.tf32,
                            timing_cache=Path(self.timing_cache or timing_cache_path_for(weights_dir)))

    def build_options_for(self, flavour, precision: str, shapes, weights_dir: Path):
        """build_options() with the flavour's resolved compute-capability targets."""
        from dataclasses import replace

        return replace(self.build_options(precision, shapes, weights_dir),
                       targets=flavour.resolve_targets(self.compute_capabilities()))


@dataclass
class TrtRunOptions(OptionGroup):
    TITLE = "TensorRT run"

    engine: Path | None = option("--engine", type=Path, metavar="PATH",
                                 help="run this engine (built by build_trt.py); refused when its sidecar says it is "
                                      "stale for this TensorRT, GPU, ONNX or precision. Default: build or reuse one "
                                      "under weights/")
    rebuild_engine: bool = option("--rebuild-engine", default=False,
                                  help="rebuild the engine even when it is fresh")
