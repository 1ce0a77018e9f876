"""Resumable sweeps: planted crash, resume, --force, combinations this machine cannot run."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from valsuite.cli.main_cli import build_parser
from valsuite.options.job import JobOptions
from valsuite.results.record import load_records
from valsuite.sweep import Settings, failure_message, package_entry, record_key, sweep

FAKE_MAIN = Path(__file__).resolve().parents[1] / "fixtures" / "fake_main.py"
MACHINE = "sweep test machine"


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Children run the fake main.py; the parent sees the same machine name as the children."""
    log = tmp_path / "calls.log"
    monkeypatch.setenv("VALSUITE_FAKE_LOG", str(log))
    monkeypatch.setenv("VALSUITE_FAKE_MACHINE", MACHINE)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    monkeypatch.setattr("valsuite.results.environment.environment", lambda: {"machine": MACHINE})
    job = JobOptions.from_args(build_parser().parse_args(["--results-dir", str(tmp_path / "results"),
                                                         "--num_samples", "8"]))
    settings = Settings(job=job, dataset=None, entry=[sys.executable, str(FAKE_MAIN)])

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
    settings.job.data.num_samples = 16             # another synthetic image set
    _sweep(settings, backends=["torch"], batch_sizes=[1])
    assert calls() == ["torch:fp32:1"]
    monkeypatch.setattr("valsuite.results.environment.environment", lambda: {"machine": "another machine"})
    monkeypatch.setenv("VALSUITE_FAKE_MACHINE", "another machine")
    _sweep(settings, backends=["torch"], batch_sizes=[1])
    assert calls() == ["torch:fp32:1"]
    keys = {record_key(r) for r in load_records(settings.results_dir)}
    assert len(keys) == 3


@pytest.mark.parametrize("flags", [["--tf32"], ["--inflight", "2"], ["--calib-size", "7"], ["--cuda-graph"],
                                   ["--inductor-mode", "aot"]])
def test_a_mode_flag_reaches_the_child_and_changes_the_record_key(fake, tmp_path, monkeypatch, flags):
    settings, calls = fake
    argv_log = tmp_path / "argv.log"
    monkeypatch.setenv("VALSUITE_FAKE_ARGV", str(argv_log))
    _sweep(settings, backends=["torch"], batch_sizes=[1])
    plain = json.loads(argv_log.read_text().splitlines()[-1])
    assert calls() == ["torch:fp32:1"]
    parsed = JobOptions.from_args(build_parser().parse_args(flags))
    job = settings.job
    settings.job = dataclasses.replace(job, **{name: getattr(parsed, name) for name in
                                                ("precision", "trt", "speed", "inductor")},
                                       run=dataclasses.replace(job.run, inflight=parsed.run.inflight))
    _sweep(settings, backends=["torch"], batch_sizes=[1])
    assert calls() == ["torch:fp32:1"]             # not "done": the first record was made without the flag
    child = json.loads(argv_log.read_text().splitlines()[-1])
    assert child[:1] == ["-v"] and child[child.index(flags[0]):][:len(flags)] == flags and flags[0] not in plain
    keys = {record_key(r) for r in load_records(settings.results_dir)}
    assert len(keys) == 2
    _sweep(settings, backends=["torch"], batch_sizes=[1])
    assert calls() == []                           # the flagged record now counts as done


def test_children_start_through_the_package_entry():
    assert package_entry() == [sys.executable, "-m", "valsuite"]


def test_combinations_this_machine_cannot_run_are_listed(fake, capsys):
    settings, calls = fake
    outcomes = _sweep(settings, backends=["torch", "tensorrt"], precisions=["int8"], batch_sizes=[4])
    out = capsys.readouterr().out
    assert outcomes == [] and calls() == []
    assert "skipped resnet18 torch int8 (cpu): backend torch does not support precision int8" in out
    assert "skipped resnet18 tensorrt int8 (cpu):" in out
    assert "0 to run, 0 already recorded, 2 combinations not runnable here" in out


def test_the_plan_checks_each_row_with_the_sweeps_own_options(fake, monkeypatch):
    """--trt-flavour rtx (or any option a backend reads) decides whether a row can run, not auto."""
    settings, calls = fake
    job = JobOptions.from_args(build_parser().parse_args(["--results-dir", str(settings.job.run.results_dir),
                                                         "--num_samples", "8", "--trt-flavour", "rtx"]))
    seen = []

    def reason(spec, backend, precision, device, options=None):
        seen.append((backend, options.trt.trt_flavour if options is not None else None))
        return "planted"

    monkeypatch.setattr("valsuite.backends.combos.combination_reason", reason)
    _sweep(dataclasses.replace(settings, job=job), backends=["tensorrt"], batch_sizes=[4])
    assert seen == [("tensorrt", "rtx")] and calls() == []


def test_signal_and_stderr_messages():
    assert failure_message(-9, "") == "killed by SIGKILL (out of memory?)"
    assert failure_message(2, "INFO x\nerror: dataset folder not found: d\n\n") == \
        "exit code 2: error: dataset folder not found: d"
    assert failure_message(1, "") == "exit code 1: no message on stderr"


