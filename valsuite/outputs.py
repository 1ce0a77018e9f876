"""Output locations: checked before the first image is read, with a writable fallback at the end.

A run that fails to write its record after a long evaluation loses the work; so every output
location (results folder, weights folder, plots folder, --output-json file, ...) is probed once
up front, and a record that still cannot be written at the end goes to a fallback folder that
the message names.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from valsuite.errors import ValsuiteError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputLocation:
    """One place a run writes: `option` names it in messages; kind is 'dir' or 'file'."""

    option: str
    path: Path
    kind: str = "dir"


def _nearest_existing(path: Path) -> Path:
    current = path
    while not os.path.lexists(current) and current != current.parent:
        current = current.parent
    return current


def location_problem(loc: OutputLocation) -> str | None:
    """Why `loc` cannot be written, or None. Creates nothing: probes the nearest existing folder
    with a temporary file that is removed at once (permission bits alone would mislead root)."""
    path = Path(loc.path)
    if path.exists():
        if loc.kind == "dir" and not path.is_dir():
            return f"{loc.option} {path} is a file, not a folder"
        if loc.kind == "file" and path.is_dir():
            return f"{loc.option} {path} is a folder; give a file name"
    existing = _nearest_existing(path.parent if loc.kind == "file" else path)
    if not existing.is_dir():
        return f"{loc.option} {path}: {existing} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return f"{loc.option} {path} is not writable ({exc.strerror or exc}: {existing})"
    return None


def check_writable(locations: Iterable[OutputLocation]) -> None:
    """Raise one ValsuiteError naming every unwritable location (call before reading images)."""
    problems = [p for p in (location_problem(loc) for loc in locations if loc.path is not None) if p]
    if problems:
        raise ValsuiteError("; ".join(problems), hint="nothing was run; fix the output location")


def fallback_dir() -> Path:
    """Where results go when their own location failed: $TMPDIR/valsuite-results-<uid>."""
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"valsuite-results-{uid}"


def write_with_fallback(write: Callable[[Path], Path], target: Path, what: str = "record") -> Path:
    """write(target); on an OSError write(fallback_dir()/name) and warn, naming both places.
    The caller prints its table regardless, so the run's numbers are never lost."""
    try:
        return write(Path(target))
    except OSError as exc:
        fallback = fallback_dir() / Path(target).name
        written = write(fallback)
        log.warning("could not write the %s to %s (%s); wrote it to %s instead",
                    what, target, exc.strerror or exc, written)
        return written
