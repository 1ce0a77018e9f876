"""Utilisation sampler: a 50 ms timeline per run; without NVML or psutil one line and no stop."""

from __future__ import annotations

import logging
import sys
import time

import pytest

from valsuite.evaluate.monitor import UtilSampler
from valsuite.evaluate.runner import RunConfig, run_one


def test_cpu_sampler_records_a_timeline():
    pytest.importorskip("psutil")
    with UtilSampler("cpu", interval_s=0.02) as sampler:
        give_up = time.perf_counter() + 10.0
        # keep one core busy until ten samples are in (a count, not a wall time: CI machines are loaded)
        while len(sampler.times) < 10 and time.perf_counter() < give_up:
            pass
    summary = sampler.summary()
    assert summary["source"] == "psutil" and summary["samples"] >= 11     # ten in the loop + one at exit
    assert summary["rss_peak_mb"] > 10 and summary["cpu_mean_pct"] > 30
    # the k-th sample is never taken before k intervals (the schedule only catches up after a delay)
    assert all(t >= 0.02 * k * 0.99 for k, t in enumerate(sampler.times[:-1], 1))
    times = summary["timeline"]["t_s"]
    assert times == sorted(times) and len(times) == len(summary["timeline"]["memory_mb"]) == summary["samples"]
    assert not sampler._thread.is_alive()


@pytest.mark.parametrize("device,module,name", [("cpu", "psutil", "psutil"), ("cuda", "pynvml", "nvidia-ml-py")])
def test_missing_library_is_one_line_and_no_timeline(monkeypatch, caplog, device, module, name):
    monkeypatch.setitem(sys.modules, module, None)          # import raises ImportError
    with caplog.at_level(logging.WARNING), UtilSampler(device) as sampler:
        pass
    assert sampler.summary() == {"source": None, "unavailable": f"no {name} ({module} not installed)"}
    assert [r.getMessage() for r in caplog.records] == [
        f"no utilisation timeline: no {name} ({module} not installed); the run goes on"]


def test_thinning_keeps_the_record_small(monkeypatch):
    import valsuite.evaluate.monitor as monitor

    pytest.importorskip("psutil")
    monkeypatch.setattr(monitor, "MAX_POINTS", 5)
    with UtilSampler("cpu", interval_s=0.005) as sampler:
        time.sleep(0.2)
    summary = sampler.summary()
    assert summary["samples"] > 10 and len(summary["timeline"]["t_s"]) <= 5


def test_a_run_carries_its_utilisation(tmp_path, monkeypatch):
    pytest.importorskip("psutil")
    cfg = RunConfig(network="mobilenet_v3_small", random_weights=True, batch_size=2, num_samples=6, workers=0,
                    progress=False, weights_dir=tmp_path)
    record = run_one(cfg).record
    assert record["utilisation"]["source"] == "psutil" and record["utilisation"]["samples"] >= 1
    monkeypatch.setitem(sys.modules, "psutil", None)
    record = run_one(cfg).record
    assert record["utilisation"]["source"] is None and record["latency_model_ms"]["count"] > 0
