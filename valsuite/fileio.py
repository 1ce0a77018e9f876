"""Small file helpers shared by every stage: hashing, atomic writes, sidecars."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from valsuite.errors import ValsuiteError

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (streamed, so large engines and ONNX files are fine)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_json(obj: Any) -> str:
    """Hash of a JSON-able object in canonical form (sorted keys), for cache keys."""
    return sha256_text(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """Read JSON or raise a user error that names the file (corrupt caches must not crash)."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError as exc:
        raise ValsuiteError(f"{what} not found: {path}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValsuiteError(f"{what} is corrupt: {path}: {exc}") from exc


def sidecar_stale_reason(path: str | os.PathLike, sidecar: dict | None, wanted: dict,
                         key_field: str | None = None) -> str | None:
    """The checks every cached artifact shares: the file exists, its sidecar was readable, and the
    key it recorded (the sidecar itself, or sidecar[key_field]) equals `wanted`. Returns why not
    ('missing', 'no readable sidecar', '<first differing field> changed') or None."""
    if not Path(path).is_file():
        return "missing"
    if sidecar is None:
        return "no readable sidecar"
    recorded = sidecar if key_field is None else sidecar.get(key_field, {})
    for field, value in wanted.items():
        if recorded.get(field) != value:
            return f"{field} changed"
    return None


def sidecar_path(artifact: str | os.PathLike) -> Path:
    """Every cached artifact X has its facts in X.json beside it."""
    return Path(f"{os.fspath(artifact)}.json")


def read_sidecar(artifact: str | os.PathLike) -> dict | None:
    """The artifact's sidecar, or None when it is missing or unreadable (treated as stale)."""
    path = sidecar_path(artifact)
    if not path.exists():
        return None
    try:
        data = read_json(path, "sidecar")
    except ValsuiteError:
        return None
    return data if isinstance(data, dict) else None


def write_sidecar(artifact: str | os.PathLike, facts: dict) -> None:
    atomic_write_json(sidecar_path(artifact), facts)
