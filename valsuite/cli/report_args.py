"""main.py --report and --sweep: rendering run records, and running resumable sweeps."""

from __future__ import annotations

import argparse
from pathlib import Path

from valsuite.cli.common import split_list
from valsuite.errors import ValsuiteError

MODE = "reports_mode"  # main_cli dispatches to run() when --report or --sweep is given
DEFAULT_DATASET = Path("datasets/val")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    report = parser.add_argument_group("report (render README tables, CSV and plots from run records)")
    report.add_argument("--report", dest=MODE, action="store_const", const="report",
                        help="replace the results section of the README with tables and plots from the records")
    report.add_argument("--results", type=Path, default=None,
                        help="folder of run records (default: --results-dir, outputs/results)")
    report.add_argument("--readme", default="README.md",
                        help="README with the valsuite:results markers, or - for stdout (default: %(default)s)")
    report.add_argument("--csv", type=Path, default=None, help="also write the table rows as CSV here")
    report.add_argument("--plots", type=Path, default=Path("outputs/plots"),
                        help="folder for the PNG plots (default: %(default)s)")
    report.add_argument("--no-plots", action="store_true", help="tables only, no matplotlib needed")
    sweep = parser.add_argument_group("sweep (each configuration in its own main.py -v process; resumable)")
    sweep.add_argument("--sweep", dest=MODE, action="store_const", const="sweep",
                       help="run every network x backend x precision x batch size not yet recorded")
    sweep.add_argument("--networks", default=None, help="comma list, e.g. resnet18,resnet50")
    sweep.add_argument("--backends", default=None, help="comma list, e.g. torch,onnxruntime,tensorrt")
    sweep.add_argument("--precisions", default="fp32", help="comma list (default: %(default)s)")
    sweep.add_argument("--batch_sizes", "--batch-sizes", default=None, help="comma list, e.g. 1,32,64")
    sweep.add_argument("--force", action="store_true", help="rerun configurations that already have a record")
    sweep.add_argument("--sweep-timeout", type=float, default=None,
                       help="seconds after which one configuration is killed and recorded as failed")


def _ints(text: str | None, flag: str) -> list[int]:
    try:
        return [int(part) for part in split_list(text)]
    except ValueError as exc:
        raise ValsuiteError(f"{flag} takes a comma list of integers, got {text!r}") from exc


def run(args: argparse.Namespace) -> int:
    if getattr(args, MODE) == "report":
        return run_report(args)
    return run_sweep(args)


def run_report(args: argparse.Namespace) -> int:
    from valsuite.results.report import report

    report(args.results or args.results_dir, args.readme, args.csv, None if args.no_plots else args.plots)
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    from valsuite.sweep import Settings, sweep

    dataset = None
    if not args.synthetic:
        dataset = args.dataset or DEFAULT_DATASET
        if not Path(dataset).is_dir():
            raise ValsuiteError(f"dataset folder not found: {dataset}",
                                hint="pass --dataset DIR (DIR/<wnid>/*.JPEG) or --synthetic for timing only")
    settings = Settings(results_dir=args.results or args.results_dir, dataset=dataset, num_samples=args.num_samples,
                        seed=args.seed, weights=args.weights, random_weights=args.random_weights,
                        weights_dir=args.weights_dir, workers=args.workers, warmup=args.warmup,
                        force=args.force, timeout_s=args.sweep_timeout)
    outcomes = sweep(split_list(args.networks), split_list(args.backends), split_list(args.precisions),
                     _ints(args.batch_sizes, "--batch_sizes"), args.device, settings)
    return 1 if any(o.failed for o in outcomes) else 0
