"""trtexec-grade timing: percentiles, transfer columns, exported iterations, stability warning,
and runs at a non-native input size (CPU, random weights)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from valsuite.errors import ValsuiteError
from valsuite.evaluate.runner import RunConfig, run_one
from valsuite.evaluate.timing import TimingOptions, latency_stats, parse_percentiles, stability
from valsuite.results.record import validate_record


def test_latency_stats_adds_requested_percentiles_to_the_default_ones():
    samples = [float(v) for v in range(1, 101)]
    stats = latency_stats(samples, (95, 99.9))
    assert {"p50", "p90", "p95", "p99", "p99.9"} <= set(stats)
    assert stats["p95"] == pytest.approx(np.percentile(samples, 95))
    assert stats["cv"] == pytest.approx(np.std(samples) / np.mean(samples))
    assert latency_stats([1.0, None])["count"] == 0      # a column that is not separable stays empty


def test_parse_percentiles():
    assert parse_percentiles("50,90,95,99") == (50.0, 90.0, 95.0, 99.0)
    with pytest.raises(ValsuiteError, match="'x' is not a number"):
        parse_percentiles("50,x")
    with pytest.raises(ValsuiteError, match="outside 0..100"):
        parse_percentiles("101")


def test_stability_warns_above_ten_percent():
    steady = stability(latency_stats([10.0, 10.1, 9.9, 10.0]))
    noisy = stability(latency_stats([10.0, 14.0, 7.0, 10.0]))
    assert steady["stable"] and steady["warning"] is None
    assert not noisy["stable"] and "coefficient of variation > 10%" in noisy["warning"]


def _run(tmp_path, **kwargs):
    cfg = RunConfig(network="mobilenet_v3_small", random_weights=True, batch_size=2, workers=0,
                    progress=False, weights_dir=tmp_path / "w", **kwargs)
    return run_one(cfg).record


def test_a_run_exports_every_timed_iteration_and_carries_the_timing_facts(tmp_path):
    path = tmp_path / "times.json"
    record = _run(tmp_path, num_samples=12, input_size=(96, 128),
                  timing=TimingOptions(percentiles=(50, 95), export_times=path))
    validate_record(record)
    exported = json.loads(path.read_text())
    assert len(exported["iterations"]) == record["latency_model_ms"]["count"] == record["timed_batches"] == 5
    assert [it["latency_model_ms"] for it in exported["iterations"]] and record["export_times"] == str(path)
    assert exported["context"]["input_size"] == [96, 128]
    assert record["latency_all_ms"]["p95"] is not None and record["timing"]["percentiles"] == [50, 95]
    assert record["h2d_ms"]["count"] == 0 and record["d2h_ms"]["count"] == 0   # CPU: not separable
    assert record["stability"]["latency_model_cv"] == pytest.approx(record["latency_model_ms"]["cv"])
    assert record["input_size"] == [96, 128] and record["native_input_size"] is False
    assert record["gflops"] == pytest.approx(0.113 * (96 * 128) / (224 * 224), rel=0.15)
    assert record["model_params"] == 2542856


def test_accuracy_is_a_note_at_a_non_native_size(tmp_path, tiny_dataset):
    native = _run(tmp_path, dataset=tiny_dataset)
    other = _run(tmp_path, dataset=tiny_dataset, input_size=(160, 160))
    assert native["prec1"] is not None and "accuracy_note" not in native
    assert other["prec1"] is None and other["prec5"] is None
    assert "not the size the weights were trained" in other["accuracy_note"]
    assert other["num_images"] == native["num_images"] == 7


def test_the_stability_warning_reaches_the_log(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        record = _run(tmp_path, num_samples=8, timing=TimingOptions(cv_warn=0.0))
    assert record["stability"]["stable"] is False
    assert any("coefficient of variation" in r.getMessage() for r in caplog.records)


def test_spin_wait_polls_every_collected_batch(tmp_path, monkeypatch):
    from valsuite.backends import cuda_launch

    calls = []
    monkeypatch.setattr(cuda_launch.Finished, "spin", lambda self: calls.append(1))
    record = _run(tmp_path, num_samples=8, timing=TimingOptions(spin_wait=True))
    assert len(calls) == 4 and record["timing"]["spin_wait"] is True
    _run(tmp_path, num_samples=8)
    assert len(calls) == 4                                   # off by default
