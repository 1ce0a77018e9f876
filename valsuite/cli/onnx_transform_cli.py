"""onnx_transform.py: export a network to FP32 ONNX (dynamic batch with -1), check it, write its sidecar."""

from __future__ import annotations

import argparse

from valsuite.cli.common import add_input_shape_arg, add_model_args, setup_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onnx_transform.py",
        description="Export a classifier to ONNX (opset >= 17), check it with onnx.checker and against "
                    "torch on a random batch, and write weights/<name>.onnx plus a sidecar JSON.")
    add_model_args(parser)
    add_input_shape_arg(parser)
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, 17 or newer (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="export even when a matching ONNX exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    from valsuite.export.onnx_export import export_onnx
    from valsuite.fileio import read_sidecar
    from valsuite.models import resolve

    spec = resolve(args.network, args.weights, args.random_weights)
    path = export_onnx(spec, args.weights_dir, args.input_shape, opset=args.opset, force=args.force)
    facts = read_sidecar(path) or {}
    print(f"{path}  (sha256 {facts.get('sha256', '?')[:12]}, input {facts.get('input_shape')}, "
          f"opset {facts.get('opset')}, max |onnxruntime - torch| {facts.get('max_abs_diff_vs_torch', float('nan')):.3g})")
    return 0
