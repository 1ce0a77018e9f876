"""Every option group of main.py in one typed bundle, and what each backend is given from it."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from valsuite.options.base import OptionGroup
from valsuite.options.data import DataOptions
from valsuite.options.inductor import InductorOptions
from valsuite.options.measure import MeasureOptions
from valsuite.options.model import ModelOptions
from valsuite.options.parity import ParityOptions
from valsuite.options.precision import PrecisionOptions
from valsuite.options.report import ReportOptions
from valsuite.options.run import RunOptions
from valsuite.options.speed import CUDA_GRAPH_BACKENDS, SpeedOptions
from valsuite.options.sweep import SweepOptions
from valsuite.options.trt import TrtBuildOptions, TrtRunOptions


@dataclass
class JobOptions:
    model: ModelOptions = field(default_factory=ModelOptions)
    data: DataOptions = field(default_factory=DataOptions)
    run: RunOptions = field(default_factory=RunOptions)
    measure: MeasureOptions = field(default_factory=MeasureOptions)
    precision: PrecisionOptions = field(default_factory=PrecisionOptions)
    trt: TrtBuildOptions = field(default_factory=TrtBuildOptions)
    trt_run: TrtRunOptions = field(default_factory=TrtRunOptions)
    speed: SpeedOptions = field(default_factory=SpeedOptions)
    inductor: InductorOptions = field(default_factory=InductorOptions)
    parity: ParityOptions = field(default_factory=ParityOptions)
    report: ReportOptions = field(default_factory=ReportOptions)
    sweep: SweepOptions = field(default_factory=SweepOptions)

    @classmethod
    def group_types(cls) -> dict[str, type[OptionGroup]]:
        hints = {"model": ModelOptions, "data": DataOptions, "run": RunOptions, "measure": MeasureOptions,
                 "precision": PrecisionOptions,
                 "trt": TrtBuildOptions, "trt_run": TrtRunOptions, "speed": SpeedOptions,
                 "inductor": InductorOptions, "parity": ParityOptions, "report": ReportOptions,
                 "sweep": SweepOptions}
        assert list(hints) == [f.name for f in dataclasses.fields(cls)]
        return hints

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        for group in cls.group_types().values():
            group.add_arguments(parser)

    @classmethod
    def from_args(cls, ns: argparse.Namespace) -> "JobOptions":
        return cls(**{name: group.from_args(ns) for name, group in cls.group_types().items()})

    def groups(self, *names: str) -> list[OptionGroup]:
        return [getattr(self, name) for name in (names or self.group_types())]

    def to_argv(self, *names: str) -> list[str]:
        """The named groups (default: all) as a command line; defaults are left out."""
        return [arg for group in self.groups(*names) for arg in group.to_argv()]

    def given(self, *names: str) -> list[str]:
        return [flag for group in self.groups(*names) for flag in group.given()]

    def backend_options(self, backend: str, dataset: Path | None) -> "BackendOptions":
        """What one backend row is given: --engine only to tensorrt, --cuda-graph to the engines that
        capture; the evaluated folder is the default calibration source."""
        from valsuite.backends.base import BackendOptions

        precision = dataclasses.replace(self.precision, eval_dataset=self.precision.eval_dataset or dataset)
        return BackendOptions(
            weights_dir=Path(self.model.weights_dir), batch_size=self.run.batch_size, max_batch=self.run.batch_size,
            artifact=self.trt_run.engine if backend == "tensorrt" else None,
            cuda_graph=self.speed.cuda_graph and backend in CUDA_GRAPH_BACKENDS,
            rebuild=self.trt_run.rebuild_engine, precision=precision, trt=self.trt, inductor=self.inductor)


    def key_argv(self) -> list[str]:
        """The options that shape a measurement beyond what a record names itself (network, weights,
        backend, precision, batch size, device, image set): a sweep matches records on their hash.
        Output places and the progress bar are left out: they do not change what is measured."""
        run = dataclasses.replace(RunOptions(), workers=self.run.workers, inflight=self.run.inflight,
                                  warmup=self.run.warmup)
        measure = dataclasses.replace(self.measure, export_times=None)      # an output place
        keyed = dataclasses.replace(self, run=run, measure=measure)
        return keyed.to_argv("run", "measure", "precision", "trt", "trt_run", "speed", "inductor")

    def options_key(self) -> str:
        """A short hash of key_argv(): records made with other options never count as the same."""
        return hashlib.sha256(json.dumps(self.key_argv()).encode()).hexdigest()[:16]
