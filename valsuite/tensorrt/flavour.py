"""The two TensorRT flavours: TensorRT 10.x/11.x (`tensorrt`) and TensorRT for RTX (`tensorrt_rtx`).

Everything that differs between them lives here, so the build path, the engine cache and the
backend stay one strongly typed code path with no `if rtx` branches:

- which module to import and how to install it;
- what an engine is built for: TensorRT proper builds for the local GPU (the engine is tied to
  it), TensorRT-RTX builds ahead of time on any machine (a CPU is enough) for compute-capability
  targets and compiles kernels just in time on the GPU at first run;
- the tactic timing cache (TensorRT proper) versus the JIT runtime cache file next to the engine
  (TensorRT-RTX; with its own sidecar, reused only when it matches);
- the CUDA graph: captured by valsuite through torch (TensorRT proper) or the runtime's built-in
  whole-graph capture strategy (TensorRT-RTX);
- which GPUs the runtime can run engines on.

The API check (valsuite.tensorrt.apicheck) reads a class's `module_name` to check its methods
against that flavour's manifests only.
"""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from valsuite.errors import ValsuiteError
from valsuite.fileio import atomic_write_bytes, read_sidecar, sha256_file, sidecar_stale_reason, write_sidecar

log = logging.getLogger(__name__)

FLAVOUR_CHOICES = ("auto", "tensorrt", "rtx")


def parse_version(text: str) -> tuple[int, ...]:
    """'10.13.3.9' -> (10, 13, 3, 9); trailing non-numeric parts (rc, post) are ignored."""
    parts = []
    for piece in str(text).split("."):
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group()))
    if not parts:
        raise ValueError(f"not a version: {text!r}")
    return tuple(parts)


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: str          # "8.6"

    def describe(self) -> str:
        return f"{self.name} (compute capability {self.compute_capability})"

    def to_dict(self) -> dict:
        return {"name": self.name, "compute_capability": self.compute_capability}


def local_gpu(index: int = 0) -> GpuInfo | None:
    """The GPU torch sees (torch owns the CUDA context in valsuite), or None on a CPU machine."""
    import torch

    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(index)
    return GpuInfo(torch.cuda.get_device_name(index), f"{major}.{minor}")


@dataclass(frozen=True)
class RuntimeSupport:
    """Whether a flavour can run engines here; `line` is the one-line reason either way."""
    ok: bool
    line: str


class RuntimeContext:
    """An execution context plus what the flavour attached to it (a runtime cache to save)."""

    builtin_cuda_graph: bool = False

    def __init__(self, context) -> None:
        self.context = context

    def save(self) -> None:
        """Persist what the run learnt (the RTX runtime cache); nothing for TensorRT proper."""


