"""Plots rendered from fixture records: the expected files, pixel sizes, and README links."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from valsuite.results.plots import DPI, HEIGHT_IN, WIDTH_IN, latency_size, render_plots
from valsuite.results.readme import BEGIN, END
from valsuite.results.record import load_records
from valsuite.results.report import report

pytest.importorskip("matplotlib")
RECORDS = Path(__file__).resolve().parents[1] / "fixtures" / "records"


def test_plots_have_expected_files_and_sizes(tmp_path):
    made = render_plots(load_records(RECORDS), tmp_path / "plots")
    names = [path.name.split("_")[0] for _, path in made]
    # CPU set, H100 dataset set, H100 synthetic set (no accuracy: no Prec@1 plot), one overview per
    # machine, one parity group
    assert names == ["throughput", "latency", "prec1", "throughput", "latency", "prec1", "throughput", "latency",
                     "overview", "overview", "agreement"]
    sizes = {path.name.split("_")[0] + str(i): Image.open(path).size for i, (_, path) in enumerate(made)}
    full = (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))
    assert sizes["throughput0"] == sizes["prec12"] == sizes["agreement10"] == full
    assert sizes["latency1"] == latency_size(2) and sizes["latency4"] == latency_size(1)
    assert latency_size(4)[1] > latency_size(3)[1]
    for _, path in made:
        with Image.open(path) as img:
            colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
            assert colours is not None and len(colours) > 50       # something was drawn
    # same records, same file names: a rerun overwrites instead of piling up
    again = render_plots(load_records(RECORDS), tmp_path / "plots")
    assert [p for _, p in again] == [p for _, p in made] and len(list((tmp_path / "plots").iterdir())) == 11


def test_report_links_plots_relative_to_the_readme(tmp_path):
    readme = tmp_path / "docs" / "README.md"
    readme.parent.mkdir()
    readme.write_text(f"{BEGIN}\n{END}\n")
    report(RECORDS, readme, plots_dir=tmp_path / "out" / "plots")
    links = [line for line in readme.read_text().splitlines() if line.startswith("![")]
    assert len(links) == 11 and all("](../out/plots/" in line and line.endswith(".png)") for line in links)
    for line in links:
        assert (readme.parent / line.split("](")[1][:-1]).is_file()
