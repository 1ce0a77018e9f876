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
    force: bool = option("--force", default=False, help="rerun configurations that already have a record")
    sweep_timeout: float | None = option("--sweep-timeout", type=float,
                                         help="seconds after which one configuration is killed and recorded as failed")

    def batch_size_list(self) -> list[int]:
        try:
            return [int(part) for part in split_list(self.batch_sizes)]
        except ValueError as exc:
            raise ValsuiteError(f"--batch_sizes takes a comma list of integers, got {self.batch_sizes!r}") from exc