class Flavour:
    """What a TensorRT flavour does differently. Subclasses set the class variables."""

    name: ClassVar[str]              # CLI name: "tensorrt" | "rtx"
    module_name: ClassVar[str]       # the Python module
    display: ClassVar[str]           # "TensorRT" | "TensorRT-RTX"
    install_hint: ClassVar[str]
    min_version: ClassVar[tuple[int, ...]]
    needs_gpu_to_build: ClassVar[bool]

    # -- the module ---------------------------------------------------------------------------------
    def import_module(self):
        """The flavour's module, or a one-line ValsuiteError that says how to install it."""
        try:
            trt = importlib.import_module(self.module_name)
        except ImportError as exc:
            raise ValsuiteError(f"{self.display} is not installed ({exc})", hint=self.install_hint) from exc
        except OSError as exc:  # the bindings import but NVIDIA's shared libraries are missing
            raise ValsuiteError(f"{self.display}'s libraries cannot be loaded ({str(exc).splitlines()[0]})",
                                hint=self.install_hint) from exc
        if parse_version(getattr(trt, "__version__", "0"))[:2] < self.min_version:
            raise ValsuiteError(f"{self.display} {trt.__version__} is too old: valsuite needs "
                                f"{'.'.join(map(str, self.min_version))} or newer")
        return trt

    def available(self) -> tuple[bool, str]:
        try:
            self.import_module()
        except ValsuiteError as exc:
            return False, str(exc)
        return True, ""

    # -- build --------------------------------------------------------------------------------------
    def resolve_targets(self, requested: tuple[str, ...]) -> tuple[str, ...]:
        """--trt-compute-capability values -> the compute capabilities recorded in the sidecar."""
        raise NotImplementedError

    def engine_identity(self, trt, targets: tuple[str, ...]) -> dict:
        """What an engine must match to be reused: flavour, version and what it was built for."""
        raise NotImplementedError

    def configure(self, trt, config, targets: tuple[str, ...], timing_cache_path: Path | None) -> None:
        """Flavour-specific builder config (targets, timing cache)."""
        raise NotImplementedError

    def after_build(self, trt, config, timing_cache_path: Path | None) -> None:
        """Persist what the build learnt (TensorRT's timing cache)."""

    # -- run ----------------------------------------------------------------------------------------
    def runtime_support(self, gpu: GpuInfo | None, sidecar: dict | None = None) -> RuntimeSupport:
        raise NotImplementedError

    def create_context(self, trt, engine, engine_path: Path, cuda_graph: bool, gpu: GpuInfo) -> RuntimeContext:
        raise NotImplementedError

    def version_of(self, trt) -> str:
        return str(trt.__version__)

    def describe(self, trt=None) -> str:
        return f"{self.display} {trt.__version__}" if trt is not None else self.display


class TensorRTFlavour(Flavour):
    """TensorRT 10.x/11.x: builds need the GPU the engine will run on; tactic timing cache."""

    name = "tensorrt"
    module_name = "tensorrt"
    display = "TensorRT"
    install_hint = ("install it with `pip install tensorrt` (or tensorrt-cu12 / tensorrt-cu13) on a machine "
                    "with an NVIDIA GPU and driver; valsuite supports TensorRT 10.8 or newer, 11.x included")
    min_version = (10, 8)
    needs_gpu_to_build = True

    def resolve_targets(self, requested: tuple[str, ...]) -> tuple[str, ...]:
        if tuple(requested) not in ((), ("current",)):
            raise ValsuiteError(f"--trt-compute-capability {','.join(requested)}: TensorRT 10.x/11.x builds "
                                "for the local GPU only", hint="use --trt-flavour rtx to build for other GPUs")
        gpu = local_gpu()
        if gpu is None:
            raise ValsuiteError("TensorRT needs an NVIDIA GPU to build an engine, but torch sees no CUDA device here",
                                hint="use --trt-flavour rtx (its builder runs on a CPU), or a GPU machine")
        return (gpu.compute_capability,)

    def engine_identity(self, trt, targets: tuple[str, ...]) -> dict:
        gpu = local_gpu()
        return {"flavour": self.name, "tensorrt_version": self.version_of(trt),
                "gpu": gpu.to_dict() if gpu else None, "compute_capability_targets": list(targets)}

    def configure(self, trt, config, targets: tuple[str, ...], timing_cache_path: Path | None) -> None:
        data = Path(timing_cache_path).read_bytes() if timing_cache_path and Path(timing_cache_path).is_file() else b""
        timing_cache = config.create_timing_cache(data)
        config.set_timing_cache(timing_cache, False)

    def after_build(self, trt, config, timing_cache_path: Path | None) -> None:
        if timing_cache_path is not None:
            timing_cache = config.get_timing_cache()
            atomic_write_bytes(timing_cache_path, bytes(timing_cache.serialize()))

    def runtime_support(self, gpu: GpuInfo | None, sidecar: dict | None = None) -> RuntimeSupport:
        if gpu is None:
            return RuntimeSupport(False, "TensorRT needs an NVIDIA GPU, but this machine has no GPU "
                                         "(TensorRT 10.x/11.x runs engines on the GPU model they were built on)")
        built = (sidecar or {}).get("gpu")
        if built and built.get("compute_capability") != gpu.compute_capability:
            return RuntimeSupport(False, f"this engine was built for {built.get('name')} (compute capability "
                                         f"{built.get('compute_capability')}); this machine has {gpu.describe()}")
        return RuntimeSupport(True, f"TensorRT runs on {gpu.describe()}")

    def create_context(self, trt, engine, engine_path: Path, cuda_graph: bool, gpu: GpuInfo) -> RuntimeContext:
        return RuntimeContext(engine.create_execution_context())


