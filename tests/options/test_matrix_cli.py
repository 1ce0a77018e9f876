"""The matrix options on the command line: --input_size/--input_sizes, --percentiles, --spin-wait,
--export-times, --profile-layers, timeline options; refused where they mean nothing."""

from __future__ import annotations

import json

import pytest

from valsuite.cli.main_cli import main
from valsuite.errors import ValsuiteError
from valsuite.results.record import load_records

COMMON = ["--network", "mobilenet_v3_small", "--random-weights", "--synthetic", "--num_samples", "4",
          "--batch_size", "2", "--workers", "0", "--no-progress"]


def test_validate_with_every_measurement_option(tmp_path):
    times = tmp_path / "times.json"
    rc = main(["-v", *COMMON, "--results-dir", str(tmp_path / "r"), "--weights-dir", str(tmp_path / "w"),
               "--input_size", "96x128", "--percentiles", "50,95", "--export-times", str(times),
               "--profile-layers", "3", "--spin-wait", "--monitor-interval-ms", "20"])
    assert rc == 0
    [record] = load_records(tmp_path / "r")
    assert record["input_size"] == [96, 128] and record["native_input_size"] is False
    assert record["latency_model_ms"]["p95"] is not None and record["timing"]["spin_wait"] is True
    assert len(record["layer_profile"]["top"]) == 3 and record["utilisation"]["interval_ms"] == 20
    assert len(json.loads(times.read_text())["iterations"]) == record["timed_batches"]


def test_several_rows_export_one_file_each_and_monitor_can_be_off(tmp_path):
    times = tmp_path / "t.json"
    main(["-v", *COMMON, "--backend", "torch,onnxruntime", "--results-dir", str(tmp_path / "r"),
          "--weights-dir", str(tmp_path / "w"), "--export-times", str(times), "--no-monitor", "--profile-layers"])
    assert sorted(p.name for p in tmp_path.glob("t_*.json")) == ["t_onnxruntime_fp32.json", "t_torch_fp32.json"]
    records = load_records(tmp_path / "r")
    assert all(r["utilisation"] == {"source": None, "unavailable": "off"} for r in records)
    assert all(len(r["layer_profile"]["top"]) == 15 for r in records)    # --profile-layers alone: 15


@pytest.mark.parametrize("argv,message", [
    (["--input_size", "384"], None),
    (["--input_size", "3x"], "HxW"),
    (["--percentiles", "50,abc"], "not a number"),
    (["--profile-layers", "0"], "at least 1"),
])
def test_bad_values_are_one_line_errors(tmp_path, argv, message):
    args = ["-v", *COMMON, "--results-dir", str(tmp_path / "r"), "--weights-dir", str(tmp_path / "w"), *argv]
    if message is None:                                   # a single number means a square size
        assert main(args) == 0 and load_records(tmp_path / "r")[0]["input_size"] == [384, 384]
        return
    with pytest.raises(ValsuiteError, match=message):
        main(args)


def test_options_refused_where_they_mean_nothing(tmp_path):
    with pytest.raises(ValsuiteError, match="--input_size has no effect with --compare"):
        main(["--compare", "--network", "mobilenet_v3_small", "--random-weights", "--input_size", "96x96"])
    with pytest.raises(ValsuiteError, match="--profile-layers has no effect with --compare"):
        main(["--compare", "--network", "mobilenet_v3_small", "--random-weights", "--profile-layers", "3"])
    with pytest.raises(ValsuiteError, match="--export-times has no effect with --sweep"):
        main(["--sweep", "--networks", "resnet18", "--backends", "torch", "--batch_sizes", "1",
              "--export-times", str(tmp_path / "t.json")])
    with pytest.raises(ValsuiteError, match="--input_size has no effect with --sweep"):
        main(["--sweep", "--networks", "resnet18", "--backends", "torch", "--batch_sizes", "1",
              "--input_size", "96x96"])


def test_onnx_transform_follows_the_input_shape(tmp_path):
    from valsuite.cli.onnx_transform_cli import main as export_main
    from valsuite.fileio import read_sidecar

    assert export_main(["--network", "mobilenet_v3_small", "--random-weights", "--weights-dir", str(tmp_path),
                        "--input_shape", "-1", "3", "160", "192"]) == 0
    [onnx] = tmp_path.glob("*.onnx")
    assert onnx.name == "mobilenet_v3_small_random_160x192_dyn.onnx"
    assert read_sidecar(onnx)["input_shape"] == [-1, 3, 160, 192]


@pytest.mark.slow
def test_reduced_sweep_over_sizes_runs_and_resumes(tmp_path, capsys):
    argv = ["--sweep", "--networks", "mobilenet_v3_small,shufflenet_v2_x1_0", "--backends", "torch",
            "--precisions", "fp32", "--batch_sizes", "2", "--input_sizes", "224x224,128x160", "--random-weights",
            "--synthetic", "--num_samples", "4", "--workers", "0", "--results-dir", str(tmp_path / "r"),
            "--weights-dir", str(tmp_path / "w")]
    assert main(argv) == 0
    records = load_records(tmp_path / "r")
    assert sorted((r["network"], tuple(r["input_size"])) for r in records) == [
        ("mobilenet_v3_small", (128, 160)), ("mobilenet_v3_small", (224, 224)),
        ("shufflenet_v2_x1_0", (128, 160)), ("shufflenet_v2_x1_0", (224, 224))]
    assert all(r["gflops"] > 0 for r in records)
    capsys.readouterr()
    assert main(argv) == 0                                   # resumes: every size already recorded
    assert "sweep: 0 to run, 4 already recorded" in capsys.readouterr().out
