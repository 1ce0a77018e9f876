"""Sources on disk: a flat folder of ILSVRC images with ground truth, or a val/<wnid>/ folder."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from valsuite.data.manifest import IMAGE_EXTENSIONS
from valsuite.data.synsets import MAPPING_FILENAME, SynsetMapping, builtin_mapping, find_mapping, parse_mapping
from valsuite.arrange.labels import find_labels, read_ground_truth
from valsuite.arrange.plan import (PARTIAL_MARK, Item, Plan, check_image_file, check_output_location,
                                    check_output_mapping, find_partials, sort_items)
from valsuite.errors import ValsuiteError


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and PARTIAL_MARK not in path.name


def detect_kind(src: Path) -> str:
    """'flat' when images (or, all moved already, only ground truth) lie directly in src,
    'layout' when it has <wnid>/ folders and no loose images."""
    if not src.is_dir():
        raise ValsuiteError(f"source folder not found: {src}")
    if any(p.is_file() and is_image(p) for p in src.iterdir()):
        return "flat"
    if any(p.is_dir() and not p.name.startswith(".") for p in src.iterdir()):
        return "layout"
    if find_labels(src) is not None:
        return "flat"  # every image already moved out: a re-run that only confirms
    raise ValsuiteError(f"{src} holds neither images nor <wnid>/ folders")


def class_mapping_near(*folders: Path) -> SynsetMapping:
    """The first LOC_synset_mapping.txt in the given folders, else the built-in list."""
    for folder in folders:
        if (folder / MAPPING_FILENAME).is_file():
            return parse_mapping(folder / MAPPING_FILENAME)
    return builtin_mapping()


def plan_flat(src: Path, output: Path, mode: str, labels: Path | None = None,
              id_mapping: Path | None = None) -> Plan:
    """Plan placing src/ILSVRC2012_val_*.JPEG into output/<wnid>/ using the ground truth."""
    labels = labels or find_labels(src)
    if labels is None:
        raise ValsuiteError(f"no ground truth found in or beside {src}",
                            hint="pass --labels LOC_val_solution.csv or ILSVRC2012_validation_ground_truth.txt")
    truth = read_ground_truth(labels, id_mapping)
    mapping = class_mapping_near(labels.parent, src, src.parent)
    plan = Plan(output, mode, mapping, kind="flat")
    plan.notes.append(f"ground truth: {truth.source}; classes: {mapping.source}")
    plan.problems.extend(truth.problems)
    check_output_location(plan, src, allow_same=True)
    index = mapping.index
    items, seen, others = [], {}, []
    out_resolved = output.resolve()
    for path in tqdm(sorted(src.iterdir()), desc="checking", unit="file", leave=False, disable=None):
        if path.is_dir():
            holds_output = path.resolve() == out_resolved or path.resolve() in out_resolved.parents
            is_output_class = out_resolved == src.resolve() and path.name in index
            if not (holds_output or is_output_class):
                plan.notes.append(f"subfolder not read: {path}")
            continue
        if not is_image(path):
            others.append(path.name)
            continue
        stem = path.stem
        if stem in seen:
            plan.problems.append(f"duplicate image id {stem}: {seen[stem]} and {path.name}")
            continue
        seen[stem] = path.name
        wnid = truth.labels.get(stem)
        if wnid is None:
            plan.problems.append(f"missing ground truth for {path.name}")
            continue
        if wnid not in index:
            plan.problems.append(f"unknown wnid {wnid!r} for {path.name} (not in {mapping.source})")
            continue
        reason = check_image_file(path)
        if reason:
            plan.problems.append(f"unreadable image {path}: {reason}")
            continue
        items.append(Item(f"{wnid}/{path.name}", wnid, str(path), path, path.stat().st_size))
    if others:
        plan.notes.append(f"{len(others)} non-image file(s) left in {src}, first: {others[0]}")
    placed = _check_placed_labels(plan, output, truth.labels, index)
    if placed:
        plan.notes.append(f"{len(placed)} image(s) already in {output}/<wnid>/ from an earlier run")
    missing = [k for k in truth.labels if k not in seen and k not in placed]
    if missing:
        plan.notes.append(f"{len(missing)} ground-truth entries have no image in {src} or {output} "
                          f"(a partial set?), first: {missing[0]}")
    _finish(plan, items)
    return plan


def _check_placed_labels(plan: Plan, output: Path, labels: dict[str, str], index: dict) -> set[str]:
    """Images an earlier run already placed: each must sit in the folder its ground truth says."""
    placed: set[str] = set()
    if not output.is_dir():
        return placed
    for path in sorted(output.glob("n*/*")):
        if not (path.parent.name in index and path.is_file() and is_image(path)):
            continue
        placed.add(path.stem)
        want = labels.get(path.stem)
        if want is not None and want != path.parent.name:
            plan.problems.append(f"{path} is in folder {path.parent.name} but the ground truth says {want}")
    return placed


def plan_layout(src: Path, output: Path, mode: str) -> Plan:
    """Check (and index, or place elsewhere) a folder that is already in <wnid>/ layout."""
    mapping = find_mapping(src)
    plan = Plan(output, mode, mapping, kind="layout")
    plan.notes.append(f"classes: {mapping.source}")
    check_output_location(plan, src, allow_same=output.resolve() == src.resolve())
    index = mapping.index
    items, others = [], []
    for folder in sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name not in index:
            plan.problems.append(f"unknown wnid folder {folder} (not in {mapping.source})")
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_dir() or PARTIAL_MARK in path.name:
                continue
            rel = path.relative_to(src).as_posix()
            if not is_image(path):
                others.append(rel)
                continue
            reason = check_image_file(path)
            if reason:
                plan.problems.append(f"unreadable image {path}: {reason}")
                continue
            items.append(Item(rel, folder.name, str(path), path, path.stat().st_size))
    loose = [p.name for p in src.iterdir() if p.is_file() and is_image(p)]
    plan.problems.extend(f"image outside a <wnid>/ folder: {src / name}" for name in loose)
    if others:
        plan.notes.append(f"{len(others)} non-image file(s) in class folders are not evaluated, "
                          f"first: {others[0]}")
    if not items and not plan.problems:
        plan.problems.append(f"no images found under {src}/<wnid>/")
    _finish(plan, items)
    return plan


def _finish(plan: Plan, items: list[Item]) -> None:
    sort_items(plan, items)
    plan.stale_partials = find_partials(plan.output)
    check_output_mapping(plan)
