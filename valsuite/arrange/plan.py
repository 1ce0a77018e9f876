"""The plan: what will be placed where, and every input problem found before anything moves."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from valsuite.data.synsets import MAPPING_FILENAME, SynsetMapping
from valsuite.errors import ValsuiteError
from valsuite.fileio import sha256_file

MODES = ("move", "copy", "symlink", "write")
PARTIAL_MARK = ".fmtds-partial"  # temporary files of this tool; a re-run deletes leftovers
_SHOWN_PROBLEMS = 20


@dataclass(frozen=True)
class Item:
    """One image to place at `output/target`.

    source: the file to move, copy or link (None for images that come as bytes, e.g. parquet).
    sha256: known up front for byte images; for files it is computed only when needed.
    """

    target: str
    wnid: str
    origin: str
    source: Path | None = None
    size: int = -1
    sha256: str | None = None


@dataclass
class Plan:
    """Everything an apply step needs; built without changing a single file."""

    output: Path
    mode: str
    mapping: SynsetMapping
    kind: str
    to_place: list[Item] = field(default_factory=list)
    in_place: list[Item] = field(default_factory=list)
    drop_sources: list[Item] = field(default_factory=list)
    stale_partials: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    write_mapping: bool = False
    stream: Callable[[], Iterator[tuple[str, bytes]]] | None = None
    calibration: list[str] | None = None
    calibration_header: str = ""
    extra_json: dict[str, dict] = field(default_factory=dict)

    def raise_if_problems(self) -> None:
        if self.problems:
            raise PlanProblems(self.problems)


class PlanProblems(ValsuiteError):
    """Input problems found while planning; nothing was moved. `problems` holds all of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:_SHOWN_PROBLEMS])
        more = len(self.problems) - _SHOWN_PROBLEMS
        tail = f"; ... and {more} more (all are listed above)" if more > 0 else ""
        super().__init__(f"{len(self.problems)} problem(s) found, nothing was moved: {shown}{tail}")


def check_image_bytes(data: bytes) -> str | None:
    """None if PIL can identify and verify the image, else the reason (header check, no decode)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check_image_file(path: Path) -> str | None:
    """Like check_image_bytes for a file on disk (empty and non-image files fail)."""
    try:
        return check_image_bytes(path.read_bytes())
    except OSError as exc:
        return f"cannot read: {exc.strerror}"


def image_format_suffix(data: bytes) -> str:
    """File suffix for image bytes without a name ('.JPEG' as in ILSVRC, else PIL's format)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        fmt = (image.format or "bin").lower()
    return ".JPEG" if fmt == "jpeg" else f".{fmt}"


def _same_content(item: Item, target: Path) -> bool:
    if item.source is not None:
        if os.path.samefile(item.source, target):
            return True
        if item.source.stat().st_size != target.stat().st_size:
            return False
        return sha256_file(item.source) == sha256_file(target)
    if item.size >= 0 and target.stat().st_size != item.size:
        return False
    return sha256_file(target) == item.sha256


def sort_items(plan: Plan, items: list[Item]) -> None:
    """Split items into to_place / in_place / drop_sources by looking at their targets.

    A target that already holds the same bytes counts as placed (a finished or interrupted
    earlier run); in move mode its duplicate source is deleted. Different bytes are a problem.
    """
    seen: dict[str, str] = {}
    for item in items:
        if item.target in seen:
            plan.problems.append(f"duplicate image id: {item.origin} and {seen[item.target]} "
                                 f"both go to {item.target}")
            continue
        seen[item.target] = item.origin
        target = plan.output / item.target
        if not os.path.lexists(target):
            plan.to_place.append(item)
        elif not target.exists():
            plan.problems.append(f"target is a broken symlink: {target}")
        elif not target.is_file():
            plan.problems.append(f"target exists and is not a file: {target}")
        elif _same_content(item, target):
            plan.in_place.append(item)
            if plan.mode == "move" and item.source is not None \
                    and not os.path.samefile(item.source, target):
                plan.drop_sources.append(item)
        else:
            plan.problems.append(f"target exists with different content: {target} (from {item.origin})")


def find_partials(output: Path) -> list[Path]:
    """Temporary files an interrupted run left in output/<wnid>/ (safe to delete: never the
    only copy, since a source is removed only after its target was renamed into place)."""
    if not output.is_dir():
        return []
    return sorted(p for p in output.rglob(f".*{PARTIAL_MARK}") if p.is_file() or p.is_symlink())


def check_output_mapping(plan: Plan) -> None:
    """The output's LOC_synset_mapping.txt must be absent (written later) or the same list."""
    from valsuite.data.synsets import parse_mapping

    existing = plan.output / MAPPING_FILENAME
    if not existing.exists():
        plan.write_mapping = True
        return
    try:
        other = parse_mapping(existing)
    except ValsuiteError as exc:
        plan.problems.append(f"existing mapping is unreadable: {exc}")
        return
    if other.wnids != plan.mapping.wnids:
        plan.problems.append(f"target exists with different content: {existing} lists other wnids "
                             f"than {plan.mapping.source}")


def check_output_location(plan: Plan, source_root: Path, allow_same: bool) -> None:
    """Refuse an output inside the source tree where it would be scanned as a source."""
    out, src = plan.output.resolve(), source_root.resolve()
    if out == src:
        if not allow_same:
            plan.problems.append(f"--output must differ from the source folder {source_root}")
    elif src in out.parents and not allow_same:
        plan.problems.append(f"--output {plan.output} is inside the source folder {source_root}")
