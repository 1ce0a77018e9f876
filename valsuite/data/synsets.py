"""The 1000 ImageNet wnids and their class indices.

The class index of a wnid is its position in the sorted list of all 1000 wnids, never its position
among the folders present: a subset (the shared sample has 600 classes) must keep the real labels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from valsuite.errors import ValsuiteError

MAPPING_FILENAME = "LOC_synset_mapping.txt"
BUILTIN_MAPPING = Path(__file__).with_name(MAPPING_FILENAME)


@dataclass(frozen=True)
class SynsetMapping:
    """wnid -> class index and human name, from a LOC_synset_mapping.txt.

    `custom` marks a class list the user asked for explicitly (its index is the line order);
    run records carry that fact so custom-class numbers never pass for ImageNet ones."""

    wnids: tuple[str, ...]
    names: tuple[str, ...]
    source: str
    custom: bool = False

    @property
    def index(self) -> dict[str, int]:
        return {wnid: i for i, wnid in enumerate(self.wnids)}

    def __len__(self) -> int:
        return len(self.wnids)

    def describe(self) -> dict:
        """Facts for run records: where the classes came from and whether they are ImageNet's."""
        return {"source": self.source, "custom": self.custom, "num_classes": len(self.wnids)}


def _read_lines(path: Path, what: str) -> list[str]:
    """The file's lines; unreadable, binary or non-UTF-8 files are one-line user errors."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValsuiteError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if b"\0" in data:
        raise ValsuiteError(f"{what} {path} is a binary file, not 'wnid name' text lines")
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValsuiteError(f"{what} {path} is not UTF-8 text (bad byte at offset {exc.start})") from exc


def _pairs(path: Path, custom: bool) -> list[tuple[int, str, str]]:
    """(line number, class folder name, human name) in file order; ImageNet lists need wnids."""
    what = "class list" if custom else "synset mapping"
    rows: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    for number, line in enumerate(_read_lines(path, what), 1):
        line = line.strip()
        if not line:
            continue
        wnid, _, name = line.partition(" ")
        if not custom and not (wnid.startswith("n") and wnid[1:].isdigit()):
            raise ValsuiteError(f"{path}:{number}: not a 'wnid name' line: {line[:60]!r}")
        if wnid in seen:
            raise ValsuiteError(f"{path}:{number}: wnid {wnid} appears twice")
        seen.add(wnid)
        rows.append((number, wnid, name.strip()))
    if not rows:
        raise ValsuiteError(f"{what} {path} is empty")
    return rows


def parse_mapping(path: str | Path) -> SynsetMapping:
    """Read `wnid name` lines; sort by wnid so the index is the ImageNet convention (no check
    that they are ImageNet's 1000: see imagenet_mapping)."""
    path = Path(path)
    pairs = {wnid: name for _, wnid, name in _pairs(path, custom=False)}
    wnids = tuple(sorted(pairs))
    return SynsetMapping(wnids=wnids, names=tuple(pairs[w] for w in wnids), source=str(path))


def imagenet_mapping(path: str | Path) -> SynsetMapping:
    """A LOC_synset_mapping.txt that must list exactly the 1000 ImageNet wnids in canonical
    (sorted) order. A dropped or reordered line would silently shift every class index after it,
    so any difference is an error naming the file and the first differing line."""
    path = Path(path)
    rows = _pairs(path, custom=False)
    canonical = builtin_mapping().wnids
    hint = f"fix or remove it, or pass --class-list {path} to use it as a custom class list"
    for position, (number, wnid, _) in enumerate(rows):
        if position >= len(canonical):
            raise ValsuiteError(f"synset mapping {path}:{number}: extra wnid {wnid} after the "
                                f"1000 ImageNet wnids", hint=hint)
        if wnid != canonical[position]:
            raise ValsuiteError(f"synset mapping {path}:{number}: {wnid} where ImageNet's list has "
                                f"{canonical[position]} (class {position})", hint=hint)
    if len(rows) < len(canonical):
        raise ValsuiteError(f"synset mapping {path} ends after {len(rows)} wnids; ImageNet's list "
                            f"continues with {canonical[len(rows)]} (class {len(rows)})", hint=hint)
    return SynsetMapping(wnids=tuple(w for _, w, _ in rows), names=tuple(n for _, _, n in rows),
                         source=str(path))


def custom_mapping(path: str | Path) -> SynsetMapping:
    """A class list the user asked for (--class-list): one `folder [name]` per line, class index =
    line order, no ImageNet check. Records say custom so the numbers are not read as ImageNet's."""
    path = Path(path)
    if not path.is_file():
        raise ValsuiteError(f"class list not found: {path}")
    rows = _pairs(path, custom=True)
    return SynsetMapping(wnids=tuple(w for _, w, _ in rows), names=tuple(n for _, _, n in rows),
                         source=str(path), custom=True)


def find_mapping(dataset_dir: str | Path, class_list: str | Path | None = None) -> SynsetMapping:
    """An explicit custom class list; else the mapping inside the dataset folder, else next to it
    (both checked to be ImageNet's 1000 wnids), else the built-in ImageNet list."""
    if class_list is not None:
        return custom_mapping(class_list)
    root = Path(dataset_dir)
    for candidate in (root / MAPPING_FILENAME, root.parent / MAPPING_FILENAME):
        if candidate.is_file():
            return imagenet_mapping(candidate)
    return builtin_mapping()


@functools.lru_cache(maxsize=1)
def builtin_mapping() -> SynsetMapping:
    return parse_mapping(BUILTIN_MAPPING)
