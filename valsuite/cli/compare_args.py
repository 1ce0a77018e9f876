"""`main.py --compare`: parity of every engine/precision against torch FP32 (see docs/parity.md).

A main_cli plugin: add_arguments adds the group, MODE names the flag, run(args) does the work.
It reuses main's --network/--weights/--device/--batch_size/--dataset/--seed/--workers/
--output-json/--results-dir flags.
"""

from __future__ import annotations

import argparse
from pathlib import Path

MODE = "compare"
DEFAULT_SAMPLES = 5000
_MAIN_NUM_SAMPLES_DEFAULT: list = [None]   # main's own --num-samples default, to see if it was given


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _MAIN_NUM_SAMPLES_DEFAULT[0] = parser.get_default("num_samples")
    group = parser.add_argument_group("parity (--compare)")
    group.add_argument("--compare", action="store_true",
                       help="compare candidates with torch FP32 on the same inputs: element-wise equality, "
                            "top-1/top-5 agreement, per-rank MAE/disagreement over every sample")
    group.add_argument("-rtol", "--rtol", type=float, default=1e-3,
                       help="relative tolerance of |a-b| <= atol + rtol*|b| (default: %(default)g)")
    group.add_argument("-atol", "--atol", type=float, default=1e-8, help="absolute tolerance (default: %(default)g)")
    group.add_argument("--candidates", default=None,
                       help="comma list of backend:precision, e.g. onnxruntime:fp32,onnxruntime:int8,"
                            "tensorrt:fp16 (default: every backend/precision this machine can run)")
    group.add_argument("--inputs", choices=("random", "images"), default=None,
                       help="seeded random tensors (default) or the validation images of --dataset")
    group.add_argument("--val_dataset", "--val-dataset", action="store_true",
                       help="same as --inputs images: Prec@1/Prec@5 and the images whose top-1 changed")
    group.add_argument("--num_samples", dest="compare_num_samples", type=int, default=None,
                       help=f"random inputs to compare (default: {DEFAULT_SAMPLES}; --num-samples works too)")
    group.add_argument("--fail-under", "--fail_under", dest="fail_under", default=None,
                       help="exit 1 when a metric is below a limit: METRIC=VALUE or BACKEND:PRECISION:METRIC=VALUE, "
                            "comma separated; metrics: top1_agreement, top5_overlap, isclose (equality), "
                            "prec1, prec5, delta_prec1, delta_prec5")
    group.add_argument("--localize", action="store_true",
                       help="for ONNX candidates, name the first nodes whose outputs leave the tolerance")
    group.add_argument("--localize-samples", type=int, default=4, help="inputs --localize runs (default: %(default)s)")
    group.add_argument("--localize-top", type=int, default=5, help="nodes --localize lists (default: %(default)s)")
    group.add_argument("--localize-bad-pct", type=float, default=1.0,
                       help="a tensor exceeds the tolerance when more than this %% of its elements are "
                            "outside it (default: %(default)s)")


def _num_samples(args) -> int:
    if args.compare_num_samples is not None:
        return args.compare_num_samples
    main_default = _MAIN_NUM_SAMPLES_DEFAULT[0]
    given = getattr(args, "num_samples", None)
    return given if given is not None and given != main_default else DEFAULT_SAMPLES


def _dataset(args) -> Path | None:
    """None for random inputs; the image folder otherwise (main's default folder when not given)."""
    from valsuite.errors import ValsuiteError

    wants_images = args.val_dataset or args.inputs == "images"
    if args.inputs == "random" and args.val_dataset:
        raise ValsuiteError("--inputs random and --val_dataset contradict each other")
    if not wants_images:
        if args.dataset is not None and args.inputs is None:
            raise ValsuiteError("--dataset given without --val_dataset: say which inputs to compare on",
                                hint="--val_dataset for the images, or --inputs random")
        return None
    from valsuite.cli.main_cli import DEFAULT_DATASET

    return args.dataset or DEFAULT_DATASET


def _plugin_settings(args, cfg) -> None:
    """Options other plugins give backends (calibration settings, --engine for tensorrt) and the
    images they exclude from evaluation (calibration images)."""
    from valsuite.cli.main_cli import loaded_plugins

    for plugin in loaded_plugins():
        if hasattr(plugin, "backend_extras"):
            cfg.backend_extras.update(plugin.backend_extras(args))
    from valsuite.evaluate.runner import RunConfig
    from valsuite.models import resolve

    spec = resolve(cfg.network, cfg.weights, cfg.random_weights)
    for cand in cfg.candidates or []:
        run_cfg = RunConfig(network=cfg.network, backend=cand.backend, precision=cand.precision,
                            device=cand.device, dataset=cfg.dataset, weights=cfg.weights,
                            random_weights=cfg.random_weights, weights_dir=cfg.weights_dir,
                            batch_size=cfg.batch_size, num_samples=cfg.num_samples, seed=cfg.seed)
        # plugins read the run's precision from args (main.py's --precision): give them this candidate's
        cand_args = argparse.Namespace(**vars(args))
        cand_args.precision, cand_args.backend = cand.precision, cand.backend
        for plugin in loaded_plugins():
            if hasattr(plugin, "prepare_run"):
                run_cfg = plugin.prepare_run(cand_args, run_cfg, spec)
        cfg.candidate_options[cand.name] = dict(run_cfg.backend_options)
        if run_cfg.exclude and cfg.dataset is not None:
            cfg.exclude = cfg.exclude | frozenset(run_cfg.exclude)
            cfg.exclude_reason = run_cfg.exclude_reason


def config_from_args(args):
    from valsuite.compare import CompareConfig, default_candidates, parse_candidates, parse_fail_under

    device = args.device   # None: each backend's preferred device here
    cfg = CompareConfig(
        network=args.network, weights=args.weights, random_weights=args.random_weights, device=device,
        batch_size=args.batch_size, rtol=args.rtol, atol=args.atol,
        candidates=parse_candidates(args.candidates, device) if args.candidates else None,
        dataset=_dataset(args), num_samples=_num_samples(args), seed=args.seed, workers=args.workers,
        weights_dir=args.weights_dir, fail_under=parse_fail_under(args.fail_under), localize=args.localize,
        localize_samples=args.localize_samples, localize_top=args.localize_top,
        localize_bad_pct=args.localize_bad_pct, progress=not args.no_progress)
    if cfg.candidates is None:
        # resolved here: calibration exclusions below are decided per candidate
        cfg.candidates, cfg.skipped = default_candidates(device)
        for item in cfg.skipped:
            print(f"skipped candidate {item['candidate']}: {item['reason']}")
    _plugin_settings(args, cfg)
    return cfg


def run(args) -> int:
    from valsuite.compare import finish, render_tables, require_measurable, run_compare, write_outputs

    cfg = config_from_args(args)
    require_measurable(cfg.fail_under, labelled=cfg.dataset is not None)
    record, changes = run_compare(cfg)
    code = finish(record, cfg.fail_under)
    paths = write_outputs(record, changes, args.output_json, args.results_dir)
    print()
    print(render_tables(record))
    print()
    for path in paths:
        print(f"written: {path}")
    for failure in record["fail_under"]["failures"]:
        print(f"FAIL under threshold: {failure}")
    return code
