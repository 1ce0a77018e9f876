"""build_trt.py: a precision ONNX -> a serialized TensorRT engine under weights/ with its sidecar."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from valsuite.cli.common import Parser
from valsuite.options.model import ModelOptions
from valsuite.options.trt import TrtBuildOptions


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="build_trt.py",
        description="Build a strongly typed TensorRT engine (10.x or 11.x) from the FP32, FP16 or INT8 (Q/DQ) "
                    "ONNX of a network, made on demand, and write weights/<name>.engine plus a sidecar JSON "
                    "(TensorRT version, GPU, ONNX sha256, profile, options, size, build time, per-layer "
                    "precisions). A fresh engine is reused unless --force.")
    ModelOptions.add_arguments(parser)
    parser.add_argument("--onnx", type=Path, default=None,
                       help="build from this ONNX instead of the one valsuite exports (its precision must match)")
    prec = parser.add_mutually_exclusive_group()
    for name in ("fp32", "fp16", "int8"):
        prec.add_argument(f"--{name}", dest="precision", action="store_const", const=name,
                          help=f"build from the {name.upper()} ONNX" + (" (default)" if name == "fp32" else ""))
    parser.set_defaults(precision="fp32")
    parser.add_argument("--input_shape", "--input-shape", type=int, nargs=4, metavar=("N", "C", "H", "W"),
                        default=None, help="N=-1: dynamic batch with a min/opt/max profile; N>0: a static engine "
                                           "(default: -1 and the crop size of the weights)")
    parser.add_argument("--engine_name", "--engine-name", type=Path, default=None, metavar="PATH",
                        help="engine file to write (default: weights/<network>_<weights>_<precision>_<profile>.engine)")
    parser.add_argument("--force", action="store_true", help="build even when a fresh engine exists")
    TrtBuildOptions.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    model, build = ModelOptions.from_args(args), TrtBuildOptions.from_args(args)
    from valsuite.export.onnx_export import parse_input_shape
    from valsuite.models import resolve
    from valsuite.tensorrt.engines import ensure_engine
    from valsuite.tensorrt.profile import profile_from_args
    from valsuite.tensorrt.versions import import_tensorrt

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec = resolve(model.network, model.weights, model.random_weights)
    shapes = profile_from_args(parse_input_shape(args.input_shape, spec), build.min_batch, build.opt_batch,
                               build.max_batch)
    options = build.build_options(args.precision, shapes, model.weights_dir)
    options.check()
    trt = import_tensorrt()
    path, sidecar = ensure_engine(spec, options, model.weights_dir, engine_path=args.engine_name, force=args.force,
                                  onnx_path=args.onnx, verbose=build.trt_verbose, trt=trt)
    print(f"{path}  (TensorRT {sidecar.get('tensorrt_version')}, {sidecar.get('precision')}, profile "
          f"{shapes.tag()}, {sidecar.get('engine_size_bytes', 0) / 2**20:.1f} MB, {sidecar.get('num_layers')} layers, "
          f"layer precisions {sidecar.get('layer_precisions')}, build {sidecar.get('build_time_s')} s)")
    return 0

