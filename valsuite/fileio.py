"""Small file helpers shared by every stage: hashing, atomic writes, sidecars."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator

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


def current_umask() -> int:
    """The process umask (Linux reports it in /proc; elsewhere set-and-restore, which is racy only
    against other threads changing it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_path_for(target: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """A unique hidden temporary name beside `target` (pid + random): two runs writing the same
    artifact never share a temporary file; the last rename wins with a complete file."""
    target = Path(target)
    return target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{suffix}")


def publish(tmp: str | os.PathLike, target: str | os.PathLike) -> None:
    """Give a finished temporary file the user's umask mode (mkstemp makes 0600) and rename it
    over `target` atomically."""
    os.chmod(tmp, 0o666 & ~current_umask())
    os.replace(tmp, target)


@contextlib.contextmanager
def artifact_lock(target: str | os.PathLike) -> Iterator[None]:
    """An exclusive lock beside `target` (`.<name>.lock`, removed afterwards) for the
    check-build-publish of a cached artifact: a second run into the same folder waits, then finds
    the artifact fresh instead of building it again. Where locks are unsupported the unique
    temporary names and rename-wins writes still keep every file whole."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    lock_path = target.with_name(f".{target.name}.lock")
    fd = _acquire(lock_path, fcntl)
    try:
        yield
    finally:
        lock_path.unlink(missing_ok=True)   # while still held: a waiter then sees a new inode
        os.close(fd)


def _acquire(lock_path: Path, fcntl) -> int:
    """flock a lock file that is still the one on disk (the holder before us may have removed it)."""
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(target))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        publish(tmp, target)
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
                         key_field: str | None = None, content_field: str | None = None) -> str | None:
    """The checks every cached artifact shares: the file exists, its sidecar was readable, the key
    it recorded (the sidecar itself, or sidecar[key_field]) equals `wanted`, and, with
    content_field, the file still hashes to sidecar[content_field] (a truncated or edited file is
    stale). Returns why not ('missing', 'no readable sidecar', '<first differing field> changed',
    'file content no longer matches its sidecar sha256 ...') or None."""
    if not Path(path).is_file():
        return "missing"
    if sidecar is None:
        return "no readable sidecar"
    recorded = sidecar if key_field is None else sidecar.get(key_field, {})
    for field, value in wanted.items():
        if recorded.get(field) != value:
            return f"{field} changed"
    if content_field is not None and sidecar.get(content_field) != sha256_file(path):
        return "file content no longer matches its sidecar sha256 (truncated or modified)"
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
