"""TensorRT groups: engine build options (shared by build_trt.py and main.py) and main.py's engine choice.

Nothing here imports tensorrt: `-h` works on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.options.base import OptionGroup, option


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

    def validate(self) -> "TrtBuildOptions":
        for flag, value in (("--min_batch", self.min_batch), ("--opt_batch", self.opt_batch),
                            ("--max_batch", self.max_batch), ("--workspace", self.workspace)):
            if value is not None and value < 1:
                raise ValsuiteError(f"{flag} must be at least 1, got {value}")
        return self

    def build_options(self, precision: str, shapes, weights_dir: Path):
        """BuildOptions for one engine (imported lazily: tensorrt is optional)."""
        from valsuite.tensorrt.build import BuildOptions
        from valsuite.tensorrt.cache import timing_cache_path_for

        return BuildOptions(precision=precision, shapes=shapes, opt_level=self.build_op_lvl,
                            workspace_mb=self.workspace, tf32=self.tf32,
                            timing_cache=Path(self.timing_cache or timing_cache_path_for(weights_dir)))


@dataclass
class TrtRunOptions(OptionGroup):
    TITLE = "TensorRT run"

    engine: Path | None = option("--engine", type=Path, metavar="PATH",
                                 help="run this engine (built by build_trt.py); refused when its sidecar says it is "
                                      "stale for this TensorRT, GPU, ONNX or precision. Default: build or reuse one "
                                      "under weights/")
    rebuild_engine: bool = option("--rebuild-engine", default=False,
                                  help="rebuild the engine even when it is fresh")
