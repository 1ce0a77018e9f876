"""Precision arguments for main.py (and any script that makes FP16/INT8 variants).

Plugin hooks for valsuite.cli.main_cli: add_arguments, backend_extras (the PrecisionOptions every
backend passes to ensure_precision_onnx) and prepare_run (INT8 rows never evaluate the images
that calibrated them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from valsuite.precision.options import (CALIB_METHODS, DEFAULT_CALIB_METHOD, DEFAULT_CALIB_SIZE,
                                        DEFAULT_PERCENTILE, INT8_FALLBACKS, PrecisionOptions)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("precision variants (fp16 / int8 ONNX)")
    group.add_argument("--calib-dataset", type=Path, default=None, metavar="DIR",
                       help="calibration images (any layout). Default: DATASET/calibration_list.txt if it "
                            "exists, else a seeded sample of the evaluation folder (at most half of it), "
                            "which is then excluded from evaluation")
    group.add_argument("--calib-size", type=int, default=DEFAULT_CALIB_SIZE,
                       help="number of calibration images (default: %(default)s, or all available)")
    group.add_argument("--calib-method", choices=CALIB_METHODS, default=DEFAULT_CALIB_METHOD,
                       help="activation range method (default: %(default)s, measured in docs/precision.md)")
    group.add_argument("--calib-percentile", type=float, default=DEFAULT_PERCENTILE,
                       help="percentile of |x| for --calib-method percentile (default: %(default)s)")
    group.add_argument("--calib-seed", type=int, default=0, help="seed of the calibration sample")
    group.add_argument("--calib-batch-size", type=int, default=16,
                       help="images per calibration batch (memory only; ranges do not depend on it)")
    group.add_argument("--recalibrate", action="store_true", help="recompute the calibration cache")
    group.add_argument("--int8-fallback", choices=INT8_FALLBACKS, default="fp32",
                       help="precision of layers without Q/DQ in the int8 variant (default: %(default)s, "
                            "so int8 vs fp32 measures quantization alone)")
    group.add_argument("--fp16-io", action="store_true",
                       help="the fp16 variant takes and returns float16 (default: float32 I/O)")


def options_from_args(args: argparse.Namespace) -> PrecisionOptions:
    """PrecisionOptions from parsed arguments; the evaluation folder is the default calibration source."""
    return PrecisionOptions(
        fp16_io=bool(getattr(args, "fp16_io", False)),
        calib_dataset=getattr(args, "calib_dataset", None),
        calib_size=getattr(args, "calib_size", DEFAULT_CALIB_SIZE),
        calib_method=getattr(args, "calib_method", DEFAULT_CALIB_METHOD),
        calib_percentile=getattr(args, "calib_percentile", DEFAULT_PERCENTILE),
        calib_seed=getattr(args, "calib_seed", 0),
        calib_batch_size=getattr(args, "calib_batch_size", 16),
        recalibrate=bool(getattr(args, "recalibrate", False)),
        int8_fallback=getattr(args, "int8_fallback", "fp32"),
        eval_dataset=getattr(args, "dataset", None),
    ).check()


def backend_extras(args: argparse.Namespace) -> dict:
    return {"precision_options": options_from_args(args)}


def prepare_run(args: argparse.Namespace, cfg, spec):
    """When a run has an int8 row, every row of it (so the table compares like with like) skips the
    calibration images that come from the evaluated folder; the record's dataset facts say so."""
    import dataclasses

    from valsuite.cli.common import split_list

    options = cfg.backend_options.get("precision_options") or options_from_args(args)
    if options.eval_dataset is None and cfg.dataset is not None:   # main.py's default dataset folder
        options = dataclasses.replace(options, eval_dataset=cfg.dataset)
    cfg.backend_options["precision_options"] = options
    if cfg.dataset is None or "int8" not in split_list(getattr(args, "precision", None) or cfg.precision):
        return cfg
    from valsuite.data.manifest import scan_dataset
    from valsuite.precision import calibration_exclusions

    excluded, facts = calibration_exclusions(options, scan_dataset(cfg.dataset))
    if excluded:
        cfg.exclude = frozenset(excluded)
        cfg.exclude_reason = facts["excluded_reason"]
    return cfg
