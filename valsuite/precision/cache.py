"""The calibration cache: per-tensor ranges in JSON, keyed by everything that made them.

Key = sha256 of {FP32 ONNX sha256, calibration file list with content hashes, method (+ its
parameter), preprocessing, observed tensors, tool version}. Batch size is not in the key because
the statistics do not depend on it (see stats.py). A cache whose key differs is recomputed with one
log line naming what changed; a corrupt one (bad JSON, bad checksum) likewise. Beside the JSON, the
same ranges are written as a TensorRT calibration-cache text file for the legacy (TensorRT 10)
IInt8 calibrators.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.fileio import atomic_write_json, atomic_write_text, read_json, sha256_json

log = logging.getLogger(__name__)

TRT_HEADERS = {"entropy": "EntropyCalibration2", "minmax": "MinMaxCalibration", "percentile": "LegacyCalibration"}
TRT_CACHE_VERSION = "100100"


def cache_key(key_facts: dict) -> str:
    return sha256_json(key_facts)


def _checksum(payload: dict) -> str:
    return sha256_json({k: v for k, v in payload.items() if k != "checksum"})


def load_cache(path: Path, key_facts: dict) -> tuple[dict | None, str]:
    """(cached payload, "") when usable, else (None, why it is not)."""
    if not path.is_file():
        return None, "no cache yet"
    try:
        payload = read_json(path, "calibration cache")
    except ValsuiteError as exc:
        return None, f"corrupt ({str(exc).split(': ')[-1][:80]})"
    if not isinstance(payload, dict) or payload.get("checksum") != _checksum(payload):
        return None, "corrupt (checksum mismatch)"
    if payload.get("key") == cache_key(key_facts):
        return payload, ""
    old = payload.get("key_facts", {})
    changed = [k for k in sorted(key_facts) if old.get(k) != key_facts[k]]
    return None, f"{', '.join(changed) or 'key'} changed since it was made"


def save_cache(path: Path, key_facts: dict, tensors: dict, facts: dict) -> dict:
    payload = {"key": cache_key(key_facts), "key_facts": key_facts, "tensors": tensors, **facts}
    payload["checksum"] = _checksum(payload)
    atomic_write_json(path, payload)
    return payload


def trt_cache_text(amax: dict[str, float], method: str) -> str:
    """TensorRT's calibration-cache format: a header, then `tensor: <big-endian float32 scale hex>`."""
    lines = [f"TRT-{TRT_CACHE_VERSION}-{TRT_HEADERS[method]}"]
    for name in sorted(amax):
        scale = amax[name] / 127.0
        lines.append(f"{name}: {struct.pack('>f', scale).hex()}")
    return "\n".join(lines) + "\n"


def write_trt_cache(path: Path, amax: dict[str, float], method: str) -> None:
    atomic_write_text(path, trt_cache_text(amax, method))


def read_trt_cache(path: Path) -> dict[str, float]:
    """Ranges back from a TensorRT cache file (for tests and for users bringing their own)."""
    amax = {}
    for line in Path(path).read_text().splitlines()[1:]:
        name, _, value = line.rpartition(": ")
        amax[name] = struct.unpack(">f", bytes.fromhex(value))[0] * 127.0
    return amax
