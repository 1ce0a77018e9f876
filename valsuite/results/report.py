"""`main.py --report`: records -> README section (+ CSV, + plots). The one entry the CLI calls."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.results.record import load_records
from valsuite.results.render import render_section


def _link(path: Path, base: Path) -> str:
    """A link that works from the README's folder, with forward slashes on every OS."""
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def make_plots(records: list[dict], plots_dir: Path, base: Path) -> list[tuple[str, str]]:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ValsuiteError("plots need matplotlib", hint="pip install matplotlib, or pass --no-plots") from exc
    from valsuite.results.plots import render_plots

    return [(caption, _link(path, base)) for caption, path in render_plots(records, plots_dir)]


def report(results_dir: str | Path, readme: str | Path | None, csv_path: str | Path | None = None,
           plots_dir: str | Path | None = Path("outputs/plots")) -> str:
    """Render everything from the records under results_dir; readme None or '-' prints to stdout."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ValsuiteError(f"results folder not found: {results_dir}", hint="run main.py -v or --sweep first")
    records = load_records(results_dir)
    to_stdout = readme is None or str(readme) == "-"
    base = Path.cwd() if to_stdout else Path(readme).parent
    plots = make_plots(records, Path(plots_dir), base) if plots_dir is not None else []
    section = render_section(records, plots)
    if csv_path is not None:
        from valsuite.results.csv_export import write_csv

        write_csv(records, csv_path)
        print(f"wrote {csv_path}", file=sys.stderr)
    if to_stdout:
        sys.stdout.write(section)
    else:
        from valsuite.results.readme import update_readme

        changed = update_readme(readme, section)
        print(f"{'updated' if changed else 'unchanged'}: {readme} ({len(records)} records, {len(plots)} plots)",
              file=sys.stderr)
    return section
