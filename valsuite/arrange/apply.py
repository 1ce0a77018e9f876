"""Apply a checked plan: every file lands with an atomic rename, so a run can stop anywhere and a
re-run (which plans again) finishes the job without duplicating or losing a file."""

from __future__ import annotations

import errno
import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from valsuite.data.manifest import CALIBRATION_LIST_FILENAME, scan_dataset, write_manifest_file
from valsuite.data.synsets import MAPPING_FILENAME
from valsuite.arrange.plan import PARTIAL_MARK, Plan
from valsuite.errors import ValsuiteError
from valsuite.fileio import atomic_write_json, atomic_write_text, sha256_file

_CHUNK = 1 << 20


@dataclass
class ApplyResult:
    placed: int = 0
    in_place: int = 0
    sources_removed: int = 0
    partials_removed: int = 0
    per_class: Counter = field(default_factory=Counter)
    manifest: dict = field(default_factory=dict)


def _partial(target: Path) -> Path:
    return target.with_name(f".{target.name}{PARTIAL_MARK}")


def _write_verified(target: Path, chunks, expected_sha: str) -> None:
    """Write to a partial file, fsync, re-read and compare sha256, then rename into place."""
    tmp = _partial(target)
    with open(tmp, "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    got = sha256_file(tmp)
    if got != expected_sha:
        tmp.unlink()
        raise ValsuiteError(f"copy to {target} does not match its source (sha256 {got} != {expected_sha}); "
                            f"the source was kept")
    os.replace(tmp, target)


def _file_chunks(path: Path):
    with open(path, "rb") as handle:
        yield from iter(lambda: handle.read(_CHUNK), b"")


def copy_verified(source: Path, target: Path) -> None:
    _write_verified(target, _file_chunks(source), sha256_file(source))


def place_file(source: Path, target: Path, mode: str) -> None:
    """Move (rename; across devices: copy + verify + delete), copy, or symlink one file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(target):
        raise ValsuiteError(f"{target} appeared while this run was going; nothing was overwritten, re-run")
    if mode == "move":
        try:
            os.rename(source, target)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        copy_verified(source, target)
        os.unlink(source)
    elif mode == "copy":
        copy_verified(source, target)
    elif mode == "symlink":
        tmp = _partial(target)
        os.symlink(os.path.abspath(source), tmp)
        os.replace(tmp, target)
    else:
        raise ValueError(f"unknown mode {mode}")


def apply_plan(plan: Plan, progress: bool = True) -> ApplyResult:
    """Carry out a plan that has no problems; finish with the mapping, lists and manifest."""
    plan.raise_if_problems()
    result = ApplyResult(in_place=len(plan.in_place))
    for stale in plan.stale_partials:
        stale.unlink(missing_ok=True)
        result.partials_removed += 1
    plan.output.mkdir(parents=True, exist_ok=True)
    if plan.mode == "write":
        result.placed = _apply_stream(plan, progress)
    else:
        for item in tqdm(plan.to_place, desc=plan.mode, unit="img", disable=not progress):
            place_file(item.source, plan.output / item.target, plan.mode)
            result.placed += 1
    for item in plan.drop_sources:
        target = plan.output / item.target
        if sha256_file(target) != sha256_file(item.source):
            raise ValsuiteError(f"{target} changed during the run; its duplicate source {item.source} was kept")
        item.source.unlink()
        result.sources_removed += 1
    _write_side_files(plan)
    manifest = scan_dataset(plan.output, plan.mapping)
    result.per_class = Counter(plan.mapping.wnids[e.label] for e in manifest.entries)
    result.manifest = write_manifest_file(manifest, progress=progress)
    return result


def _apply_stream(plan: Plan, progress: bool) -> int:
    wanted = {item.target: item for item in plan.to_place}
    written = 0
    bar = tqdm(total=len(wanted), desc="write", unit="img", disable=not progress)
    for target_rel, data in plan.stream():
        item = wanted.pop(target_rel, None)
        if item is None:
            continue
        target = plan.output / target_rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if hashlib.sha256(data).hexdigest() != item.sha256:
            raise ValsuiteError(f"{item.origin} changed since it was checked; re-run")
        _write_verified(target, [data], item.sha256)
        written += 1
        bar.update()
    bar.close()
    if wanted:
        raise ValsuiteError(f"{len(wanted)} image(s) vanished from the source during the run, "
                            f"first: {next(iter(wanted))}; re-run")
    return written


def _write_side_files(plan: Plan) -> None:
    if plan.write_mapping:
        text = "".join(f"{w} {n}\n" for w, n in zip(plan.mapping.wnids, plan.mapping.names))
        atomic_write_text(plan.output / MAPPING_FILENAME, text)
    if plan.calibration is not None:
        atomic_write_text(plan.output / CALIBRATION_LIST_FILENAME,
                          plan.calibration_header + "".join(f"{rel}\n" for rel in plan.calibration))
    for name, obj in plan.extra_json.items():
        atomic_write_json(plan.output / name, obj)
