"""One interface for every inference engine (after Polygraphy's runners).

A backend is activated once (load or build: the slow part, never timed), then `infer` is called
per batch, then it is deactivated. `infer` takes a float NCHW batch (on the host, or already on
the backend's device) and returns host float32 outputs plus the model-only time of that call:
CUDA events around the engine's compute on a GPU, a monotonic clock on the CPU. The caller times
Latency-all itself, from host batch to host outputs, so the two never mix.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from valsuite.errors import ValsuiteError
from valsuite.heads.kinds import HeadSpec
from valsuite.models.spec import ModelSpec
from valsuite.options.inductor import InductorOptions
from valsuite.options.precision import PrecisionOptions
from valsuite.options.trt import TrtBuildOptions

PRECISIONS = ("fp32", "fp16", "bf16", "int8")


@dataclass
class BackendOptions:
    """What a backend is given: shared settings plus the typed option groups engines read."""

    weights_dir: Path = Path("weights")
    batch_size: int = 32               # the batch size the run uses (static engines, CUDA graphs)
    max_batch: int | None = None       # largest batch the artifact must accept
    artifact: Path | None = None       # a user-given ONNX/engine/package path
    cuda_graph: bool = False
    rebuild: bool = False              # --rebuild-engine: build even when the cached artifact is fresh
    precision: PrecisionOptions = field(default_factory=PrecisionOptions)   # FP16/INT8 variants
    trt: TrtBuildOptions = field(default_factory=TrtBuildOptions)           # engine build; tf32 for torch too
    inductor: InductorOptions = field(default_factory=InductorOptions)
    head: HeadSpec | None = None       # output head (valsuite/heads); None: the logits as exported


@dataclass
class BackendInfo:
    """Facts about the loaded model, copied into the run record."""

    model_size_mb: float | None = None   # size on disk of what the engine runs (ONNX, plan, checkpoint)
    num_layers: int | None = None        # torch: leaf modules; ONNX: graph nodes; TensorRT: engine layers
    num_params: int | None = None        # torch: parameters; ONNX: initializer elements
    artifact: str | None = None
    details: dict = field(default_factory=dict)


class Backend(ABC):
    name: ClassVar[str]
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    # False for an engine whose outputs rank nothing (the null backend): no Prec@1/Prec@5 then
    computes_outputs: ClassVar[bool] = True

    def __init__(self, spec: ModelSpec, precision: str = "fp32", device: str = "cpu",
                 options: BackendOptions | None = None) -> None:
        if precision not in self.precisions:
            raise ValsuiteError(f"backend {self.name} does not support precision {precision}",
                                hint=f"supported: {', '.join(self.precisions)}")
        if device not in self.devices:
            raise ValsuiteError(f"backend {self.name} does not run on {device}",
                                hint=f"supported: {', '.join(self.devices)}")
        self.spec = spec
        self.precision = precision
        self.device = device
        self.options = options or BackendOptions()
        self.active = False

    @classmethod
    def preferred_device(cls) -> str:
        """The device used when the user names none: the GPU when this backend can use one here."""
        if "cuda" in cls.devices:
            import torch

            if torch.cuda.is_available():
                return "cuda"
        return "cpu"

    # -- lifecycle ---------------------------------------------------------------------------
    def activate(self) -> None:
        if not self.active:
            self._activate()
            self.active = True

    def deactivate(self) -> None:
        if self.active:
            self._deactivate()
            self.active = False

    def __enter__(self) -> "Backend":
        self.activate()
        return self

    def __exit__(self, *exc) -> None:
        self.deactivate()

    # -- inference ---------------------------------------------------------------------------
    @property
    def input_device(self) -> str:
        """Where the caller should put the normalised batch (the GPU pipeline uses it)."""
        return self.device

    def infer(self, batch):
        """float NCHW batch -> (host outputs, model-only milliseconds): (N, classes) float32 logits,
        or what options.head returns (valsuite/heads/outputs.py)."""
        if not self.active:
            raise RuntimeError(f"{self.name} backend used before activate()")
        self._check_input(batch)
        return self._infer(batch)

    def submit(self, batch):
        """Start inference and return at once where the engine allows it: `.wait()` on the result
        gives what infer() gives. The validation loop keeps up to --inflight batches submitted, so
        the host prepares batch i+1 while the GPU computes batch i. Default: synchronous."""
        if not self.active:
            raise RuntimeError(f"{self.name} backend used before activate()")
        self._check_input(batch)
        return self._submit(batch)

    def _submit(self, batch):
        from valsuite.backends.cuda_launch import Finished

        return Finished(self._infer(batch))

    def _check_input(self, batch) -> None:
        shape = tuple(batch.shape)
        if len(shape) != 4 or shape[0] < 1 or shape[1:] != tuple(self.spec.input_shape):
            raise ValsuiteError(f"{self.name}: input shape {shape} does not match model input "
                                f"(N, {', '.join(map(str, self.spec.input_shape))})")

    def layer_times(self, batch, runs: int):
        """A per-layer profile of `runs` passes over `batch` (evaluate/layer_profile.LayerTimes).
        A separate run: call it after the timed batches, never between them."""
        raise ValsuiteError(f"--profile-layers is not available for backend {self.name}",
                            hint="torch, onnxruntime and tensorrt have per-layer profiles")

    @abstractmethod
    def _activate(self) -> None: ...

    @abstractmethod
    def _infer(self, batch): ...

    def _deactivate(self) -> None:
        """Release engine memory; most backends need nothing more than dropping references."""

    @abstractmethod
    def info(self) -> BackendInfo: ...
