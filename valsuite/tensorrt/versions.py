"""Where TensorRT comes from, which version it is, and the branch helpers the API check understands.

Code that must differ between TensorRT versions branches on `trt_major()` or `trt_version()`
(`if trt_major() >= 11: ... else: ...`); the conformance test (tools.trt_apicheck) reads
exactly these calls to decide which manifest versions reach which branch.
"""

from __future__ import annotations

from valsuite.errors import ValsuiteError
from valsuite.tensorrt.flavour import get_flavour, parse_version  # noqa: F401 (parse_version: re-exported)


def import_tensorrt(flavour: str = "auto"):
    """The module of a TensorRT flavour ('auto': tensorrt when it imports, else tensorrt_rtx), or a
    one-line ValsuiteError that says how to install it. See valsuite.tensorrt.flavour."""
    return get_flavour(flavour).import_module()


def tensorrt_available(flavour: str = "auto") -> tuple[bool, str]:
    """(True, '') when a TensorRT flavour imports here, else (False, the reason with the install hint)."""
    try:
        import_tensorrt(flavour)
    except ValsuiteError as exc:
        return False, str(exc)
    return True, ""


def trt_version(trt=None) -> tuple[int, ...]:
    """Version tuple of the given (or installed) TensorRT module."""
    trt = trt if trt is not None else import_tensorrt()
    return parse_version(trt.__version__)


def trt_major(trt=None) -> int:
    return trt_version(trt)[0]
