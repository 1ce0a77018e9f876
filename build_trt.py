#!/usr/bin/env python3
"""Build a TensorRT engine for a network and precision (see `python build_trt.py -h`)."""

import sys

from valsuite.cli.entry import build_trt

if __name__ == "__main__":
    sys.exit(build_trt())