@pytest.mark.slow
def test_real_sweep_then_report(tmp_path):
    """main.py --sweep (real children, synthetic input, random weights) then --report on its records."""
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    results, readme = tmp_path / "results", tmp_path / "README.md"
    readme.write_text("<!-- valsuite:results:begin -->\n<!-- valsuite:results:end -->\n")
    base = [sys.executable, "-m", "valsuite"]
    sweep_args = ["--sweep", "--networks", "resnet18", "--random-weights", "--backends", "torch,onnxruntime",
                  "--precisions", "fp32,int8", "--batch_sizes", "2", "--synthetic", "--num_samples", "4",
                  "--device", "cpu", "--workers", "0", "--results-dir", str(results),
                  "--weights-dir", str(tmp_path / "weights")]
    env = dict(os.environ, PYTHONPATH=str(repo))
    first = subprocess.run(base + sweep_args, capture_output=True, text=True, cwd=tmp_path, timeout=600, env=env)
    assert "skipped resnet18 torch int8 (cpu): backend torch does not support precision int8" in first.stdout
    assert "resnet18 torch fp32 b2 (cpu): ok" in first.stdout, first.stdout + first.stderr
    again = subprocess.run(base + sweep_args, capture_output=True, text=True, cwd=tmp_path, timeout=600, env=env)
    assert "skipped resnet18 torch fp32 b2 (cpu): a matching record exists" in again.stdout
    done = subprocess.run(base + ["--report", "--results", str(results), "--readme", str(readme), "--no-plots"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "| Vanilla (torch) | fp32" in readme.read_text()


def test_shards_split_the_sweep_deterministically_and_report_merges_them(fake, tmp_path, capsys):
    """Two machines (shards 0/2 and 1/2) writing to shared storage: disjoint halves, all of it once."""
    from valsuite.results.report import report
    from valsuite.sharding import Shard

    settings, calls = fake
    sizes = dict(backends=["torch", "onnxruntime"], batch_sizes=[1, 2, 4])
    halves = []
    for k in range(2):
        _sweep(settings, shard=Shard(k, 2), **sizes)
        halves.append(calls())
    assert len(halves[0]) == len(halves[1]) == 3 and not set(halves[0]) & set(halves[1])
    assert sorted(halves[0] + halves[1]) == sorted(f"{b}:fp32:{n}" for b in ("torch", "onnxruntime") for n in (1, 2, 4))
    assert "shard 0/2: 3 configurations of this sweep are this machine's" in capsys.readouterr().out
    settings.force = True                           # the same slice again, from scratch: same configurations
    _sweep(settings, shard=Shard(0, 2), **sizes)
    assert calls() == halves[0]
    csv = tmp_path / "rows.csv"
    report(settings.results_dir, None, csv, None)    # --report over the shared folder: every shard's rows
    rows = csv.read_text().splitlines()[1:]
    assert len({tuple(r.split(",")[:8]) for r in rows}) >= 6, rows


def _comparable(record: dict) -> dict:
    """A record without what differs between two runs of the same configuration."""
    drop = {"run_id", "created_utc"}
    out = {k: v for k, v in record.items() if k not in drop}
    out["sweep"] = {k: v for k, v in (record.get("sweep") or {}).items() if k not in ("command", "gpu")}
    return out


def test_gpus_pin_one_child_per_gpu_and_records_match_a_serial_run(fake, tmp_path, monkeypatch):
    settings, calls = fake
    gpu_log = tmp_path / "gpus.log"
    monkeypatch.setenv("VALSUITE_FAKE_GPU_LOG", str(gpu_log))
    monkeypatch.setattr("valsuite.sweep.unavailable_reason", lambda *a: None)   # plan CUDA rows on a CPU machine
    sizes = dict(backends=["torch", "inductor"], batch_sizes=[1, 2, 4, 8], device="cuda")
    serial = _sweep(settings, **sizes)
    assert {line.split()[1] for line in gpu_log.read_text().splitlines()} == {"-"}
    gpu_log.unlink()
    settings.force = True
    settings.job = dataclasses.replace(settings.job, run=dataclasses.replace(settings.job.run,
                                                                             results_dir=tmp_path / "parallel"))
    parallel = _sweep(settings, gpus=["4", "6"], **sizes)
    seen = dict(line.split() for line in gpu_log.read_text().splitlines())
    assert len(seen) == 8 and set(seen.values()) == {"4", "6"}                  # each child saw one GPU
    assert [o.config for o in parallel] == [o.config for o in serial]           # plan order kept
    assert all(o.record["sweep"]["gpu"] == seen[f"{o.config.backend}:fp32:{o.config.batch_size}"] for o in parallel)
    assert [_comparable(o.record) for o in parallel] == [_comparable(o.record) for o in serial]


def test_shard_and_gpus_are_checked_and_belong_to_sweeps():
    from valsuite.errors import ValsuiteError

    for bad in (["--shard", "2/2"], ["--shard", "x"]):
        with pytest.raises(ValsuiteError, match="--shard"):
            JobOptions.from_args(build_parser().parse_args(["--sweep", *bad]))
    job = JobOptions.from_args(build_parser().parse_args(["--sweep", "--shard", "1/3", "--gpus", "all"]))
    assert str(job.sweep.shard_spec()) == "1/3" and job.sweep.gpus == "all"
    assert job.options_key() == JobOptions.from_args(build_parser().parse_args(["--sweep"])).options_key()


@pytest.mark.parametrize("argv, message", [
    (["-v", "--shard", "0/2", "--synthetic"], "--shard has no effect without --compare/--report/--sweep"),
    (["--sweep", "--networks", "resnet18", "--backends", "torch", "--batch_sizes", "1", "--gpus", "all",
      "--synthetic", "--random-weights"], "--gpus: no CUDA GPU is visible here"),
])
def test_shard_and_gpus_user_errors_end_with_one_line(argv, message, tmp_path, monkeypatch):
    import os
    import subprocess

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")            # no GPU, whatever machine runs the test
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-m", "valsuite", *argv], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=300)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1] == f"error: {message}", done.stderr
