"""Argument groups shared by the scripts, and the one place that turns user errors into exit 2."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable

from valsuite.errors import USER_ERROR_EXIT_CODE, ValsuiteError


def add_model_args(parser: argparse.ArgumentParser, default_network: str | None = None) -> None:
    from valsuite.models import DEFAULT_NETWORK, list_networks

    group = parser.add_argument_group("model")
    group.add_argument("--network", "-n", default=default_network or DEFAULT_NETWORK,
                       help=f"one of: {', '.join(list_networks())} (default: %(default)s)")
    group.add_argument("--weights", default=None,
                       help="weights enum name (DEFAULT, IMAGENET1K_V1, IMAGENET1K_V2) or a local "
                            ".pth/.pt file (state dict or full model)")
    group.add_argument("--random-weights", action="store_true",
                       help="random initialisation (seeded): for timing only, accuracy is meaningless")
    group.add_argument("--weights-dir", type=Path, default=Path("weights"),
                       help="where ONNX files, engines and caches are written (default: %(default)s)")


def add_input_shape_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input_shape", "--input-shape", type=int, nargs=4, metavar=("N", "C", "H", "W"),
                        default=None, help="model input shape; N=-1 means a dynamic batch "
                                           "(default: -1 and the crop size of the weights)")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def run_script(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call a script's main; a ValsuiteError becomes one line on stderr and exit code 2."""
    try:
        return main(argv)
    except ValsuiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]
