"""Where TensorRT comes from, which version it is, and the branch helpers the API check understands.

Code that must differ between TensorRT versions branches on `trt_major()` or `trt_version()`
(`if trt_major() >= 11: ... else: ...`); the conformance test (tools.trt_apicheck) reads
exactly these calls to decide which manifest versions reach which branch.
"""

from __future__ import annotations

import re

from valsuite.errors import ValsuiteError

INSTALL_HINT = ("install it with `pip install tensorrt` (or tensorrt-cu12 / tensorrt-cu13) on a machine "
                "with an NVIDIA GPU and driver; valsuite supports TensorRT 10.8 or newer, 11.x included")
MIN_VERSION = (10, 8)


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


def import_tensorrt():
    """The tensorrt module, or a one-line ValsuiteError that says how to install it."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise ValsuiteError(f"TensorRT is not installed ({exc})", hint=INSTALL_HINT) from exc
    except OSError as exc:  # the bindings import but NVIDIA's shared libraries are missing
        raise ValsuiteError(f"TensorRT's libraries cannot be loaded ({str(exc).splitlines()[0]})",
                            hint=INSTALL_HINT) from exc
    version = parse_version(getattr(trt, "__version__", "0"))
    if version[:2] < MIN_VERSION:
        raise ValsuiteError(f"TensorRT {trt.__version__} is too old: valsuite needs "
                            f"{'.'.join(map(str, MIN_VERSION))} or newer (strongly typed networks)")
    return trt


def tensorrt_available() -> tuple[bool, str]:
    """(True, '') when `import tensorrt` works here, else (False, the reason with the install hint)."""
    try:
        import_tensorrt()
    except ValsuiteError as exc:
        return False, str(exc)
    return True, ""


def trt_version(trt=None) -> tuple[int, ...]:
    """Version tuple of the given (or installed) TensorRT module."""
    trt = trt if trt is not None else import_tensorrt()
    return parse_version(trt.__version__)


def trt_major(trt=None) -> int:
    return trt_version(trt)[0]
