"""onnx_transform.py: export a network to FP32 ONNX (dynamic batch with -1), check it, write its sidecar."""

from __future__ import annotations

import argparse

from valsuite.cli.common import Parser, add_input_shape_arg, setup_logging
from valsuite.options.model import ModelOptions


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="onnx_transform.py",
        description="Export a classifier to ONNX (opset >= 17), check it with onnx.checker and against "
                    "torch on a random batch, and write weights/<name>.onnx plus a sidecar JSON.")
    ModelOptions.add_arguments(parser)
    add_input_shape_arg(parser)
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, 17 or newer (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="export even when a matching ONNX exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    model = ModelOptions.from_args(args)
    setup_logging()
    from valsuite.export.onnx_export import export_onnx
    from valsuite.fileio import read_sidecar
    spec = model.spec(tuple(args.input_shape[2:]) if args.input_shape else None)   # H W of --input_shape
    path = export_onnx(spec, model.weights_dir, args.input_shape, opset=args.opset, force=args.force)
    facts = read_sidecar(path) or {}
    print(f"{path}  (sha256 {facts.get('sha256', '?')[:12]}, input {facts.get('input_shape')}, "
          f"opset {facts.get('opset')}, max |onnxruntime - torch| {facts.get('max_abs_diff_vs_torch', float('nan')):.3g})")
    return 0