# TensorRT-RTX 1.x: default builds run on 8.0, 8.6, 8.9 and 12.x; 7.5 (Turing) only when asked for
RTX_DEFAULT_RUNS_ON = ("8.0", "8.6", "8.9", "12.0", "12.1")
RTX_TARGETS = ("7.5", "8.0", "8.6", "8.9", "12.0", "12.1")   # ComputeCapability.SM75 ... SM121


class RTXFlavour(Flavour):
    """TensorRT for RTX: ahead-of-time build on any machine, JIT kernels and runtime cache on the GPU."""

    name = "rtx"
    module_name = "tensorrt_rtx"
    display = "TensorRT-RTX"
    install_hint = "install it with `pip install tensorrt-rtx-cu13` (or tensorrt-rtx-cu12)"
    min_version = (1, 7)
    needs_gpu_to_build = False

    def resolve_targets(self, requested: tuple[str, ...]) -> tuple[str, ...]:
        """() -> the runtime's default portable set; 'current' -> the local GPU's compute capability."""
        if not requested:
            return ()
        out = []
        for value in requested:
            if value == "current":
                gpu = local_gpu()
                if gpu is None:
                    raise ValsuiteError("--trt-compute-capability current needs a GPU, and this machine has no GPU",
                                        hint=f"name targets instead ({', '.join(RTX_TARGETS)}) or leave it out")
                value = gpu.compute_capability
            if value not in RTX_TARGETS:
                raise ValsuiteError(f"TensorRT-RTX cannot build for compute capability {value}",
                                    hint=f"it supports {', '.join(RTX_TARGETS)}")
            if value not in out:
                out.append(value)
        return tuple(out)

    def engine_identity(self, trt, targets: tuple[str, ...]) -> dict:
        return {"flavour": self.name, "tensorrt_version": self.version_of(trt),
                "compute_capability_targets": list(targets) or "default"}

    def configure(self, trt, config, targets: tuple[str, ...], timing_cache_path: Path | None) -> None:
        # no timing cache: its operations are no-ops in TensorRT-RTX (deprecated since 1.2)
        if not targets:
            return  # the runtime's default portable set
        table = {"7.5": trt.ComputeCapability.SM75, "8.0": trt.ComputeCapability.SM80,
                 "8.6": trt.ComputeCapability.SM86, "8.9": trt.ComputeCapability.SM89,
                 "12.0": trt.ComputeCapability.SM120, "12.1": trt.ComputeCapability.SM121}
        config.num_compute_capabilities = len(targets)
        for index, value in enumerate(targets):
            config.set_compute_capability(table[value], index)

    @staticmethod
    def runs_on(sidecar: dict | None) -> tuple[str, ...]:
        targets = (sidecar or {}).get("compute_capability_targets", "default")
        return RTX_DEFAULT_RUNS_ON if targets in ("default", None, []) else tuple(targets)

    def runtime_support(self, gpu: GpuInfo | None, sidecar: dict | None = None) -> RuntimeSupport:
        runs_on = self.runs_on(sidecar)
        what = f"TensorRT-RTX runs engines on compute capability {', '.join(runs_on)}"
        if sidecar is not None:
            what += " (this engine's targets)"
        if gpu is None:
            return RuntimeSupport(False, f"no GPU on this machine; {what}")
        if gpu.compute_capability not in runs_on:
            return RuntimeSupport(False, f"this machine has {gpu.describe()}; {what}")
        return RuntimeSupport(True, f"TensorRT-RTX runs on {gpu.describe()}")

    def create_context(self, trt, engine, engine_path: Path, cuda_graph: bool, gpu: GpuInfo) -> RuntimeContext:
        runtime_config = engine.create_runtime_config()
        cache = RuntimeCacheFile(engine_path, gpu, self.version_of(trt))
        runtime_cache = runtime_config.create_runtime_cache()
        data = cache.load()
        if data and not runtime_cache.deserialize(data):
            log.warning("TensorRT-RTX refused the runtime cache %s; starting an empty one", cache.path)
        runtime_config.set_runtime_cache(runtime_cache)
        strategy = trt.CudaGraphStrategy.WHOLE_GRAPH_CAPTURE if cuda_graph else trt.CudaGraphStrategy.DISABLED
        runtime_config.cuda_graph_strategy = strategy
        context = engine.create_execution_context(runtime_config)
        return _RTXContext(context, runtime_cache, cache, cuda_graph)


