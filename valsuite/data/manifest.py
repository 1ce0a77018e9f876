"""The list of images a run evaluates, with labels, and a hash that identifies it.

Every image in `DIR/<wnid>/` is listed exactly once, in a sorted, machine-independent order.
The manifest hash goes into every run record so that results on different image sets never mix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from valsuite.data.synsets import SynsetMapping, find_mapping
from valsuite.errors import ValsuiteError
from valsuite.fileio import sha256_text

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpeg", ".jpg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".gif"})
CALIBRATION_LIST_FILENAME = "calibration_list.txt"


@dataclass(frozen=True)
class ImageEntry:
    """One image: its path relative to the dataset root and its class index (-1: unlabelled)."""

    relpath: str
    label: int


@dataclass(frozen=True)
class Manifest:
    root: Path
    entries: tuple[ImageEntry, ...]
    mapping: SynsetMapping
    ignored_files: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.entries)

    def path(self, entry: ImageEntry) -> Path:
        return self.root / entry.relpath

    @property
    def num_classes_present(self) -> int:
        return len({e.label for e in self.entries})

    def file_list_hash(self) -> str:
        """sha256 over `relpath label` lines: identifies the exact images and labels evaluated."""
        return sha256_text("".join(f"{e.relpath} {e.label}\n" for e in self.entries))

    def without(self, relpaths: set[str]) -> "Manifest":
        """The same manifest minus some images (calibration images are never evaluated)."""
        kept = tuple(e for e in self.entries if e.relpath not in relpaths)
        return Manifest(self.root, kept, self.mapping, self.ignored_files)

    def describe(self) -> dict:
        return {
            "path": str(self.root),
            "num_images": len(self.entries),
            "num_classes": self.num_classes_present,
            "file_list_sha256": self.file_list_hash(),
            "mapping": self.mapping.source,
            "custom_classes": self.mapping.custom,
            "ignored_files": len(self.ignored_files),
            "manifest_sha256": manifest_file_sha256(self.root),
        }


def check_dataset_folder(root: Path) -> None:
    """A missing dataset and a dataset path that is a file are different mistakes: say which."""
    if root.is_dir():
        return
    hint = "pass --dataset DIR (DIR/<wnid>/*.JPEG; see format_dataset.py) or --synthetic"
    if root.exists():
        raise ValsuiteError(f"dataset {root} is a file, not a folder", hint=hint)
    raise ValsuiteError(f"dataset folder not found: {root}", hint=hint)


def _hidden(rel: Path) -> bool:
    """macOS `._x.JPEG` resource forks, `.hidden.JPEG`, anything under a dot-folder."""
    return any(part.startswith(".") for part in rel.parts)


def _class_files(root: Path, class_dir: Path, label: int, entries: list, ignored: list) -> None:
    for path in sorted(class_dir.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(root)
        if path.suffix.lower() in IMAGE_EXTENSIONS and not _hidden(rel):
            entries.append(ImageEntry(rel.as_posix(), label))
        else:
            ignored.append(rel.as_posix())


def scan_dataset(root: str | Path, mapping: SynsetMapping | None = None,
                 class_list: str | Path | None = None) -> Manifest:
    """List `root/<wnid>/*` images; unknown wnid folders and an empty set are user errors.
    Dot-files and files without an image extension are not evaluated; they are counted in the
    manifest's ignored files (and the record)."""
    root = Path(root)
    check_dataset_folder(root)
    mapping = mapping or find_mapping(root, class_list)
    index = mapping.index
    entries: list[ImageEntry] = []
    ignored: list[str] = []
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [d.name for d in class_dirs if d.name not in index]
    if unknown:
        what = "classes of the class list" if mapping.custom else "ImageNet wnids of"
        raise ValsuiteError(
            f"{root}: {len(unknown)} folder(s) are not {what} {mapping.source}, "
            f"first: {unknown[0]!r}",
            hint="the layout is DIR/<wnid>/<image>",
        )
    for class_dir in class_dirs:
        _class_files(root, class_dir, index[class_dir.name], entries, ignored)
    if ignored:
        log.warning("%s: %d file(s) not evaluated (dot-files or no image extension), first: %s",
                    root, len(ignored), ignored[0])
    if not entries:
        raise ValsuiteError(f"no images found under {root}/<wnid>/", hint="is this the val folder?")
    return Manifest(root, tuple(entries), mapping, tuple(ignored))


def read_calibration_list(root: str | Path) -> list[Path] | None:
    """Images listed in `root/calibration_list.txt` (paths relative to root), or None if absent.

    format_dataset.py writes this list disjoint from the evaluated images; INT8 calibration
    uses it by default.
    """
    list_file = Path(root) / CALIBRATION_LIST_FILENAME
    if not list_file.is_file():
        return None
    paths = []
    for number, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = (list_file.parent / line).resolve()
        if not path.is_file():
            raise ValsuiteError(f"{list_file}:{number}: calibration image not found: {line}")
        paths.append(path)
    if not paths:
        raise ValsuiteError(f"calibration list {list_file} is empty")
    return paths


MANIFEST_FILENAME = "manifest.csv"
MANIFEST_COLUMNS = ("relpath", "label", "wnid", "size", "sha256")


def write_manifest_file(manifest: Manifest, progress: bool = False) -> dict:
    """Write `root/manifest.csv` (relpath, class index, wnid, size, sha256 per image) and its
    sidecar; return the sidecar facts, whose `manifest_sha256` identifies the exact bytes."""
    from tqdm import tqdm

    from valsuite.fileio import atomic_write_text, sha256_file, write_sidecar

    lines = [",".join(MANIFEST_COLUMNS)]
    for entry in tqdm(manifest.entries, desc="hashing", unit="img", disable=not progress, leave=False):
        path = manifest.path(entry)
        wnid = manifest.mapping.wnids[entry.label]
        lines.append(f"{entry.relpath},{entry.label},{wnid},{path.stat().st_size},{sha256_file(path)}")
    text = "\n".join(lines) + "\n"
    target = manifest.root / MANIFEST_FILENAME
    atomic_write_text(target, text)
    facts = {
        "manifest_sha256": sha256_text(text),
        "file_list_sha256": manifest.file_list_hash(),
        "num_images": len(manifest),
        "num_classes": manifest.num_classes_present,
        "mapping": manifest.mapping.source,
    }
    write_sidecar(target, facts)
    return facts


def read_manifest_file(root: str | Path) -> list[dict] | None:
    """Rows of `root/manifest.csv` as dicts (label and size as int), or None if absent."""
    path = Path(root) / MANIFEST_FILENAME
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split(",")) != MANIFEST_COLUMNS:
        raise ValsuiteError(f"{path}: not a manifest (header {lines[:1]})")
    rows = []
    for number, line in enumerate(lines[1:], 2):
        parts = line.rsplit(",", 4)
        if len(parts) != 5:
            raise ValsuiteError(f"{path}:{number}: expected {len(MANIFEST_COLUMNS)} columns")
        rel, label, wnid, size, digest = parts
        rows.append({"relpath": rel, "label": int(label), "wnid": wnid, "size": int(size), "sha256": digest})
    return rows


def manifest_file_sha256(root: str | Path) -> str | None:
    """sha256 of `root/manifest.csv` (what run records carry), or None when there is none."""
    path = Path(root) / MANIFEST_FILENAME
    return sha256_text(path.read_text(encoding="utf-8")) if path.is_file() else None
