"""--head and --segmentation through main.py's typed option groups."""

from __future__ import annotations

import pytest

from valsuite.cli.main_cli import build_parser, main
from valsuite.errors import ValsuiteError
from valsuite.options.job import JobOptions


def job_of(*argv: str) -> JobOptions:
    return JobOptions.from_args(build_parser().parse_args(list(argv)))


def test_head_group_reaches_the_backend_and_the_record_key():
    job = job_of("-v", "--synthetic", "--head", "topk")
    assert job.backend_options("onnxruntime", None).head.name == "topk"
    assert "--head" in job.key_argv() and job.options_key() != job_of("-v", "--synthetic").options_key()
    assert job_of("-v").backend_options("torch", None).head.is_identity      # default: logits


def test_segmentation_group_parses_and_validates():
    from valsuite.cli.segmentation_mode import study_sizes
    from valsuite.segmentation.study import STUDY_SIZES

    job = job_of("--segmentation", "--input_sizes", "384x576,768x1344", "--seg-heads", "fused-argmax",
                 "--fuse-scale", "0.25")
    assert study_sizes(job) == ((384, 576), (768, 1344)) and study_sizes(job_of("--segmentation")) == STUDY_SIZES
    assert job.segmentation.heads() == ("fused-argmax",)
    with pytest.raises(ValsuiteError, match="HxW"):
        study_sizes(job_of("--segmentation", "--input_sizes", "384y"))
    with pytest.raises(ValsuiteError, match="fuse-scale"):
        job_of("--segmentation", "--fuse-scale", "2")
    with pytest.raises(ValsuiteError, match="unknown segmentation head"):
        job_of("--segmentation", "--seg-heads", "topk")


@pytest.mark.parametrize("argv, message", [
    (["--compare", "--head", "topk"], "logits head only"),
    (["-v", "--synthetic", "--fuse-scale", "0.25"], "without --segmentation"),
    (["-v", "--synthetic", "--network", "lraspp_mobilenet_v3_large", "--random-weights"], "segmentation network"),
    (["--segmentation", "--network", "resnet50"], "needs a segmentation network"),
    (["--segmentation", "--network", "lraspp_mobilenet_v3_large", "--head", "topk"], "no effect with --segmentation"),
    (["--sweep", "--fuse-scale", "0.25"], "no effect with --sweep"),
    (["--segmentation", "--network", "lraspp_mobilenet_v3_large", "--shard", "0/2"], "no effect with --segmentation"),
])
def test_options_a_mode_does_not_use_are_refused(argv, message, capsys, tmp_path):
    from valsuite.cli.common import run_script

    assert run_script(main, [*argv, "--results-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_segmentation_mode_writes_records_and_prints_the_table(tmp_path, capsys):
    from valsuite.results.record import load_records

    argv = ["--segmentation", "--network", "lraspp_mobilenet_v3_large", "--random-weights", "--backend",
            "onnxruntime", "--input_sizes", "64x64", "--seg-heads", "host-argmax,fused-argmax", "--num_samples",
            "1", "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "rec")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "#### Segmentation heads: lraspp_mobilenet_v3_large (random), onnxruntime" in out
    assert "3 fused-argmax (x0.5)" in out
    records = load_records(tmp_path / "rec")
    assert sorted(r["head"] for r in records) == ["fused-argmax", "host-argmax"]
    assert all(r["batch_size"] == 1 and r["num_images"] == 1 and r["options_key"] for r in records)
