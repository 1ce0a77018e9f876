"""format_dataset.py: arrange ImageNet validation data into DIR/<wnid>/, index it, subset it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from typing import TYPE_CHECKING

from valsuite.errors import ValsuiteError

if TYPE_CHECKING:
    from valsuite.arrange.apply import ApplyResult
    from valsuite.arrange.plan import Plan

_SHOW_ACTIONS = 10


def build_parser() -> argparse.ArgumentParser:
    from valsuite.cli.common import Parser

    parser = Parser(
        prog="format_dataset.py",
        description="Arrange the ILSVRC-2012 validation set as DIR/<wnid>/ with LOC_synset_mapping.txt "
                    "and manifest.csv, or write a small deterministic subset. Plans first: on any "
                    "problem nothing is moved and every problem is listed (exit 2).",
        epilog="examples: format_dataset.py val_flat --output datasets/val; "
               "format_dataset.py --hf ILSVRC/imagenet-1k --output datasets/val; "
               "format_dataset.py datasets/val --subset --per-class 2 --seed 0 --calib 100 "
               "--output datasets/val_ci")
    parser.add_argument("src", nargs="?", type=Path,
                        help="flat folder of ILSVRC2012_val_*.JPEG, or a folder in <wnid>/ layout")
    parser.add_argument("--output", "-o", type=Path,
                        help="target folder (for a <wnid>/ layout source: defaults to SRC, index only)")
    parser.add_argument("--labels", type=Path, help="LOC_val_solution.csv or "
                        "ILSVRC2012_validation_ground_truth.txt (default: found in or beside SRC)")
    parser.add_argument("--mapping", type=Path, help="ILSVRC id -> wnid for the devkit ground truth: "
                        "meta.mat or 'ID WNID' lines (default: meta.mat beside --labels)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--copy", action="store_true", help="copy instead of moving")
    how.add_argument("--symlink", action="store_true", help="symlink instead of moving")
    parser.add_argument("--dry-run", action="store_true", help="show the plan and its problems, change nothing")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    hf = parser.add_argument_group("Hugging Face")
    hf.add_argument("--hf", nargs="?", const="ILSVRC/imagenet-1k", metavar="REF",
                    help="Hub id (default ILSVRC/imagenet-1k; needs `datasets`, internet, a token) or a "
                         "local parquet file/folder or save_to_disk folder")
    hf.add_argument("--split", default="validation", help="split to read (default: %(default)s)")
    sub = parser.add_argument_group("subset")
    sub.add_argument("--subset", action="store_true", help="write a subset of SRC (copies by default)")
    sub.add_argument("--per-class", type=int, help="images per class in the subset")
    sub.add_argument("--seed", type=int, help="seed of the subset and calibration choice")
    sub.add_argument("--classes", type=int, help="number of classes (default: all in SRC)")
    sub.add_argument("--calib", type=int, default=0,
                     help="calibration images, disjoint from the evaluated ones (into .calib/)")
    return parser


def _check_args(args: argparse.Namespace) -> None:
    if (args.src is None) == (args.hf is None):
        raise ValsuiteError("give either SRC or --hf REF")
    if args.subset:
        if args.per_class is None or args.seed is None or args.output is None:
            raise ValsuiteError("--subset needs --per-class K, --seed S and --output SUBSET_DIR")
    elif args.per_class is not None or args.classes is not None or args.calib:
        raise ValsuiteError("--per-class, --classes and --calib belong to --subset")
    if args.hf is not None and (args.copy or args.symlink or args.subset):
        raise ValsuiteError("--hf writes image bytes: --copy, --symlink and --subset do not apply")
    if args.calib < 0:
        raise ValsuiteError("--calib must be >= 0")


def make_plan(args: argparse.Namespace) -> "Plan":
    """Build the plan the arguments ask for (read-only)."""
    from valsuite.arrange.folders import detect_kind, plan_flat, plan_layout

    _check_args(args)
    mode = "copy" if args.copy else "symlink" if args.symlink else "move"
    if args.hf is not None:
        from valsuite.arrange.hf import plan_hf

        if args.output is None:
            raise ValsuiteError("--hf needs --output DIR")
        return plan_hf(args.hf, args.output, args.split)
    if args.subset:
        from valsuite.arrange.subset import plan_subset

        return plan_subset(args.src, args.output, args.per_class, args.seed, args.classes, args.calib,
                           "symlink" if args.symlink else "copy")
    kind = "flat" if args.labels or args.mapping else detect_kind(args.src)
    if kind == "layout":
        if args.labels or args.mapping:
            raise ValsuiteError(f"{args.src} is already in <wnid>/ layout: --labels/--mapping do not apply")
        return plan_layout(args.src, args.output or args.src, mode)
    if args.output is None:
        raise ValsuiteError("a flat source needs --output DIR")
    return plan_flat(args.src, args.output, mode, args.labels, args.mapping)


def describe_plan(plan: "Plan") -> list[str]:
    verb = {"move": "move", "copy": "copy", "symlink": "link", "write": "write"}[plan.mode]
    lines = [f"plan ({plan.kind} source): {verb} {len(plan.to_place)} image(s) into {plan.output}; "
             f"already in place: {len(plan.in_place)}; duplicate sources to delete: {len(plan.drop_sources)}; "
             f"leftover partial files to delete: {len(plan.stale_partials)}"]
    for item in plan.to_place[:_SHOW_ACTIONS]:
        lines.append(f"  {verb} {item.origin} -> {item.target}")
    if len(plan.to_place) > _SHOW_ACTIONS:
        lines.append(f"  ... and {len(plan.to_place) - _SHOW_ACTIONS} more")
    if plan.calibration is not None:
        lines.append(f"  calibration list: {len(plan.calibration)} image(s) under .calib/")
    lines += [f"note: {note}" for note in plan.notes]
    return lines


def describe_result(plan: "Plan", result: "ApplyResult") -> list[str]:
    counts = sorted(result.per_class.values())
    total = sum(counts)
    return [
        f"done: {plan.mode} {result.placed} image(s) into {plan.output} (already in place: {result.in_place}, "
        f"duplicate sources deleted: {result.sources_removed}, partial files removed: {result.partials_removed})",
        f"classes: {len(counts)}; images per class: min {counts[0]}, max {counts[-1]}; total: {total}; "
        f"skipped: none",
        f"manifest: {plan.output / 'manifest.csv'} sha256 {result.manifest['manifest_sha256']}",
    ] + ([f"calibration list: {len(plan.calibration)} image(s)"] if plan.calibration else [])


def main(argv: list[str] | None = None) -> int:
    from valsuite.arrange.apply import apply_plan
    from valsuite.arrange.plan import PlanProblems

    args = build_parser().parse_args(argv)
    plan = make_plan(args)
    for line in describe_plan(plan):
        print(line)
    if plan.problems:
        for problem in plan.problems:
            print(f"problem: {problem}", file=sys.stderr)
        raise PlanProblems(plan.problems)
    if args.dry_run:
        print("dry run: nothing changed")
        return 0
    result = apply_plan(plan, progress=not args.quiet)
    for line in describe_result(plan, result):
        print(line)
    return 0


def run(argv: list[str] | None = None) -> int:
    """Entry point: a ValsuiteError becomes one line on stderr and exit code 2."""
    from valsuite.cli.common import run_script

    return run_script(main, argv)
