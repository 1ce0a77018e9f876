"""main.py --compare: torch FP32 against onnxruntime candidates, tables, record, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from valsuite.cli.common import run_script
from valsuite.cli.main_cli import main
from valsuite.errors import ValsuiteError
from valsuite.parity import (Candidate, CompareConfig, Threshold, check_thresholds, decision_table,
                             default_candidates, equality_table, parse_candidates, parse_fail_under,
                             random_batches, rank_table, render_tables, run_compare)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SAMPLE = SHARED / "imagenet-sample" / "val"


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("weights")


@pytest.fixture(scope="module")
def fp32_run(weights_dir):
    """torch vs onnxruntime FP32 on 13 random inputs in batches of 5 (a partial last batch)."""
    cfg = CompareConfig(network="efficientnet_lite0", batch_size=5, num_samples=13, rtol=1e-3,
                        candidates=[Candidate("onnxruntime", "fp32", "cpu")], weights_dir=weights_dir,
                        progress=False, workers=0)
    return run_compare(cfg)


def test_fp32_onnxruntime_matches_torch(fp32_run):
    record, changes = fp32_run
    (cand,) = record["candidates"]
    parity = cand["parity"]
    assert record["kind"] == "compare" and record["num_images"] == 13
    assert parity["num_samples"] == 13 and parity["num_elements"] == 13 * 1000
    assert parity["top1_agreement_pct"] == 100.0 and changes == {"onnxruntime:fp32": []}
    assert parity["top5_overlap_pct"] == 100.0
    assert parity["isclose_pct"] > 99.0
    assert parity["abs_error"]["max"] < 1e-3
    assert all(r["disagreement_pct"] == 0.0 for r in parity["ranks"][:5])
    assert record["reference"]["backend"] == "torch" and record["reference"]["prec1"] is None


def test_tables_show_the_record_numbers(fp32_run):
    record, _ = fp32_run
    parity = record["candidates"][0]["parity"]
    text = render_tables(record)
    assert "equality (%)" in text and "TOP 10 MAE / disagreement" in text
    row = next(line for line in equality_table(record).splitlines() if line.startswith("| onnxruntime:fp32"))
    assert f"{parity['isclose_pct']:.3f}" in row
    assert f"{parity['abs_error']['p99']:.3g}" in row
    decisions = decision_table(record)
    assert "100.000" in decisions and "0 / 13" in decisions
    ranks = rank_table(record).splitlines()[2:]
    assert len(ranks) == 10
    for line, rank in zip(ranks, parity["ranks"]):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == str(rank["rank"])
        assert cells[1] == f"{rank['mae']:.3g} / {rank['disagreement_pct']:.2f}"


def test_cli_record_and_exit_codes(weights_dir, tmp_path, capsys):
    base = ["--compare", "--num_samples", "3", "--batch_size", "2", "--candidates", "onnxruntime:fp32",
            "--weights-dir", str(weights_dir), "--results-dir", str(tmp_path / "results"), "--no-progress",
            "--workers", "0"]
    out_json = tmp_path / "parity.json"
    assert run_script(main, base + ["--output-json", str(out_json), "--fail-under", "top1_agreement=99.0"]) == 0
    printed = capsys.readouterr().out
    record = json.loads(out_json.read_text())
    assert record["kind"] == "compare" and record["fail_under"]["failures"] == []
    changed = out_json.with_name(record["top1_changed_file"])
    assert json.loads(changed.read_text())["candidates"] == {"onnxruntime:fp32": []}
    assert len(list((tmp_path / "results").glob("*.json"))) == 2     # record + its change list
    assert f"{record['candidates'][0]['parity']['isclose_pct']:.3f}" in printed
    # a threshold that cannot be met: exit 1, failure recorded
    assert run_script(main, base + ["--output-json", str(out_json), "--fail-under", "isclose=100.5"]) == 1
    record = json.loads(out_json.read_text())
    assert record["fail_under"]["failures"] and "isclose" in record["fail_under"]["failures"][0]
    assert "FAIL under threshold" in capsys.readouterr().out


@pytest.mark.parametrize("extra", [["--fail-under", "nonsense=3"], ["--fail-under", "prec1=70"],
                                   ["--candidates", "nosuchengine:fp32"], ["--dataset", "/nonexistent"]])
def test_cli_user_errors_exit_2(extra, tmp_path, capsys):
    argv = ["--compare", "--num_samples", "2", "--weights-dir", str(tmp_path), "--no-progress", *extra]
    if "--candidates" not in extra:
        argv += ["--candidates", "onnxruntime:fp32"]
    assert run_script(main, argv) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_parse_candidates_and_thresholds():
    cands = parse_candidates("ort:int8, onnxruntime:fp32,onnxruntime", "cpu")
    assert [c.name for c in cands] == ["onnxruntime:int8", "onnxruntime:fp32"]
    assert all(c.device == "cpu" and c.explicit for c in cands)
    ths = parse_fail_under("top1_agreement=99,onnxruntime:int8:top1_agreement=97.5")
    assert ths == [Threshold("top1_agreement", 99.0), Threshold("top1_agreement", 97.5, "onnxruntime:int8")]
    with pytest.raises(ValsuiteError):
        parse_fail_under("top1_agreement")
    with pytest.raises(ValsuiteError):
        parse_fail_under("top1_agreement=abc")


def test_check_thresholds_reads_the_record():
    record = {"candidates": [
        {"name": "onnxruntime:fp32", "parity": {"top1_agreement_pct": 100.0, "isclose_pct": 99.9}, "prec1": None},
        {"name": "onnxruntime:int8", "parity": {"top1_agreement_pct": 97.0, "isclose_pct": 3.0}, "prec1": None},
    ]}
    assert check_thresholds(record, [Threshold("top1_agreement", 96.0)]) == []
    fails = check_thresholds(record, [Threshold("top1_agreement", 98.0)])
    assert fails == ["onnxruntime:int8: top1_agreement 97 < 98"]
    assert check_thresholds(record, [Threshold("top1_agreement", 98.0, "onnxruntime:fp32")]) == []
    # a gate on a candidate that was not compared fails rather than passing by omission
    assert check_thresholds(record, [Threshold("isclose", 1.0, "tensorrt:fp16")])
    assert check_thresholds(record, [Threshold("prec1", 1.0)])   # not measured -> failure


def test_default_candidates_say_why_they_skip():
    found, skipped = default_candidates("cpu")
    names = [c.name for c in found]
    assert "torch:fp32" not in names and "onnxruntime:fp32" in names
    assert all(not c.explicit for c in found)
    reasons = {s["candidate"]: s["reason"] for s in skipped}
    assert "torch:fp16" in reasons and reasons["torch:fp16"]
    for name in ("onnxruntime:fp16", "onnxruntime:int8"):
        assert name in names or reasons.get(name)


def test_random_inputs_do_not_depend_on_batch_size():
    shape = (3, 4, 4)
    a = np.concatenate([b.x.numpy() for b in random_batches(7, shape, 3, seed=1)])
    b = np.concatenate([b.x.numpy() for b in random_batches(7, shape, 7, seed=1)])
    c = np.concatenate([b.x.numpy() for b in random_batches(7, shape, 7, seed=2)])
    assert a.shape == (7, *shape) and np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"shared sample images not found at {SAMPLE}")
def test_images_fp32_prec_and_change_list(weights_dir, tmp_path):
    out_json = tmp_path / "img.json"
    code = run_script(main, ["--compare", "--val_dataset", "--dataset", str(SAMPLE), "--candidates",
                             "onnxruntime:fp32", "--batch_size", "50", "--weights-dir", str(weights_dir),
                             "--results-dir", str(tmp_path / "r"), "--output-json", str(out_json),
                             "--no-progress", "--fail-under", "top1_agreement=99.5,delta_prec1=-0.5"])
    record = json.loads(out_json.read_text())
    cand = record["candidates"][0]
    assert record["num_images"] == 600 and cand["parity"]["num_samples"] == 600
    assert record["reference"]["prec1"] > 60 and abs(cand["delta_prec1"]) <= 0.5
    changes = json.loads(out_json.with_name(record["top1_changed_file"]).read_text())["candidates"]
    rows = changes["onnxruntime:fp32"]
    assert len(rows) == cand["parity"]["top1_changed"]
    assert all(re.match(r"n\d{8}/", row["image"]) for row in rows)
    assert code == (0 if cand["parity"]["top1_agreement_pct"] >= 99.5 else 1)


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"shared sample images not found at {SAMPLE}")
@pytest.mark.parametrize("precision, min_agreement, max_loss", [("fp16", 99.0, 0.5), ("int8", 90.0, 3.0)])
def test_reduced_precision_on_images_is_lower_but_sane(precision, min_agreement, max_loss, weights_dir, tmp_path):
    out_json = tmp_path / "img.json"
    code = run_script(main, ["--compare", "--val_dataset", "--dataset", str(SAMPLE), "--candidates",
                             f"onnxruntime:{precision}", "--batch_size", "50", "--weights-dir", str(weights_dir),
                             "--results-dir", str(tmp_path / "r"), "--output-json", str(out_json),
                             "--no-progress", "--fail-under", f"top1_agreement={min_agreement}"])
    record = json.loads(out_json.read_text())
    cand = record["candidates"][0]
    agreement = cand["parity"]["top1_agreement_pct"]
    assert min_agreement <= agreement <= 100.0 and code == 0
    assert cand["delta_prec1"] >= -max_loss
    assert cand["parity"]["num_samples"] == record["num_images"] == record["dataset"]["num_images"]
    if precision == "int8":
        assert cand["parity"]["isclose_pct"] < 50.0   # int8 logits are not close at rtol 1e-3


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"shared sample images (for calibration) not found at {SAMPLE}")
def test_localize_through_the_cli_on_int8(weights_dir, tmp_path, capsys):
    out_json = tmp_path / "loc.json"
    # random inputs; the INT8 variant calibrates on a seeded part of the sample folder
    code = run_script(main, ["--compare", "--inputs", "random", "--dataset", str(SAMPLE),
                             "--num_samples", "4", "--batch_size", "4", "--candidates",
                             "onnxruntime:int8", "--localize", "--localize-samples", "2",
                             "--weights-dir", str(weights_dir), "--results-dir", str(tmp_path / "r"),
                             "--output-json", str(out_json), "--no-progress"])
    assert code == 0
    loc = json.loads(out_json.read_text())["candidates"][0]["localize"]
    # the onnxslim-simplified export has 94 nodes: every one of their outputs is matched in the INT8 graph
    assert loc["matched_tensors"] >= 90 and loc["unmatched_tensors"] == 0 and loc["exceeding_tensors"] > 0
    assert loc["first_exceeding"] and loc["worst_rel_l2_added"]
    assert "where it departs from the FP32 ONNX" in capsys.readouterr().out