class _RTXContext(RuntimeContext):
    def __init__(self, context, runtime_cache, cache: "RuntimeCacheFile", cuda_graph: bool) -> None:
        super().__init__(context)
        self.runtime_cache, self.cache = runtime_cache, cache
        self.builtin_cuda_graph = cuda_graph

    def save(self) -> None:
        self.cache.save(bytes(self.runtime_cache.serialize()))


class RuntimeCacheFile:
    """`<engine>.runtime.cache` with its own sidecar: JIT kernels for one engine, GPU and runtime."""

    def __init__(self, engine_path: Path, gpu: GpuInfo, runtime_version: str) -> None:
        self.path = Path(f"{engine_path}.runtime.cache")
        self.key = {"engine_sha256": sha256_file(engine_path), "gpu": gpu.to_dict(),
                    "runtime_version": runtime_version}

    def stale_reason(self) -> str | None:
        return sidecar_stale_reason(self.path, read_sidecar(self.path), self.key, key_field="key")

    def load(self) -> bytes:
        """The cached kernels when the sidecar matches this engine, GPU and runtime; else nothing."""
        reason = self.stale_reason()
        if reason is not None:
            if reason != "missing":
                log.info("not reusing runtime cache %s (%s)", self.path, reason)
            return b""
        return self.path.read_bytes()

    def save(self, data: bytes) -> None:
        atomic_write_bytes(self.path, data)
        write_sidecar(self.path, {"key": self.key, "sha256": sha256_file(self.path), "size_bytes": len(data)})


FLAVOURS: dict[str, Flavour] = {"tensorrt": TensorRTFlavour(), "rtx": RTXFlavour()}


def get_flavour(name: str = "auto") -> Flavour:
    """'tensorrt' | 'rtx' | 'auto' (TensorRT when it imports, else TensorRT-RTX, else a one-line error)."""
    if name in FLAVOURS:
        return FLAVOURS[name]
    if name != "auto":
        raise ValsuiteError(f"unknown TensorRT flavour {name!r}", hint=f"choose from {', '.join(FLAVOUR_CHOICES)}")
    reasons = []
    for flavour in FLAVOURS.values():
        ok, reason = flavour.available()
        if ok:
            return flavour
        reasons.append(reason.split(" (install")[0])
    raise ValsuiteError(f"no TensorRT flavour is installed: {'; '.join(reasons)}",
                        hint="`pip install tensorrt-rtx-cu13` builds engines on any machine; "
                             "`pip install tensorrt` needs an NVIDIA GPU")


def flavour_of(trt) -> Flavour:
    """The flavour a module (real or fake) belongs to, from its module name."""
    module = getattr(trt, "__name__", "tensorrt")
    for flavour in FLAVOURS.values():
        if flavour.module_name == module:
            return flavour
    raise ValsuiteError(f"{module} is not a TensorRT module valsuite knows")


def runtime_support(flavour: Flavour | str = "auto", sidecar: dict | None = None) -> RuntimeSupport:
    """Can `flavour` run (this) engine here? One line naming the GPU (or 'no GPU') and what it supports."""
    flavour = get_flavour(flavour) if isinstance(flavour, str) else flavour
    ok, reason = flavour.available()
    if not ok:
        return RuntimeSupport(False, reason)
    return flavour.runtime_support(local_gpu(), sidecar)
