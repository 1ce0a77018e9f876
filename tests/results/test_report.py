"""README section, CSV and README splicing rendered from fixture records (golden files)."""

from __future__ import annotations

import csv
import io
import os
import random
from pathlib import Path

import pytest

from valsuite.cli.main_cli import main
from valsuite.errors import ValsuiteError
from valsuite.results.csv_export import CSV_COLUMNS, FIELDS, render_csv
from valsuite.results.readme import BEGIN, END, splice, update_readme
from valsuite.results.record import load_records
from valsuite.results.render import render_section
from valsuite.results.tables import COLUMNS, _num

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDS = FIXTURES / "records"
GOLDEN = FIXTURES / "golden"
CPU = "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz"
GPU = "NVIDIA H100 80GB HBM3"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return load_records(RECORDS)


def test_section_matches_golden_file(records):
    # regenerate after an intended change: python -m tests.results.test_report (see docs/reports.md)
    assert render_section(records) == (GOLDEN / "section.md").read_text(encoding="utf-8")


def test_csv_matches_golden_file(records):
    assert render_csv(records) == (GOLDEN / "rows.csv").read_text(encoding="utf-8")


def test_output_does_not_depend_on_record_order(records):
    shuffled = list(records)
    random.Random(3).shuffle(shuffled)
    assert render_section(shuffled) == render_section(records)
    assert render_csv(shuffled) == render_csv(records)


def test_tables_say_their_machine_and_show_new_names_and_failures(records):
    text = render_section(records)
    assert text.index(f"### {CPU}") < text.index(f"### {GPU}")
    titles = [line for line in text.splitlines() if line.startswith("#### ")]
    assert len(titles) == 5 and all(line.endswith(f"on {CPU}") or line.endswith(f"on {GPU}") for line in titles)
    assert "| newengine " in text and "| fp8 " in text          # unknown backend/precision, no code change
    # batch 64 on the CPU: int8's old failure was replaced by a rerun, fp16's newest run failed
    batch64 = text.split("batch 64")[1].split("####")[0]
    assert "| onnxruntime     | int8        | cpu      | 361.35 / 392.70" in batch64
    assert "| onnxruntime     | fp16        | cpu      | failed" in batch64
    assert "out of memory" not in text and "RuntimeError: \\| bad alloc \\| in fp16 cast" in batch64
    assert "driver 570.86.15" in text and "tensorrt 10.9.0" in text and "cores 2;" in text


def test_parity_table_reads_both_candidate_shapes(records):
    text = render_section(records)
    parity = text.split("#### Parity")[1].split("Environment")[0]
    rows = [line for line in parity.splitlines() if line.startswith("| onnxruntime")]
    assert [row.split("|")[2].strip() for row in rows] == ["fp32", "fp16", "int8"]
    assert "| 100.00 " in rows[0] and "| 99.40 " in rows[1]         # top-5 mean 4.97 of 5 -> 99.40 %
    assert "| 96.50 " in rows[2] and "| 91.20 " in rows[2] and "0.081 / 0.06 / 0.35 / 1.2" in rows[2]
    assert rows[2].rstrip(" |").endswith("-0.84") and "skipped tensorrt:*" in parity


def _markdown_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| backend") and not line.startswith("| candidate"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_csv_has_the_markdown_rows(records):
    md_rows = _markdown_rows(render_section([r for r in records if r["kind"] != "compare"]))
    csv_rows = list(csv.DictReader(io.StringIO(render_csv(records))))
    assert len(csv_rows) == len(md_rows) == 12 and list(csv_rows[0]) == list(CSV_COLUMNS)
    for md, row in zip(md_rows, csv_rows):
        assert md[0] in (row["backend"], f"Vanilla ({row['backend']})") and md[1:3] == [row["precision"], row["device"]]
        if row["kind"] == "failure":
            assert md[3] == "failed" and row["error"] and all(row[f.csv] == "" for f in FIELDS)
            continue
        cells = [" / ".join("-" if row[f.csv] == "" else _num(float(row[f.csv]) if f.digits else int(row[f.csv]),
                                                               f.digits) for f in fields) for _, fields in COLUMNS]
        assert cells == md[3:]
    assert sum(row["kind"] == "failure" for row in csv_rows) == 1


README = "# Title\r\n\r\nintro text\r\n" + BEGIN + "\r\nold table\r\n" + END + "\r\n\r\n## After\r\ntail\r\n"


def test_readme_outside_the_markers_is_untouched(tmp_path, records):
    path = tmp_path / "README.md"
    path.write_bytes(README.encode())
    os.chmod(path, 0o644)
    assert update_readme(path, render_section(records)) is True
    data = path.read_bytes()
    head, tail = README.split(BEGIN)[0].encode(), README.split(END)[1].encode()
    assert data.startswith(head + BEGIN.encode()) and data.endswith(END.encode() + tail)
    assert b"old table" not in data and f"### {GPU}".encode() in data
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert update_readme(path, render_section(records)) is False and path.read_bytes() == data


@pytest.mark.parametrize("text", ["no markers", BEGIN + "\n", f"{BEGIN}\n{BEGIN}\n{END}\n", f"{END}\n{BEGIN}\n",
                                  f"{BEGIN}\n{END}\n{END}\n", f"see `{BEGIN}`\nand {END} in prose\n"])
def test_bad_markers_are_refused_and_nothing_is_written(tmp_path, text):
    path = tmp_path / "README.md"
    path.write_text(text)
    with pytest.raises(ValsuiteError, match="marker|before"):
        update_readme(path, "x\n")
    assert path.read_text() == text
    with pytest.raises(ValsuiteError, match="not found"):
        update_readme(tmp_path / "missing.md", "x\n")


def test_splice_keeps_markers_and_ignores_mentions_in_prose():
    assert splice(f"a\n{BEGIN}\nb\n{END}\nc\n", "new") == f"a\n{BEGIN}\nnew\n{END}\nc\n"
    prose = f"use `{BEGIN}` and `{END}`\n"
    assert splice(prose + f"{BEGIN}\nb\n  {END}\n", "new") == prose + f"{BEGIN}\nnew\n  {END}\n"


def test_report_cli_updates_readme_and_csv(tmp_path, capsys):
    readme = tmp_path / "docs" / "README.md"
    readme.parent.mkdir()
    readme.write_text(f"top\n{BEGIN}\n{END}\nbottom\n")
    rc = main(["--report", "--results", str(RECORDS), "--readme", str(readme), "--csv", str(tmp_path / "rows.csv"),
               "--no-plots"])
    assert rc == 0
    text = readme.read_text()
    assert text.startswith(f"top\n{BEGIN}\n") and text.endswith(f"{END}\nbottom\n")
    assert (tmp_path / "rows.csv").read_text() == (GOLDEN / "rows.csv").read_text()
    with pytest.raises(ValsuiteError, match="results folder not found"):
        main(["--report", "--results", str(tmp_path / "none"), "--readme", str(readme), "--no-plots"])


if __name__ == "__main__":  # regenerate the golden files from the fixture records
    recs = load_records(RECORDS)
    (GOLDEN / "section.md").write_text(render_section(recs), encoding="utf-8")
    (GOLDEN / "rows.csv").write_text(render_csv(recs), encoding="utf-8")
