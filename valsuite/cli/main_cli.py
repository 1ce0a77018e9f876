"""main.py / `python -m valsuite`: one parser of typed option groups, explicit dispatch to a mode.

Modes: -v (validate), --compare, --sweep, --report; none of them: the default offline job (or
validation when --dataset/--synthetic is given). An option that a mode does not use is refused
with a one-line error, never silently ignored.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from valsuite.cli.common import Parser, setup_logging
from valsuite.options.job import JobOptions

log = logging.getLogger("valsuite")


def build_parser(prog: str = "main.py") -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog,
        description="Validate an ImageNet classifier across backends and precisions. With no arguments: "
                    "the default offline job (EfficientNet-Lite0 with its pip-installed weights, seeded "
                    "synthetic input, every backend this machine has, timing only).")
    group = parser.add_argument_group("mode (at most one; none: the default job, or -v when --dataset/--synthetic "
                                      "is given)")
    modes = group.add_mutually_exclusive_group()
    modes.add_argument("-v", "--validate", dest="mode", action="store_const", const="validate",
                       help="validate on a dataset or synthetic input (accuracy + latency)")
    modes.add_argument("--compare", dest="mode", action="store_const", const="compare",
                       help="compare candidates with torch FP32 on the same inputs: element-wise equality, "
                            "top-1/top-5 agreement, per-rank MAE/disagreement over every sample")
    modes.add_argument("--sweep", dest="mode", action="store_const", const="sweep",
                       help="run every network x backend x precision x batch size not yet recorded, each in "
                            "its own process")
    modes.add_argument("--report", dest="mode", action="store_const", const="report",
                       help="replace the results section of the README with tables and plots from the records")
    JobOptions.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None, prog: str = "main.py") -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(prog).parse_args(argv)
    setup_logging()
    job = JobOptions.from_args(args)
    mode = args.mode or ("validate" if job.data.dataset is not None or job.data.synthetic else "default")
    return mode_runner(mode)(job)


def mode_runner(mode: str) -> Callable[[JobOptions], int]:
    if mode == "compare":
        from valsuite.cli.compare_mode import run_compare_mode as runner
    elif mode in ("sweep", "report"):
        from valsuite.cli import report_mode

        runner = report_mode.run_sweep if mode == "sweep" else report_mode.run_report
    else:
        from valsuite.cli import validate_mode

        runner = validate_mode.validate if mode == "validate" else validate_mode.default_job
    return runner
