"""The 1000 ImageNet wnids and their class indices.

The class index of a wnid is its position in the sorted list of all 1000 wnids, never its position
among the folders present: a subset (the shared sample has 600 classes) must keep the real labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valsuite.errors import ValsuiteError

MAPPING_FILENAME = "LOC_synset_mapping.txt"
BUILTIN_MAPPING = Path(__file__).with_name(MAPPING_FILENAME)


@dataclass(frozen=True)
class SynsetMapping:
    """wnid -> class index and human name, from a LOC_synset_mapping.txt."""

    wnids: tuple[str, ...]
    names: tuple[str, ...]
    source: str

    @property
    def index(self) -> dict[str, int]:
        return {wnid: i for i, wnid in enumerate(self.wnids)}

    def __len__(self) -> int:
        return len(self.wnids)


def parse_mapping(path: str | Path) -> SynsetMapping:
    """Read `wnid name` lines; sort by wnid so the index is the ImageNet convention."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValsuiteError(f"cannot read synset mapping {path}: {exc.strerror}") from exc
    pairs: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        wnid, _, name = line.partition(" ")
        if not (wnid.startswith("n") and wnid[1:].isdigit()):
            raise ValsuiteError(f"{path}:{number}: not a 'wnid name' line: {line[:60]!r}")
        if wnid in pairs:
            raise ValsuiteError(f"{path}:{number}: wnid {wnid} appears twice")
        pairs[wnid] = name.strip()
    if not pairs:
        raise ValsuiteError(f"synset mapping {path} is empty")
    wnids = tuple(sorted(pairs))
    return SynsetMapping(wnids=wnids, names=tuple(pairs[w] for w in wnids), source=str(path))


def find_mapping(dataset_dir: str | Path) -> SynsetMapping:
    """The mapping inside the dataset folder, else next to it, else the built-in ImageNet list."""
    root = Path(dataset_dir)
    for candidate in (root / MAPPING_FILENAME, root.parent / MAPPING_FILENAME):
        if candidate.is_file():
            return parse_mapping(candidate)
    return builtin_mapping()


def builtin_mapping() -> SynsetMapping:
    return parse_mapping(BUILTIN_MAPPING)
