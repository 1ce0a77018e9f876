"""The bad-input matrix (issue 12) at library level: the pieces the scripts call.

Output locations, record schema types, combination checks, artifact races and modes, warm-up,
FP16 without images, exclusions shared by every row, and the small messages (no 'Downloading'
line before the offline error, no 'exporting' before the weights fail, notes said once).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, write_image
from tests.cli.test_bad_inputs import bomb_jpeg
from valsuite.data.preprocess import Preprocess, load_rgb
from valsuite.errors import ValsuiteError
from valsuite.fileio import artifact_lock, atomic_write_json
from valsuite.outputs import OutputLocation, check_writable, write_with_fallback
from valsuite.results.record import read_record, record_problem, store_record

FIXTURE = REPO / "tests" / "fixtures" / "records" / "cpu_ort_fp32_b32.json"


# -- output locations ---------------------------------------------------------------------------
@pytest.mark.parametrize("make,loc_kind,message", [
    (lambda t: (t / "f").write_text("x") and t / "f" / "results", "dir", "is a file, not a folder"),
    (lambda t: (t / "f").write_text("x") and t / "f", "dir", "--out {p} is a file, not a folder"),
    (lambda t: (t / "d").mkdir() or t / "d", "file", "--out {p} is a folder; give a file name"),
    (lambda t: Path("/proc/valsuite-test/x"), "dir", "is not writable"),
])
def test_unwritable_output_locations_are_found_before_any_work(tmp_path, make, loc_kind, message):
    path = make(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(ValsuiteError, match=message.format(p=path).replace("(", r"\(")) as info:
        check_writable([OutputLocation("--out", path, loc_kind)])
    assert "\n" not in str(info.value)
    assert sorted(tmp_path.rglob("*")) == before     # the probe creates nothing


def test_writable_locations_pass_and_create_nothing(tmp_path):
    check_writable([OutputLocation("--results-dir", tmp_path / "a" / "b"),
                    OutputLocation("--output-json", tmp_path / "r.json", "file")])
    assert list(tmp_path.iterdir()) == []


def test_record_goes_to_a_fallback_folder_when_its_own_fails(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr("valsuite.outputs.fallback_dir", lambda: tmp_path / "fallback")
    (tmp_path / "file").write_text("x")
    record = json.loads(FIXTURE.read_text())
    with caplog.at_level(logging.WARNING):
        written = store_record(record, results_dir=tmp_path / "file" / "results")
    assert written.parent == tmp_path / "fallback" and read_record(written)["run_id"] == record["run_id"]
    assert str(written) in caplog.text and "could not write the record" in caplog.text


def test_fallback_is_not_used_when_the_write_works(tmp_path):
    assert write_with_fallback(lambda p: (p.write_text("x"), p)[1], tmp_path / "a.txt") == tmp_path / "a.txt"


# -- record schema ------------------------------------------------------------------------------
@pytest.mark.parametrize("change,field", [
    ({"prec1": "abc"}, "'prec1'"), ({"prec5": 101.0}, "'prec5'"), ({"batch_size": "32"}, "'batch_size'"),
    ({"batch_size": True}, "'batch_size'"), ({"num_images": 1.5}, "'num_images'"),
    ({"throughput_img_s": [1]}, "'throughput_img_s'"), ({"network": None}, "'network'"),
    ({"latency_model_ms": {"mean": "x", "max": 1, "p50": 1, "p90": 1, "p99": 1, "count": 1}}, "latency_model_ms.mean"),
    ({"schema_version": None}, "schema_version is None"), ({"dataset": "val"}, "'dataset'"),
])
def test_wrong_field_types_are_refused_naming_file_and_field(tmp_path, change, field):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(json.loads(FIXTURE.read_text()) | change))
    with pytest.raises(ValsuiteError, match=f"run record {path}: .*{field}".replace("(", r"\(")):
        read_record(path)


def test_every_stored_record_passes_the_typed_schema():
    paths = [p for p in (REPO / "tests" / "fixtures" / "records").glob("*.json")]
    paths += [p for p in (REPO / "docs" / "records").rglob("*.json") if not p.name.endswith("_top1_changed.json")]
    problems = {p.name: record_problem(json.loads(p.read_text())) for p in paths}
    assert len(paths) > 10 and not any(problems.values()), problems


# -- combinations ---------------------------------------------------------------------------------
def test_combinations_are_checked_before_any_row_runs():
    from valsuite.backends.combos import check_combinations, runnable, skipped_lines
    from valsuite.models import resolve

    spec = resolve("resnet18", random_weights=True)
    combos = check_combinations(spec, [(b, p, "cpu") for b in ("onnxruntime", "torch") for p in ("fp32", "bf16")])
    assert [c.label for c in runnable(combos)] == ["onnxruntime:fp32 on cpu", "torch:fp32 on cpu"]
    lines = skipped_lines(combos)
    assert lines == ["skipped onnxruntime:bf16 on cpu: backend onnxruntime does not support precision bf16 "
                     "(supported: fp32, fp16, int8)",
                     "skipped torch:bf16 on cpu: torch bf16 runs on CUDA only here (use --device cuda, or "
                     "--backend onnxruntime for reduced precision on a CPU)"]
    with pytest.raises(ValsuiteError, match="no requested backend/precision combination can run here"):
        runnable([c for c in combos if c.reason])
    with pytest.raises(ValsuiteError, match="unknown backend 'nosuch'"):
        check_combinations(spec, [("nosuch", "fp32", "cpu")])


# -- artifacts: modes, races ----------------------------------------------------------------------
@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_artifacts_keep_the_users_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == mode


def _tiny_spec():
    import torch

    from valsuite.models.spec import ModelSpec

    def build():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                   torch.nn.Linear(4, 10))

    return ModelSpec("tiny", "random", Preprocess(resize_size=36, crop_size=32), build, num_classes=10)


def _export_into(folder: str, queue) -> None:
    from valsuite.export.onnx_export import export_onnx

    try:
        queue.put(str(export_onnx(_tiny_spec(), folder)))
    except BaseException as exc:  # report, do not hang the parent
        queue.put(f"failed: {exc!r}")


def test_parallel_exports_into_one_fresh_folder_do_not_collide(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_export_into, args=(str(tmp_path / "w"), queue)) for _ in range(3)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=240) for _ in procs]
    for proc in procs:
        proc.join(60)
    assert len(set(results)) == 1 and not results[0].startswith("failed"), results
    names = sorted(p.name for p in (tmp_path / "w").iterdir())
    assert names == ["tiny_random_dyn.onnx", "tiny_random_dyn.onnx.json", "unsimplified"]   # no temporaries, no locks
    assert [p.name for p in (tmp_path / "w" / "unsimplified").iterdir()] == ["tiny_random_dyn.onnx"]  # kept aside


def test_artifact_lock_serialises_and_cleans_up(tmp_path):
    target = tmp_path / "a.onnx"
    with artifact_lock(target):
        assert (tmp_path / ".a.onnx.lock").exists()
    assert list(tmp_path.iterdir()) == []


# -- run behaviour --------------------------------------------------------------------------------
@pytest.mark.parametrize("requested,batches,expected,warned", [
    (None, 10, 1, False), (3, 10, 3, False), (10, 10, 9, True), (50, 4, 3, True), (5, 1, 0, True),
    (None, 1, 0, False),
])
def test_warmup_always_leaves_a_timed_batch(requested, batches, expected, warned, caplog):
    from valsuite.evaluate.validate import resolve_warmup

    with caplog.at_level(logging.WARNING):
        assert resolve_warmup(requested, batches) == expected
    assert ("covers all" in caplog.text) == warned


def test_fp16_needs_no_calibration_images_int8_does():
    from valsuite.precision import PrecisionOptions
    from valsuite.precision.calibdata import calibration_batches, select_calibration

    calib = select_calibration(PrecisionOptions(), "fp16")
    assert calib.source == "synthetic" and calib.synthetic == 32 and "synthetic" in calib.notes[0]
    pp = Preprocess(resize_size=36, crop_size=32)
    batches = list(calibration_batches(calib, pp, 10))
    assert [b.shape for b in batches] == [(10, 3, 32, 32)] * 3 + [(2, 3, 32, 32)]
    again = np.concatenate(list(calibration_batches(calib, pp, 32)))
    assert np.array_equal(np.concatenate(batches), again)           # seeded: same images every time
    with pytest.raises(ValsuiteError, match="int8 calibration needs images"):
        select_calibration(PrecisionOptions(), "int8")


def test_exclusions_apply_to_every_row_when_any_row_is_int8(tmp_path):
    from valsuite.evaluate.runner import calibration_exclusions
    from valsuite.precision import PrecisionOptions

    root = tmp_path / "val"
    for i in range(8):
        write_image(root / "n01440764" / f"{i}.JPEG", seed=i)
    options = PrecisionOptions(calib_size=2, eval_dataset=root)
    excluded, reason = calibration_exclusions(options, root, ["fp32", "fp16", "int8"])
    assert len(excluded) == 2 and "2 calibration image(s)" in reason
    assert calibration_exclusions(options, root, ["fp32", "fp16"]) == (frozenset(), None)
    assert calibration_exclusions(options, None, ["int8"]) == (frozenset(), None)


def test_calibration_cap_note_is_said_once(tmp_path, caplog):
    from valsuite.precision import PrecisionOptions
    from valsuite.precision.calibdata import select_calibration

    root = tmp_path / "val"
    for i in range(4):
        write_image(root / "n01440764" / f"{i}.JPEG", seed=i)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            select_calibration(PrecisionOptions(calib_size=500, eval_dataset=root))
    assert caplog.text.count("at most half of the evaluation folder") == 1


def test_huge_image_is_an_unreadable_image_error(tmp_path):
    src = write_image(tmp_path / "a.JPEG", size=(64, 48))
    bomb_jpeg(src, tmp_path / "bomb.JPEG")
    with pytest.raises(ValsuiteError, match=r"unreadable image .*bomb.JPEG: Image size \(196000000 pixels\)"):
        load_rgb(tmp_path / "bomb.JPEG")


def test_corrupt_onnx_is_one_line(tmp_path):
    from valsuite.backends import BackendOptions, create_backend
    from valsuite.models import resolve

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(os.urandom(2000))
    backend = create_backend("onnxruntime", resolve("resnet18", random_weights=True), "fp32", "cpu",
                             BackendOptions(weights_dir=tmp_path, artifact=bad))
    # a user-given ONNX is read (and its layout checked) before onnxruntime sees it
    with pytest.raises(ValsuiteError, match=f"{bad} is not a readable ONNX file") as info:
        backend.activate()
    assert "\n" not in str(info.value)


def test_offline_download_prints_no_downloading_line(monkeypatch, tmp_path, capfd):
    import torch.hub

    from valsuite.models import checkpoints

    class FakeWeights:
        url = "https://download.pytorch.org/models/nothing-0000.pth"

        def get_state_dict(self, progress, check_hash):
            print('Downloading: "https://download.pytorch.org/models/nothing-0000.pth"')
            print("Downloading: ...", file=sys.stderr)
            raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(ValsuiteError, match="could not be downloaded"):
        checkpoints.torchvision_state_dict(FakeWeights())
    out, err = capfd.readouterr()
    assert "Downloading" not in out + err


def test_export_says_exporting_only_after_the_weights_load(tmp_path, caplog):
    import dataclasses

    from valsuite.export.onnx_export import export_onnx

    def missing():
        raise ValsuiteError("weights file not found: x.pth")

    spec = dataclasses.replace(_tiny_spec(), builder=missing)
    with caplog.at_level(logging.INFO), pytest.raises(ValsuiteError, match="weights file not found"):
        export_onnx(spec, tmp_path)
    assert "exporting" not in caplog.text


def test_no_cuda_runtime_warning_once_inductor_is_imported():
    code = "import valsuite.backends.inductor_backend, torch.utils.cpp_extension"
    env = dict(os.environ, CUDA_HOME="/usr")   # a toolkit 'found' on a machine without a GPU
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0 and "No CUDA runtime" not in result.stderr, result.stderr


# -- sweeps ---------------------------------------------------------------------------------------
def _sweep_settings(tmp_path, *argv: str):
    from valsuite.cli.main_cli import build_parser
    from valsuite.options.job import JobOptions
    from valsuite.sweep import Settings

    job = JobOptions.from_args(build_parser().parse_args(["--results-dir", str(tmp_path / "r"), *argv]))
    return Settings(job=job, dataset=None)


def test_sweep_says_which_configuration_runs_and_shows_no_scratch_paths(tmp_path, capsys):
    from valsuite.sweep import sweep, user_lines

    settings = _sweep_settings(tmp_path, "--num_samples", "8")
    seen = []

    def runner(cmd, timeout, env=None):
        seen.append(capsys.readouterr().out)    # what the user saw before this child ran
        return 1, "error: boom\n"

    sweep(["resnet18"], ["torch"], ["fp32"], [1, 2], "cpu", settings, runner=runner)
    assert seen[0].rstrip().endswith("[1/2] resnet18 torch fp32 b1 (cpu): running")
    assert seen[1].rstrip().endswith("[2/2] resnet18 torch fp32 b2 (cpu): running")
    text = "INFO valsuite: record written: /tmp/valsuite-sweep-1x/results/r.json\nerror: real problem\n"
    assert user_lines(text) == "error: real problem\n"


def test_sweep_with_an_int8_row_excludes_calibration_images_from_every_row(tmp_path):
    from valsuite.sweep import Config, command, sweep_job

    settings = _sweep_settings(tmp_path)
    data = tmp_path / "val"
    with_int8 = sweep_job(settings.job, ["fp32", "int8"], data)
    assert with_int8.precision.calib_exclude and not settings.job.precision.calib_exclude
    assert sweep_job(settings.job, ["fp32", "fp16"], data) is settings.job
    assert sweep_job(settings.job, ["fp32", "int8"], None) is settings.job
    settings.job = with_int8
    settings.dataset = data
    cmd = command(Config("resnet18", "random", "onnxruntime", "fp32", 8, "cpu"), settings, tmp_path / "o.json",
                  tmp_path / "s")
    assert "--calib-exclude" in cmd and "int8" not in cmd     # the fp32 child, told to exclude
