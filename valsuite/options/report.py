"""Report group (--report): render README tables, CSV and plots from run records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valsuite.options.base import OptionGroup, option


@dataclass
class ReportOptions(OptionGroup):
    TITLE = "report (render README tables, CSV and plots from run records)"

    results: Path | None = option("--results", type=Path,
                                  help="folder of run records (default: --results-dir, outputs/results)")
    readme: str | None = option("--readme",
                                help="README with the valsuite:results markers to update in place, e.g. README.md "
                                     "(default: print the section to stdout; a tracked README is rewritten only "
                                     "when named here)")
    csv: Path | None = option("--csv", type=Path, help="also write the table rows as CSV here")
    plots: Path = option("--plots", default=Path("outputs/plots"), type=Path,
                         help="folder for the PNG plots (default: %(default)s)")
    no_plots: bool = option("--no-plots", default=False, help="tables only, no matplotlib needed")
