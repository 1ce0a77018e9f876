"""Engine names under weights/, the sidecar an engine carries, and when an engine is stale.

An engine is tied to the flavour and version that built it (TensorRT or TensorRT-RTX), what it was
built for (TensorRT: the local GPU; TensorRT-RTX: compute-capability targets), the ONNX it came from
(sha256), its optimization profile and its precision. When any of these
differs from what the current run needs, the engine is stale: main.py rebuilds it, while an
engine passed by path (--engine) is refused with the reason, because valsuite did not make it.
"""

from __future__ import annotations

from pathlib import Path

from valsuite.fileio import read_sidecar, sha256_file, sidecar_stale_reason
from valsuite.tensorrt.profile import ProfileShapes

ENGINE_SUFFIX = ".engine"
# sidecar keys an engine must match; the order is the order reasons are reported in
IDENTITY_KEYS = ("flavour", "tensorrt_version", "gpu", "compute_capability_targets", "onnx_sha256", "profile",
                 "precision")


def engine_path_for(stem: str, weights_dir: str | Path, precision: str, shapes: ProfileShapes) -> Path:
    """weights/<network>_<weights>_<precision>-<static-b1|dynamic-b1-32-256>.engine"""
    return Path(weights_dir) / f"{stem}_{precision}-{shapes.tag()}{ENGINE_SUFFIX}"


def timing_cache_path_for(weights_dir: str | Path) -> Path:
    """One timing cache per weights folder: tactic timings are reused across every build there."""
    return Path(weights_dir) / "tensorrt.timing.cache"


def _describe(key: str, value) -> str:
    if key == "gpu" and isinstance(value, dict):
        return f"{value.get('name')} (sm {value.get('compute_capability')})"
    if key == "profile" and isinstance(value, dict):
        return "/".join(str(value.get(k, ["?"])[0]) for k in ("min", "opt", "max")) + " batch"
    if key == "onnx_sha256" and isinstance(value, str):
        return value[:12]
    return str(value)


def mismatch_reasons(sidecar: dict, expected: dict) -> list[str]:
    """Human-readable differences between a sidecar and the facts the run needs (only keys given)."""
    reasons = []
    for key in (*IDENTITY_KEYS, *(k for k in expected if k not in IDENTITY_KEYS)):
        if key not in expected:
            continue
        have, want = sidecar.get(key), expected[key]
        if have != want:
            reasons.append(f"{key.replace('_', ' ')} differs: engine has {_describe(key, have)}, "
                           f"this run needs {_describe(key, want)}")
    return reasons


def stale_reason(engine_path: str | Path, expected: dict, check_content: bool = True) -> str | None:
    """Why the engine cannot be used for `expected`, or None when it can."""
    path = Path(engine_path)
    sidecar = read_sidecar(path)
    reason = sidecar_stale_reason(path, sidecar, {})   # the shared rule: file and readable sidecar
    if reason is not None:
        return reason
    reasons = mismatch_reasons(sidecar, expected)
    if reasons:
        return "; ".join(reasons)
    if check_content and sidecar.get("engine_sha256") != sha256_file(path):
        return "engine file changed since its sidecar was written"
    return None
