"""`python -m valsuite ...`: main.py's command line (validation, --compare, --sweep, --report, default job)."""

import sys

from valsuite.cli.entry import valsuite

if __name__ == "__main__":
    sys.exit(valsuite())
