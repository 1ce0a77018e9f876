"""main.py: validation (-v), the default offline job (no arguments), and feature modes.

Feature modules plug in without editing this file: each module in PLUGINS may define
  add_arguments(parser)                 its argument group (required)
  MODE = "flag_dest"; run(args) -> int  a mode of its own, taken when args.<MODE> is set
  backend_extras(args) -> dict          options passed to every backend of a validation run
  prepare_run(args, cfg, spec) -> cfg   adjust a validation RunConfig (e.g. calibration exclusions)
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import logging
import sys
from pathlib import Path

from valsuite.cli.common import add_model_args, setup_logging, split_list
from valsuite.errors import ValsuiteError

log = logging.getLogger("valsuite")

PLUGINS = ("valsuite.cli.precision_args", "valsuite.cli.trt_args", "valsuite.cli.compare_args",
           "valsuite.cli.report_args", "valsuite.cli.speed_args")
DEFAULT_DATASET = Path("datasets/val")


def loaded_plugins() -> list:
    modules = []
    for name in PLUGINS:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="Validate an ImageNet classifier across backends and precisions. With no arguments: "
                    "the default offline job (EfficientNet-Lite0 with its pip-installed weights, seeded "
                    "synthetic input, every backend this machine has, timing only).")
    mode = parser.add_argument_group("mode")
    mode.add_argument("-v", "--validate", action="store_true", help="validate on a dataset (accuracy + latency)")
    add_model_args(parser)
    run = parser.add_argument_group("run")
    run.add_argument("--backend", "-b", default=None,
                     help="torch, onnxruntime, tensorrt (comma list for several rows; default: torch)")
    run.add_argument("-trt", dest="trt", action="store_true", help="same as --backend tensorrt")
    run.add_argument("--precision", "-p", default="fp32", help="fp32, fp16, bf16, int8 (comma list allowed)")
    run.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when available")
    run.add_argument("--batch_size", "--batch-size", type=int, default=32)
    run.add_argument("--workers", type=int, default=2, help="data loader worker processes (default: %(default)s)")
    run.add_argument("--inflight", type=int, default=1,
                     help="batches submitted before the oldest is collected (CUDA torch/inductor): 2 keeps "
                          "the GPU busy between batches; Latency-all then includes queueing (default: 1)")
    run.add_argument("--warmup", type=int, default=None,
                     help="warm-up batches left out of latency (default: 10%% of batches, at least 1)")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", "-d", type=Path, default=None,
                      help=f"ImageNet val folder, DIR/<wnid>/*.JPEG (default with -v: {DEFAULT_DATASET})")
    data.add_argument("--synthetic", action="store_true", help="seeded random images instead of a dataset")
    data.add_argument("--num-samples", type=int, default=256, help="synthetic images (default: %(default)s)")
    data.add_argument("--seed", type=int, default=0)
    out = parser.add_argument_group("output")
    out.add_argument("--output-json", type=Path, default=None, help="also write the run record here")
    out.add_argument("--results-dir", type=Path, default=Path("outputs/results"),
                     help="every run record is stored here (default: %(default)s)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    for plugin in loaded_plugins():
        plugin.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging()
    plugins = loaded_plugins()
    for plugin in plugins:
        mode = getattr(plugin, "MODE", None)
        if mode and getattr(args, mode, False):
            return plugin.run(args)
    if args.validate or args.dataset is not None or args.synthetic:
        return validate(args, plugins)
    return default_job(args, plugins)


def device_for(backend: str, args) -> str:
    """--device when given, else the backend's preferred device here (ONNX Runtime without its CUDA
    provider stays on the CPU while torch uses the GPU)."""
    if args.device:
        return args.device
    from valsuite.backends import backend_class

    return backend_class(backend).preferred_device()


def _backends(args) -> list[str]:
    names = split_list(args.backend) or ["torch"]
    if args.trt:
        names = ["tensorrt"] if not args.backend else names + ["tensorrt"]
    return list(dict.fromkeys(names))


def validate(args, plugins) -> int:
    from valsuite.evaluate.runner import RunConfig

    dataset = None
    if not args.synthetic:
        dataset = args.dataset or DEFAULT_DATASET
        if not dataset.is_dir():
            raise ValsuiteError(f"dataset folder not found: {dataset}",
                                hint="pass --dataset DIR (DIR/<wnid>/*.JPEG; see format_dataset.py) or --synthetic")
    configs = [
        RunConfig(network=args.network, backend=b, precision=p, device=device_for(b, args), batch_size=args.batch_size,
                  weights=args.weights, random_weights=args.random_weights, dataset=dataset,
                  num_samples=args.num_samples, seed=args.seed, workers=args.workers,
                  warmup_batches=args.warmup, weights_dir=args.weights_dir, progress=not args.no_progress,
                  inflight=args.inflight)
        for b, p in itertools.product(_backends(args), split_list(args.precision) or ["fp32"])
    ]
    records = run_configs(configs, args, plugins, skip_unsupported=False)
    return 0 if records else 2


def default_job(args, plugins) -> int:
    """Timing on synthetic input with every backend this machine can run (works offline)."""
    from valsuite.backends import backend_available, backend_names
    from valsuite.evaluate.runner import RunConfig

    configs = []
    for name in backend_names():
        ok, reason = backend_available(name)
        if not ok:
            print(f"skipped backend {name}: {reason}")
            continue
        configs.append(RunConfig(network=args.network, backend=name, precision="fp32", device=device_for(name, args),
                                 batch_size=args.batch_size, weights=args.weights,
                                 random_weights=args.random_weights, dataset=None,
                                 num_samples=args.num_samples, seed=args.seed, workers=args.workers,
                                 weights_dir=args.weights_dir, progress=not args.no_progress))
    run_configs(configs, args, plugins, skip_unsupported=True)
    print("\nNo accuracy: this default job times seeded synthetic images. For Prec@1/Prec@5 pass an "
          "ImageNet val folder: python main.py -v --dataset DIR (DIR/<wnid>/*.JPEG; "
          "python format_dataset.py arranges the official files into that layout).")
    return 0


def run_configs(configs, args, plugins, skip_unsupported: bool) -> list[dict]:
    """Run each configuration, store each record, print one seed-style table."""
    from valsuite.evaluate.runner import resolve_spec, run_one
    from valsuite.results.record import write_record
    from valsuite.results.tables import seed_table, table_title

    records = []
    spec = resolve_spec(configs[0]) if configs else None
    for cfg in configs:
        for plugin in plugins:
            if hasattr(plugin, "backend_extras"):
                cfg.backend_options.update(plugin.backend_extras(args))
            if hasattr(plugin, "prepare_run"):
                cfg = plugin.prepare_run(args, cfg, spec)
        try:
            outcome = run_one(cfg, spec)
        except ValsuiteError as exc:
            if not skip_unsupported:
                raise
            print(f"skipped {cfg.backend}:{cfg.precision}: {exc}")
            continue
        record = outcome.record
        path = write_record(record, results_dir=args.results_dir)
        log.info("record written: %s", path)
        if args.output_json is not None:
            target = args.output_json if len(configs) == 1 else args.output_json.with_name(
                f"{args.output_json.stem}_{cfg.backend}_{cfg.precision}{args.output_json.suffix}")
            write_record(record, target)
            log.info("record written: %s", target)
        records.append(record)
    if records:
        print()
        print(table_title(records))
        print()
        print(seed_table(records))
    return records
