"""Deterministic subsets for CI, with a calibration list disjoint from the evaluated images.

Order comes from sha256(seed, relative path) of sorted candidates, so the same seed picks the
same files on every machine and with any numpy version. Calibration images are copied into
SUBSET_DIR/.calib/<wnid>/: inside the subset (it stays self-contained) but in a dot-folder,
which scan_dataset skips, so they are never evaluated; calibration_list.txt names them
relative to SUBSET_DIR, as read_calibration_list expects.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from valsuite.data.manifest import read_calibration_list, scan_dataset
from valsuite.arrange.folders import is_image
from valsuite.arrange.plan import (Item, Plan, check_image_file, check_output_location, check_output_mapping,
                                    find_partials, sort_items)

CALIB_DIR = ".calib"


def rank(seed: int, key: str) -> str:
    """A machine-independent pseudo-random sort key."""
    return hashlib.sha256(f"{seed}:{key}".encode("utf-8")).hexdigest()


def pick(seed: int, keys: list[str], count: int) -> list[str]:
    """`count` keys chosen by seed, returned sorted."""
    return sorted(sorted(sorted(keys), key=lambda k: rank(seed, k))[:count])


def plan_subset(src: Path, output: Path, per_class: int, seed: int, classes: int | None = None,
                calib: int = 0, mode: str = "copy") -> Plan:
    """Plan SUBSET_DIR/<wnid>/ with `per_class` images of `classes` classes, plus `calib` others."""
    manifest = scan_dataset(src)
    plan = Plan(output, mode, manifest.mapping, kind="subset")
    check_output_location(plan, src, allow_same=False)
    if per_class < 1:
        plan.problems.append(f"--per-class must be at least 1, got {per_class}")
    src_calib = read_calibration_list(src) or []
    root = src.resolve()
    excluded = {p.relative_to(root).as_posix() for p in src_calib if root in p.parents}
    by_class: dict[str, list[str]] = {}
    for entry in manifest.entries:
        if entry.relpath not in excluded:
            by_class.setdefault(manifest.mapping.wnids[entry.label], []).append(entry.relpath)
    chosen = sorted(by_class)
    if classes is not None:
        if not 1 <= classes <= len(chosen):
            plan.problems.append(f"--classes {classes}: {src} has {len(chosen)} classes")
        chosen = pick(seed, chosen, classes)
    evaluated: list[str] = []
    for wnid in chosen:
        if len(by_class[wnid]) < per_class:
            plan.problems.append(f"class {wnid} has {len(by_class[wnid])} image(s), --per-class needs {per_class}")
        evaluated += pick(seed, by_class[wnid], per_class)
    taken = set(evaluated)
    pool = [e.relpath for e in manifest.entries if e.relpath not in taken]
    if calib > len(pool):
        plan.problems.append(f"--calib {calib}: only {len(pool)} image(s) are left outside the evaluated ones")
    calibration = pick(seed, pool, calib) if calib else []
    items = _items(plan, src, evaluated, "") + _items(plan, src, calibration, CALIB_DIR + "/")
    _refuse_foreign_images(plan, {item.target for item in items})
    sort_items(plan, items)
    plan.stale_partials = find_partials(output)
    check_output_mapping(plan)
    if calib:
        plan.calibration = [CALIB_DIR + "/" + rel for rel in calibration]
        plan.calibration_header = (f"# format_dataset.py --calib {calib} --seed {seed}: disjoint from the "
                                   f"evaluated images of this folder\n")
    plan.extra_json["subset.json"] = {
        "source": str(src), "source_file_list_sha256": manifest.file_list_hash(),
        "seed": seed, "per_class": per_class, "classes": len(chosen), "calib": calib,
        "evaluated": len(evaluated), "calibration_dir": CALIB_DIR,
    }
    return plan


def _items(plan: Plan, src: Path, relpaths: list[str], prefix: str) -> list[Item]:
    items = []
    for rel in relpaths:
        path = src / rel
        reason = check_image_file(path)
        if reason:
            plan.problems.append(f"unreadable image {path}: {reason}")
            continue
        items.append(Item(prefix + rel, rel.split("/", 1)[0], str(path), path, path.stat().st_size))
    return items


def _refuse_foreign_images(plan: Plan, targets: set[str]) -> None:
    """An output that already holds other images (another seed?) would mix two subsets."""
    if not plan.output.is_dir():
        return
    foreign = [p.relative_to(plan.output).as_posix() for p in sorted(plan.output.rglob("*"))
               if p.is_file() and is_image(p) and p.relative_to(plan.output).as_posix() not in targets]
    if foreign:
        plan.problems.append(f"{plan.output} holds {len(foreign)} image(s) that are not in this subset, "
                             f"first: {foreign[0]} (use an empty folder)")
