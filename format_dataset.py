#!/usr/bin/env python3
"""Arrange ImageNet validation data as DIR/<wnid>/, or write a CI subset (see docs/format_dataset.md)."""

import sys

from valsuite.cli.format_dataset_cli import run

if __name__ == "__main__":
    sys.exit(run())
