"""Resumable sweeps: planted crash, resume, --force, combinations this machine cannot run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from valsuite.results.record import load_records
from valsuite.sweep import Settings, failure_message, record_key, sweep

FAKE_MAIN = Path(__file__).resolve().parent / "fixtures" / "fake_main.py"
MACHINE = "sweep test machine"


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Children run the fake main.py; the parent sees the same machine name as the children."""
    log = tmp_path / "calls.log"
    monkeypatch.setenv("VALSUITE_FAKE_LOG", str(log))
    monkeypatch.setenv("VALSUITE_FAKE_MACHINE", MACHINE)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    monkeypatch.setattr("valsuite.results.environment.environment", lambda: {"machine": MACHINE})
    settings = Settings(results_dir=tmp_path / "results", dataset=None, num_samples=8, main_py=FAKE_MAIN,
                        python=sys.executable)

    def calls() -> list[str]:
        lines = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return sorted(lines)

    return settings, calls


def _sweep(settings, **overrides):
    args = dict(networks=["resnet18"], backends=["torch", "onnxruntime"], precisions=["fp32"], batch_sizes=[1, 2],
                device="cpu", settings=settings)
    args.update(overrides)
    return sweep(**args)


def test_planted_crash_is_recorded_and_the_sweep_resumes(fake, monkeypatch, capsys):
    settings, calls = fake
    monkeypatch.setenv("VALSUITE_FAKE_CRASH", "onnxruntime:fp32:2")
    outcomes = _sweep(settings)
    assert calls() == ["onnxruntime:fp32:1", "onnxruntime:fp32:2", "torch:fp32:1", "torch:fp32:2"]
    failed = [o for o in outcomes if o.failed]
    assert len(outcomes) == 4 and len(failed) == 1
    failure = json.loads(failed[0].path.read_text())
    assert failure["kind"] == "failure" and failure["backend"] == "onnxruntime" and failure["batch_size"] == 2
    assert "RuntimeError: planted crash in onnxruntime:fp32:2" in failure["error"]
    assert failure["error"].startswith("exit code 1")
    kinds = sorted(r["kind"] for r in load_records(settings.results_dir))
    assert kinds == ["failure", "validation", "validation", "validation"]

    # resume: only the crashed configuration runs again (the crash is gone now)
    monkeypatch.delenv("VALSUITE_FAKE_CRASH")
    outcomes = _sweep(settings)
    assert calls() == ["onnxruntime:fp32:2"] and not any(o.failed for o in outcomes)
    assert "skipped resnet18 torch fp32 b1 (cpu): a matching record exists" in capsys.readouterr().out

    # complete: nothing left; --force reruns everything
    assert _sweep(settings) == [] and calls() == []
    settings.force = True
    assert len(_sweep(settings)) == 4 and len(calls()) == 4


def test_records_of_other_image_sets_or_machines_do_not_count(fake, monkeypatch):
    settings, calls = fake
    _sweep(settings, backends=["torch"], batch_sizes=[1])
    assert calls() == ["torch:fp32:1"]
    settings.num_samples = 16                      # another synthetic image set
    _sweep(settings, backends=["torch"], batch_sizes=[1])
    assert calls() == ["torch:fp32:1"]
    monkeypatch.setattr("valsuite.results.environment.environment", lambda: {"machine": "another machine"})
    monkeypatch.setenv("VALSUITE_FAKE_MACHINE", "another machine")
    _sweep(settings, backends=["torch"], batch_sizes=[1])
    assert calls() == ["torch:fp32:1"]
    keys = {record_key(r) for r in load_records(settings.results_dir)}
    assert len(keys) == 3


def test_combinations_this_machine_cannot_run_are_listed(fake, capsys):
    settings, calls = fake
    outcomes = _sweep(settings, backends=["torch", "tensorrt"], precisions=["int8"], batch_sizes=[4])
    out = capsys.readouterr().out
    assert outcomes == [] and calls() == []
    assert "skipped resnet18 torch int8 (cpu): backend torch does not support precision int8" in out
    assert "skipped resnet18 tensorrt int8 (cpu):" in out
    assert "0 to run, 0 already recorded, 2 combinations not runnable here" in out


def test_signal_and_stderr_messages():
    assert failure_message(-9, "") == "killed by SIGKILL (out of memory?)"
    assert failure_message(2, "INFO x\nerror: dataset folder not found: d\n\n") == \
        "exit code 2: error: dataset folder not found: d"
    assert failure_message(1, "") == "exit code 1: no message on stderr"


@pytest.mark.slow
def test_real_sweep_then_report(tmp_path):
    """main.py --sweep (real children, synthetic input, random weights) then --report on its records."""
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    results, readme = tmp_path / "results", tmp_path / "README.md"
    readme.write_text("<!-- valsuite:results:begin -->\n<!-- valsuite:results:end -->\n")
    base = [sys.executable, str(repo / "main.py")]
    sweep_args = ["--sweep", "--networks", "resnet18", "--random-weights", "--backends", "torch,onnxruntime",
                  "--precisions", "fp32,int8", "--batch_sizes", "2", "--synthetic", "--num-samples", "4",
                  "--device", "cpu", "--workers", "0", "--results-dir", str(results),
                  "--weights-dir", str(tmp_path / "weights")]
    first = subprocess.run(base + sweep_args, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert "skipped resnet18 torch int8 (cpu): backend torch does not support precision int8" in first.stdout
    assert "resnet18 torch fp32 b2 (cpu): ok" in first.stdout, first.stdout + first.stderr
    again = subprocess.run(base + sweep_args, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert "skipped resnet18 torch fp32 b2 (cpu): a matching record exists" in again.stdout
    done = subprocess.run(base + ["--report", "--results", str(results), "--readme", str(readme), "--no-plots"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| Vanilla (torch) | fp32" in readme.read_text()
