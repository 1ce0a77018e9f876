"""build_trt.py: a precision ONNX -> a serialized TensorRT engine under weights/ with its sidecar."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from valsuite.cli.common import Parser
from valsuite.errors import ValsuiteError
from valsuite.options.base import refuse
from valsuite.options.data import DEFAULT_DATASET
from valsuite.options.model import ModelOptions
from valsuite.options.precision import PrecisionOptions
from valsuite.options.trt import TrtBuildOptions


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="build_trt.py",
        description="Build a strongly typed TensorRT engine from the FP32, FP16 or INT8 (Q/DQ) ONNX of a network, "
                    "made on demand, and write weights/<name>-<static|dynamic>-<profile>.engine plus a sidecar JSON "
                    "(flavour, version, targets, ONNX sha256, profile, options, size, build time, the parsed "
                    "network's layers, per-layer precisions and Q/DQ count). TensorRT 10.x/11.x builds on the GPU "
                    "it will run on; TensorRT-RTX (pip install tensorrt-rtx-cu13) builds on any machine, a CPU "
                    "too. A fresh engine is reused unless --force.")
    ModelOptions.add_arguments(parser)
    parser.add_argument("--onnx", type=Path, default=None,
                        help="build from this ONNX (e.g. another tool's INT8) instead of the one valsuite exports; "
                             "its layout must match the model and its precision the --fp32/--fp16/--int8 flag")
    prec = parser.add_mutually_exclusive_group()
    for name in ("fp32", "fp16", "int8"):
        prec.add_argument(f"--{name}", dest="precision", action="store_const", const=name,
                          help=f"build from the {name.upper()} ONNX" + (" (default)" if name == "fp32" else ""))
    parser.set_defaults(precision="fp32")
    parser.add_argument("--input_shape", "--input-shape", type=int, nargs=4, metavar=("N", "C", "H", "W"),
                        default=None, help="N=-1: a dynamic engine with a min/opt/max batch profile; N>0: a static "
                                           "engine (default: -1 and the crop size of the weights)")
    parser.add_argument("--engine_name", "--engine-name", type=Path, default=None, metavar="PATH",
                        help="engine file to write (default: weights/<network>_<weights>_<precision>-<static-bN|"
                             "dynamic-bMIN-OPT-MAX>.engine)")
    parser.add_argument("--force", action="store_true", help="build even when a fresh engine exists")
    parser.add_argument("--dataset", "-d", type=Path, default=None,
                        help=f"images the FP16/INT8 ONNX is calibrated on when --calib-dataset is not given "
                             f"(default: {DEFAULT_DATASET} when it exists)")
    TrtBuildOptions.add_arguments(parser)
    PrecisionOptions.add_arguments(parser)
    return parser


def precision_options(args: argparse.Namespace) -> PrecisionOptions:
    """The precision step's options; refused where no FP16/INT8 ONNX is made here."""
    options = PrecisionOptions.from_args(args)
    given = options.given() + (["--dataset"] if args.dataset is not None else [])
    if args.precision == "fp32":
        refuse(given, "for an FP32 engine (no FP16/INT8 ONNX is made)")
    if args.onnx is not None:
        refuse(given, "with --onnx (the given ONNX is built as it is)")
    default = DEFAULT_DATASET if DEFAULT_DATASET.is_dir() else None
    options = dataclasses.replace(options, eval_dataset=args.dataset or default)
    if args.precision == "int8" and args.onnx is None and options.calib_dataset is None and options.eval_dataset is None:
        # said before the export and the calibration start, not after them
        raise ValsuiteError(f"int8 calibration needs images and {DEFAULT_DATASET} does not exist",
                            hint="pass --calib-dataset DIR or --dataset DIR")
    return options


def summary(path: Path, sidecar: dict, flavour) -> str:
    """One line: what was built, for what, and what the parsed network holds."""
    net = sidecar.get("network_definition") or {}
    targets = sidecar.get("compute_capability_targets")
    inspection = sidecar.get("engine_inspection") or {}
    engine = (f"engine: {sidecar.get('num_layers')} layers, precisions {sidecar.get('layer_precisions')}"
              if inspection.get("done") else "engine not inspected: no GPU here that the flavour runs engines on")
    return (f"{path}  ({flavour.display} {sidecar.get('tensorrt_version')}, {sidecar.get('precision')}, "
            f"targets {targets if targets != 'default' else 'default (8.0, 8.6, 8.9, 12.x)'}, "
            f"{sidecar.get('engine_size_bytes', 0) / 2**20:.1f} MB, build {sidecar.get('build_time_s')} s; "
            f"network: {net.get('num_layers')} layers, {sum((net.get('qdq_layers') or {}).values())} Q/DQ, "
            f"precisions {net.get('layer_precisions')}; {engine})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    model, build = ModelOptions.from_args(args), TrtBuildOptions.from_args(args)
    popts = precision_options(args)
    from valsuite.export.onnx_export import parse_input_shape
    from valsuite.tensorrt.engines import ensure_engine
    from valsuite.tensorrt.profile import profile_from_args

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec = model.spec(tuple(args.input_shape[2:]) if args.input_shape else None)   # the profile follows H W
    if args.onnx is not None:
        check_given_onnx(spec, args.onnx, args.precision)
    shapes = profile_from_args(parse_input_shape(args.input_shape, spec), build.min_batch, build.opt_batch,
                               build.max_batch)
    flavour = build.flavour()
    trt = flavour.import_module()
    options = build.build_options_for(flavour, args.precision, shapes, model.weights_dir)
    options.check()
    path, sidecar = ensure_engine(spec, options, model.weights_dir, engine_path=args.engine_name, force=args.force,
                                  onnx_path=args.onnx, precision_options=popts, verbose=build.trt_verbose, trt=trt)
    print(summary(path, sidecar, flavour))
    return 0


def check_given_onnx(spec, path: Path, precision: str) -> None:
    """--onnx: the layout must match the model, the graph's precision the flag (one-line errors)."""
    from valsuite.external import external_onnx

    found = external_onnx(spec, path)
    if found.precision != precision:
        raise ValsuiteError(f"{path.name} holds a {found.precision} graph, but --{precision} was asked for",
                            hint=f"pass --{found.precision}")
