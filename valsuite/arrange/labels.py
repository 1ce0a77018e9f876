"""Ground truth for a flat folder of ILSVRC2012_val_XXXXXXXX images: image id -> wnid.

Formats read (detected from the content, not the name):
- Kaggle `LOC_val_solution.csv`: header `ImageId,PredictionString`; the first token of
  PredictionString is the wnid.
- devkit `ILSVRC2012_validation_ground_truth.txt`: line i holds the ILSVRC id (1..1000) of
  ILSVRC2012_val_{i:08d}; the ILSVRC id -> wnid mapping comes from the devkit's `meta.mat`
  or from a text file of `ID WNID` lines (found beside the labels file, or --mapping FILE).
- a text file with one wnid per line (line i: the wnid of ILSVRC2012_val_{i:08d}).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from valsuite.errors import ValsuiteError

KAGGLE_FILENAME = "LOC_val_solution.csv"
DEVKIT_FILENAME = "ILSVRC2012_validation_ground_truth.txt"
ID_MAPPING_CANDIDATES = ("meta.mat", "ILSVRC2012_mapping.txt")


@dataclass
class GroundTruth:
    labels: dict[str, str]
    source: str
    problems: list[str] = field(default_factory=list)


def find_labels(src: Path) -> Path | None:
    """A ground-truth file inside the flat folder or next to it (Kaggle, then devkit name)."""
    for folder in (src, src.parent):
        for name in (KAGGLE_FILENAME, DEVKIT_FILENAME):
            if (folder / name).is_file():
                return folder / name
    return None


def read_ground_truth(labels: Path, id_mapping: Path | None = None) -> GroundTruth:
    try:
        text = labels.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValsuiteError(f"cannot read ground truth {labels}: {exc}") from exc
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.lower().startswith("imageid"):
        return _read_kaggle(labels, text)
    if first.isdigit():
        mapping_file = id_mapping or _find_id_mapping(labels)
        return _read_devkit(labels, text, mapping_file)
    if _is_wnid(first):
        return _read_wnid_lines(labels, text)
    raise ValsuiteError(f"{labels}: not a ground-truth file this tool knows (first line {first[:60]!r})",
                        hint="use LOC_val_solution.csv or ILSVRC2012_validation_ground_truth.txt")


def _is_wnid(token: str) -> bool:
    return len(token) > 1 and token[0] == "n" and token[1:].isdigit()


def _image_id(number: int) -> str:
    return f"ILSVRC2012_val_{number:08d}"


def _read_kaggle(path: Path, text: str) -> GroundTruth:
    truth = GroundTruth({}, f"{path} (Kaggle CSV)")
    rows = csv.reader(text.splitlines())
    next(rows)
    for number, row in enumerate(rows, 2):
        if not row or not any(cell.strip() for cell in row):
            continue
        image_id = row[0].strip()
        tokens = row[1].split() if len(row) > 1 else []
        if not tokens:
            truth.problems.append(f"{path.name}:{number}: no PredictionString for {image_id}")
        elif image_id in truth.labels:
            truth.problems.append(f"{path.name}:{number}: duplicate image id {image_id}")
        else:
            truth.labels[image_id] = tokens[0]
    return truth


def _read_wnid_lines(path: Path, text: str) -> GroundTruth:
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    truth = GroundTruth({}, f"{path} (one wnid per line)")
    for number, line in enumerate(lines, 1):
        truth.labels[_image_id(number)] = line.split()[0] if line else ""
    return truth


def _read_devkit(path: Path, text: str, mapping_file: Path | None) -> GroundTruth:
    if mapping_file is None:
        raise ValsuiteError(f"{path} holds ILSVRC ids; the id -> wnid mapping was not found beside it",
                            hint="put the devkit's meta.mat beside it or pass --mapping FILE")
    id_to_wnid = read_id_mapping(mapping_file)
    truth = GroundTruth({}, f"{path} (devkit ids, mapping {mapping_file})")
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    for number, line in enumerate(lines, 1):
        if not line.isdigit():
            truth.problems.append(f"{path.name}:{number}: not an ILSVRC id: {line[:40]!r}")
        elif int(line) not in id_to_wnid:
            truth.problems.append(f"{path.name}:{number}: unknown wnid for ILSVRC id {line} "
                                  f"(not in {mapping_file.name})")
        else:
            truth.labels[_image_id(number)] = id_to_wnid[int(line)]
    return truth


def _find_id_mapping(labels: Path) -> Path | None:
    for name in ID_MAPPING_CANDIDATES:
        if (labels.parent / name).is_file():
            return labels.parent / name
    return None


def read_id_mapping(path: Path) -> dict[int, str]:
    """ILSVRC id -> wnid from the devkit's meta.mat (scipy) or from `ID WNID` text lines."""
    if path.suffix.lower() == ".mat":
        return _read_meta_mat(path)
    mapping: dict[int, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValsuiteError(f"cannot read id mapping {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or not parts[0].isdigit() or not _is_wnid(parts[1]):
            raise ValsuiteError(f"{path}:{number}: expected 'ILSVRC_ID WNID', got {line[:60]!r}")
        if int(parts[0]) in mapping:
            raise ValsuiteError(f"{path}:{number}: ILSVRC id {parts[0]} appears twice")
        mapping[int(parts[0])] = parts[1]
    if not mapping:
        raise ValsuiteError(f"id mapping {path} is empty")
    return mapping


def _read_meta_mat(path: Path) -> dict[int, str]:
    try:
        from scipy.io import loadmat
    except ImportError as exc:
        raise ValsuiteError("reading meta.mat needs scipy", hint="pip install scipy") from exc
    try:
        synsets = loadmat(str(path), squeeze_me=True)["synsets"]
        ids, wnids = synsets["ILSVRC2012_ID"], synsets["WNID"]
        return {int(i): str(w) for i, w in zip(ids.ravel(), wnids.ravel())}
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ValsuiteError(f"{path}: not a devkit meta.mat with synsets "
                            f"(ILSVRC2012_ID, WNID): {exc}") from exc
