"""Sweep group (--sweep): the cross product run, one child process per configuration."""

from __future__ import annotations

from dataclasses import dataclass

from valsuite.errors import ValsuiteError
from valsuite.options.base import OptionGroup, option
from valsuite.options.run import split_list


@dataclass
class SweepOptions(OptionGroup):
    TITLE = "sweep (each configuration in its own `python -m valsuite -v` process; resumable)"

    networks: str | None = option("--networks", help="comma list, e.g. resnet18,resnet50")
    backends: str | None = option("--backends", help="comma list, e.g. torch,onnxruntime,tensorrt")
    precisions: str = option("--precisions", default="fp32", help="comma list (default: %(default)s)")
    batch_sizes: str | None = option("--batch_sizes", "--batch-sizes", help="comma list, e.g. 1,32,64")
    input_sizes: str | None = option("--input_sizes", "--input-sizes", metavar="HxW,...",
                                     help="comma list of input sizes, e.g. 224x224,384x576 (default: each "
                                          "network's native size; other sizes are speed only)")
    force: bool = option("--force", default=False, help="rerun configurations that already have a record")
    sweep_timeout: float | None = option("--sweep-timeout", type=float,
                                         help="seconds after which one configuration is killed and recorded as failed")
    shard: str | None = option("--shard", metavar="K/N",
                               help="run only the K-th of N deterministic slices of the sweep (K from 0), e.g. one "
                                    "per task of a SLURM job array or Kubernetes indexed Job writing to shared "
                                    "storage; --report merges their records (docs/cluster/)")
    gpus: str | None = option("--gpus", metavar="all|0,1",
                              help="run the CUDA configurations in parallel, one child process per GPU pinned with "
                                   "CUDA_VISIBLE_DEVICES (indexes among the visible GPUs)")

    def validate(self) -> "SweepOptions":
        if self.shard is not None:
            self.shard_spec()
        return self

    def shard_spec(self):
        """The parsed --shard (None when the whole sweep runs here)."""
        from valsuite.sharding import parse_shard

        return None if self.shard is None else parse_shard(self.shard)

    def gpu_list(self) -> list[str] | None:
        """Physical ids of the --gpus (None: one configuration at a time, as before)."""
        from valsuite.sharding import parse_gpus

        return None if self.gpus is None else parse_gpus(self.gpus)

    def input_size_list(self) -> list[tuple[int, int] | None]:
        """Each size as (H, W); [None] (the native size) when none is given."""
        from valsuite.data.preprocess import parse_input_size

        return [parse_input_size(part) for part in split_list(self.input_sizes)] or [None]

    def batch_size_list(self) -> list[int]:
        try:
            return [int(part) for part in split_list(self.batch_sizes)]
        except ValueError as exc:
            raise ValsuiteError(f"--batch_sizes takes a comma list of integers, got {self.batch_sizes!r}") from exc
