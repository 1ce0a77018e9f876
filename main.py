#!/usr/bin/env python3
"""Validate ImageNet classifiers across backends and precisions: see `python main.py -h`
(the same command as `python -m valsuite` and the installed `valsuite`)."""

import sys

from valsuite.cli.common import run_script
from valsuite.cli.main_cli import main

if __name__ == "__main__":
    sys.exit(run_script(main))
