"""Run record schema, atomic writes and the seed-style table."""

from __future__ import annotations

import json
import os

import pytest

from valsuite.errors import ValsuiteError
from valsuite.fileio import atomic_write_json
from valsuite.results.record import (SCHEMA_VERSION, latency_stats, load_records, new_record, read_record,
                                     validate_record, write_record)
from valsuite.results.tables import seed_table


def make_record(**overrides) -> dict:
    fields = dict(network="resnet50", weights="IMAGENET1K_V2", backend="onnxruntime", precision="fp32",
                  device="cpu", batch_size=4, num_images=10, prec1=80.0, prec5=95.0,
                  latency_all_ms=latency_stats([2.0, 4.0]), latency_model_ms=latency_stats([1.0, 3.0]),
                  throughput_img_s=1000.0, model_size_mb=97.4, num_layers=122, num_params=25_557_032,
                  dataset={"path": "d", "num_images": 10, "file_list_sha256": "ab"},
                  environment={"machine": "cpu x"})
    fields.update(overrides)
    return new_record("validation", **fields)


def test_latency_stats():
    stats = latency_stats([1.0, 2.0, 3.0, 4.0, 100.0])
    assert stats["mean"] == pytest.approx(22.0) and stats["max"] == 100.0 and stats["p50"] == 3.0
    assert stats["count"] == 5 and stats["p90"] < stats["p99"] <= 100.0
    assert latency_stats([])["count"] == 0 and latency_stats([])["mean"] is None


def test_record_roundtrip_and_schema(tmp_path):
    record = make_record()
    assert record["schema_version"] == SCHEMA_VERSION
    path = write_record(record, results_dir=tmp_path)
    assert read_record(path) == json.loads(path.read_text())
    assert load_records(tmp_path)[0]["run_id"] == record["run_id"]


@pytest.mark.parametrize("breakage", ["drop_prec1", "bad_latency", "old_schema", "bad_kind"])
def test_invalid_records_are_refused(breakage):
    record = make_record()
    if breakage == "drop_prec1":
        del record["prec1"]
    elif breakage == "bad_latency":
        record["latency_all_ms"] = {"mean": 1.0}
    elif breakage == "old_schema":
        record["schema_version"] = 0
    else:
        record["kind"] = "guess"
    with pytest.raises(ValsuiteError):
        validate_record(record)


def test_corrupt_record_file_is_a_user_error(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"schema_version": 1, "kind": ')
    with pytest.raises(ValsuiteError, match="corrupt"):
        read_record(path)


def test_atomic_write_leaves_old_content_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    atomic_write_json(target, {"v": 1})

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind


def test_seed_table_rows_come_from_records():
    table = seed_table([make_record(backend="torch"), make_record(precision="int8", prec1=79.1)])
    lines = table.splitlines()
    assert len(lines) == 4 and "Vanilla (torch)" in lines[2] and "| int8" in lines[3]
    assert "79.10" in lines[3] and "25,557,032" in lines[2] and "3.00 / 4.00" in lines[2]


def test_tensorrt_rows_say_static_or_dynamic():
    from valsuite.results.tables import row_label

    rows = [make_record(backend="tensorrt", precision="int8", device="cuda", backend_details={"engine_kind": kind})
            for kind in ("static", "dynamic")]
    assert [row_label(r)[0] for r in rows] == ["tensorrt-static", "tensorrt-dynamic"]
    assert row_label(make_record(backend="tensorrt"))[0] == "tensorrt"  # older records: as recorded
    table = seed_table(rows)
    assert "| tensorrt-static " in table and "| tensorrt-dynamic " in table
