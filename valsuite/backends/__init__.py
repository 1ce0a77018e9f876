"""Backend registry. Engines are imported lazily: `import valsuite` must not need them."""

from __future__ import annotations

import importlib

from valsuite.backends.base import Backend, BackendInfo, BackendOptions, PRECISIONS
from valsuite.errors import ValsuiteError

# name -> "module:Class"; a new engine is one module and one line here
_REGISTRY = {
    "torch": "valsuite.backends.torch_backend:TorchBackend",
    "onnxruntime": "valsuite.backends.onnxruntime_backend:OnnxRuntimeBackend",
    "tensorrt": "valsuite.backends.tensorrt_backend:TensorRTBackend",
    "inductor": "valsuite.backends.inductor_backend:InductorBackend",
    "null": "valsuite.backends.null_backend:NullBackend",
}
# Backends that measure the harness, not a model: selectable by name (--backend null), but left
# out of "every backend this machine has" (default job, parity candidates, sweeps by default).
HARNESS_ONLY = ("null",)
ALIASES = {"ort": "onnxruntime", "trt": "tensorrt", "pytorch": "torch", "vanilla": "torch",
           "compile": "inductor", "torch.compile": "inductor"}


def backend_names(include_harness: bool = False) -> list[str]:
    return [name for name in _REGISTRY if include_harness or name not in HARNESS_ONLY]


def backend_class(name: str) -> type[Backend]:
    name = ALIASES.get(name, name)
    if name not in _REGISTRY:
        raise ValsuiteError(f"unknown backend {name!r}", hint=f"choose from {', '.join(_REGISTRY)}")
    module_name, _, cls_name = _REGISTRY[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("valsuite"):
            raise ValsuiteError(f"backend {name} is not built yet in this version of valsuite") from exc
        raise
    return getattr(module, cls_name)


def create_backend(name: str, spec, precision: str = "fp32", device: str = "cpu",
                   options: BackendOptions | None = None) -> Backend:
    cls = backend_class(name)
    return cls(spec, precision=precision, device=device, options=options)


def device_for(backend: str, requested: str | None) -> str:
    """--device when given, else where the backend runs by default on this machine (the GPU when
    it can use one here). The one place this choice is made."""
    return requested or backend_class(backend).preferred_device()


def backend_available(name: str, options: BackendOptions | None = None) -> tuple[bool, str]:
    """(True, '') when this machine can run the backend (with these options: e.g. the TensorRT
    flavour), else (False, the one-line reason)."""
    try:
        cls = backend_class(name)
    except ValsuiteError as exc:
        return False, str(exc)
    probe = getattr(cls, "available", None)
    return probe(options) if probe else (True, "")


__all__ = ["Backend", "BackendInfo", "BackendOptions", "PRECISIONS", "backend_names", "backend_class",
           "create_backend", "backend_available", "device_for", "ALIASES", "HARNESS_ONLY"]
