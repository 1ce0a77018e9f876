#!/usr/bin/env python3
"""Export a network to ONNX: see `python onnx_transform.py -h`."""

import sys

from valsuite.cli.common import run_script
from valsuite.cli.onnx_transform_cli import main

if __name__ == "__main__":
    sys.exit(run_script(main))
