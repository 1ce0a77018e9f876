"""What every script shares: the parser that errs in one line, logging, and user errors as exit 2."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, NoReturn

from valsuite.errors import USER_ERROR_EXIT_CODE, ValsuiteError


# seed-study spellings that valsuite replaced: refused with a pointer to what to type instead
REPLACED_OPTIONS = {
    "--pretrained": "pretrained weights are the default (--weights DEFAULT for the torchvision enum, "
                    "--weights FILE for a checkpoint); --random-weights for random ones",
}


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one `error:` line and a pointer to -h, not the usage block."""

    def error(self, message: str) -> NoReturn:
        replaced = [flag for flag in REPLACED_OPTIONS if message.startswith("unrecognized arguments")
                    and flag in message.split()]
        if replaced:
            message = f"{replaced[0]} is not an option of {self.prog}: {REPLACED_OPTIONS[replaced[0]]}"
        sys.stderr.write(f"error: {message}\n(see {self.prog} -h for the options)\n")
        raise SystemExit(USER_ERROR_EXIT_CODE)


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
