"""The bad-input and misuse matrix (issue 12), through the real scripts.

Every case is a small input a new user or a hostile tester could give. Each must end with exit
code 2, exactly one `error:` line that names the offending thing, no traceback, and every input
file byte-identical afterwards (sha256 before and after). Cases that valsuite recovers from
(dot-files, a warm-up covering every batch, ...) are in RECOVERED: exit 0 and the right record.
Inputs are a few images copied from the shared sample; networks use --random-weights. Each case
runs in its own process (tests/cli_runner.py: forked from a server that imported torch once, or a
fresh `python main.py` with VALSUITE_TEST_SUBPROCESS=1).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from tests import cli_runner
from tests.conftest import REPO, SAMPLE_VAL, write_image

CLASSES = ("n01440764", "n01443537", "n01484850", "n01494475")   # first four of the sample
FAST = ["--no-progress", "--batch_size", "2", "--workers", "0", "--device", "cpu"]


@dataclass
class Case:
    """build(inp, out) -> (script, args, text the single error line must contain).
    `cli_todo`: the library side is done, the CLI wiring waits for issue 11 (strict xfail)."""

    name: str
    build: Callable[[Path, Path], tuple[str, list[str], str]]
    cli_todo: bool = False


def _dataset(inp: Path) -> Path:
    """Four one-image classes under inp/val: copies from the shared sample when it is there, else
    small generated JPEGs (the networks use random weights: only the plumbing is under test)."""
    root = inp / "val"
    for seed, wnid in enumerate(CLASSES):
        (root / wnid).mkdir(parents=True)
        if SAMPLE_VAL.is_dir():
            src = sorted((SAMPLE_VAL / wnid).iterdir())[0]
            shutil.copy2(src, root / wnid / src.name)
        else:
            write_image(root / wnid / f"{wnid}_0.JPEG", size=(64, 48), seed=seed)
    return root


def _validate(inp: Path, out: Path, *extra: str, network: str = "mobilenet_v2") -> list[str]:
    return ["-v", "--network", network, "--random-weights", "--dataset", str(inp / "val"),
            "--results-dir", str(out / "results"), "--weights-dir", str(out / "weights"), *FAST, *extra]


def _first_image(root: Path) -> Path:
    return sorted((root / CLASSES[0]).iterdir())[0]


def bomb_jpeg(src: Path, dst: Path, size: int = 14000) -> None:
    """A small file whose JPEG header says 14000 x 14000 (PIL's decompression-bomb guard)."""
    data = bytearray(src.read_bytes())
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = struct.pack(">HH", size, size)
            break
        i += 2 + length
    dst.write_bytes(bytes(data))


def _image_case(writer: Callable[[Path, Path], None], needle: str):
    def build(inp: Path, out: Path):
        root = _dataset(inp)
        target = root / CLASSES[1] / "bad.JPEG"
        writer(_first_image(root), target)
        return "main.py", _validate(inp, out), needle.format(path=target)
    return build


def _mapping_case(writer: Callable[[Path], None], needle: str):
    def build(inp: Path, out: Path):
        _dataset(inp)
        mapping = inp / "LOC_synset_mapping.txt"     # next to the dataset folder
        writer(mapping)
        return "main.py", _validate(inp, out), needle.format(path=mapping)
    return build


def _builtin_lines() -> list[str]:
    return (REPO / "valsuite" / "data" / "LOC_synset_mapping.txt").read_text().splitlines()


def _args_case(script: str, args: Callable[[Path, Path], list[str]], needle: str, data: bool = True):
    def build(inp: Path, out: Path):
        if data:
            _dataset(inp)
        return script, args(inp, out), needle
    return build


def _weights_case(content: Callable[[Path], None], needle: str, network: str = "mobilenet_v2"):
    def build(inp: Path, out: Path):
        _dataset(inp)
        weights = inp / "model.pth"
        content(weights)
        args = [a for a in _validate(inp, out, network=network) if a != "--random-weights"]
        return "main.py", [*args, "--weights", str(weights)], needle.format(path=weights)
    return build


def _with_file(path: Path, data: bytes, args: list[str]) -> list[str]:
    """Write an input file, then return the arguments (keeps the case table one expression)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return args


def _foreign_state_dict(path: Path) -> None:
    import torch

    torch.save({"foo": torch.zeros(2)}, path)


def _bad_records(record: dict | str, needle: str):
    def build(inp: Path, out: Path):
        folder = inp / "records"
        folder.mkdir()
        path = folder / "r.json"
        path.write_text(record if isinstance(record, str) else json.dumps(record))
        return "main.py", ["--report", "--results", str(folder), "--readme", str(out / "README.md"),
                           "--no-plots"], needle.format(path=path)
    return build


def _good_record() -> dict:
    return json.loads((REPO / "tests" / "fixtures" / "records" / "cpu_ort_fp32_b32.json").read_text())


CASES = [
    # images
    Case("random-bytes-image", _image_case(lambda s, d: d.write_bytes(os.urandom(2000)), "unreadable image {path}")),
    Case("truncated-jpeg", _image_case(lambda s, d: d.write_bytes(s.read_bytes()[:3000]), "unreadable image {path}")),
    Case("zero-byte-image", _image_case(lambda s, d: d.write_bytes(b""), "unreadable image {path}")),
    Case("text-named-jpeg", _image_case(lambda s, d: d.write_text("hello"), "unreadable image {path}")),
    Case("decompression-bomb", _image_case(bomb_jpeg, "unreadable image {path}: Image size (196000000 pixels)")),
    # dataset layout
    Case("unknown-wnid-folder", _args_case("main.py", lambda i, o: (i / "val" / "cats").mkdir() or _validate(i, o),
                                           "folder(s) are not ImageNet wnids")),
    Case("dataset-missing", _args_case("main.py", lambda i, o: _validate(i, o) + ["--dataset", str(i / "nope")],
                                       "dataset folder not found", data=False)),
    Case("dataset-is-a-file", _args_case("main.py", lambda i, o: _with_file(i / "val.tar", b"x", _validate(i, o) + [
        "--dataset", str(i / "val.tar")]),
                                         "is a file, not a folder", data=False)),
    Case("empty-class-folders", _args_case("main.py", lambda i, o: (i / "val" / CLASSES[0]).mkdir(parents=True) or
                                           _validate(i, o), "no images found", data=False)),
    # synset mapping
    Case("mapping-999-lines", _mapping_case(lambda p: p.write_text("\n".join(
        line for k, line in enumerate(_builtin_lines()) if k != 500) + "\n"), "synset mapping {path}:501")),
    Case("mapping-reordered", _mapping_case(lambda p: p.write_text("\n".join(
        [_builtin_lines()[1], _builtin_lines()[0], *_builtin_lines()[2:]]) + "\n"), "synset mapping {path}:1")),
    Case("mapping-binary", _mapping_case(lambda p: p.write_bytes(b"\x00\x01" + os.urandom(500)),
                                         "synset mapping {path} is a binary file")),
    Case("mapping-latin1", _mapping_case(lambda p: p.write_bytes(b"n01440764 caf\xe9\n"),
                                         "synset mapping {path} is not UTF-8")),
    Case("mapping-garbage-line", _mapping_case(lambda p: p.write_text("hello world\n"), "{path}:1: not a 'wnid name'")),
    # weights and networks
    Case("weights-random-bytes", _weights_case(lambda p: p.write_bytes(os.urandom(3000)), "cannot load weights file {path}")),
    Case("weights-zero-bytes", _weights_case(lambda p: p.write_bytes(b""), "cannot load weights file {path}")),
    Case("weights-other-network", _weights_case(_foreign_state_dict, "weights file {path} does not fit")),
    Case("weights-missing", _args_case("main.py", lambda i, o: [a for a in _validate(i, o) if a != "--random-weights"]
                                       + ["--weights", str(i / "none.pth")], "weights file not found")),
    Case("weights-enum-on-efficientnet", _args_case("main.py", lambda i, o: [
        a for a in _validate(i, o, network="efficientnet_lite0") if a != "--random-weights"]
        + ["--weights", "IMAGENET1K_V2"], "efficientnet_lite0 has no weights named 'IMAGENET1K_V2'")),
    Case("weights-bad-enum", _args_case("main.py", lambda i, o: [a for a in _validate(i, o) if a != "--random-weights"]
                                        + ["--weights", "IMAGENET1K_V9"], "mobilenet_v2 has no weights 'IMAGENET1K_V9'")),
    Case("network-yolo", _args_case("main.py", lambda i, o: _validate(i, o, network="yolo"),
                                    "unknown network 'yolo' (the YOLO classifiers are yolov8n-cls")),
    Case("network-typo", _args_case("main.py", lambda i, o: _validate(i, o, network="resnet05"),
                                    "unknown network 'resnet05' (did you mean resnet50?)")),
    Case("yolo-without-checkpoint", _args_case("main.py", lambda i, o: [
        a for a in _validate(i, o, network="yolov8n-cls") if a != "--random-weights"],
        "yolov8n-cls needs a local checkpoint (download yolov8n-cls.pt")),
    Case("onnx-transform-missing-weights", _args_case("onnx_transform.py", lambda i, o: [
        "--network", "resnet18", "--weights", str(i / "none.pth"), "--weights-dir", str(o)],
        "weights file not found", data=False)),
    Case("onnx-transform-old-opset", _args_case("onnx_transform.py", lambda i, o: [
        "--network", "resnet18", "--random-weights", "--opset", "11", "--weights-dir", str(o)],
        "opset 11 is too old", data=False)),
    Case("onnx-transform-wrong-shape", _args_case("onnx_transform.py", lambda i, o: [
        "--network", "resnet18", "--random-weights", "--input_shape", "-1", "4", "224", "224",
        "--weights-dir", str(o)], "does not match resnet18's input", data=False)),
    # run options
    Case("batch-size-zero", _args_case("main.py", lambda i, o: _validate(i, o) + ["--batch_size", "0"],
                                       "--batch_size must be at least 1")),
    Case("workers-negative", _args_case("main.py", lambda i, o: _validate(i, o) + ["--workers", "-1"],
                                        "--workers must be 0 or more")),
    Case("num-samples-zero", _args_case("main.py", lambda i, o: [
        a for a in _validate(i, o) if a not in ("--dataset", str(i / "val"))] + [
        "--synthetic", "--num-samples", "0"], "must be at least 1, got 0", data=False)),
    Case("unknown-backend", _args_case("main.py", lambda i, o: _validate(i, o) + ["--backend", "nosuch"],
                                       "unknown backend 'nosuch'")),
    Case("torch-fp16-on-cpu", _args_case("main.py", lambda i, o: _validate(i, o) + ["--precision", "fp16"],
                                         "torch fp16 runs on CUDA only")),
    Case("cache-is-a-file", _args_case("main.py", lambda i, o: _with_file(i / "c", b"x", _validate(i, o) + [
        "--cache", str(i / "c")]), "is a file, not a folder")),
    Case("decode-gpu-on-cpu", _args_case("main.py", lambda i, o: _validate(i, o) + ["--decode", "gpu"],
                                         "--decode gpu needs --device cuda")),
    Case("calib-dataset-missing", _args_case("main.py", lambda i, o: _validate(i, o) + [
        "--backend", "onnxruntime", "--precision", "int8", "--calib-dataset", str(i / "nope")],
        "calibration folder not found")),
    Case("calibration-list-bad-entry", _args_case("main.py", lambda i, o: _with_file(
        i / "val" / "calibration_list.txt", b"n01440764/gone.JPEG\n", _validate(i, o) + [
            "--backend", "onnxruntime", "--precision", "int8"]), "calibration image not found: n01440764/gone.JPEG")),
    # output locations: checked before the first image is read
    Case("results-dir-under-a-file", _args_case("main.py", lambda i, o: _with_file(i / "f", b"x", _validate(i, o) + [
        "--results-dir", str(i / "f" / "results")]), "--results-dir")),
    Case("output-json-is-a-folder", _args_case("main.py", lambda i, o: _validate(i, o) + ["--output-json", str(i)],
                                               "is a folder; give a file name")),
    Case("weights-dir-is-a-file", _args_case("main.py", lambda i, o: _with_file(i / "w", b"x", _validate(i, o) + [
        "--weights-dir", str(i / "w"), "--backend", "onnxruntime"]), "--weights-dir")),
    Case("cache-under-a-file", _args_case("main.py", lambda i, o: _with_file(i / "f", b"x", _validate(i, o) + [
        "--cache", str(i / "f" / "c")]), "--cache")),
    Case("report-plots-under-a-file", _args_case("main.py", lambda i, o: _with_file(i / "f", b"x", [
        "--report", "--results", str(REPO / "tests" / "fixtures" / "records"), "--plots", str(i / "f" / "p")]),
        "--plots", data=False)),
    Case("report-readme-is-a-folder", _args_case("main.py", lambda i, o: [
        "--report", "--results", str(REPO / "tests" / "fixtures" / "records"), "--readme", str(i), "--no-plots"],
        "--readme", data=False)),
    # seed spellings and class lists
    Case("onnx-transform-pretrained", _args_case("onnx_transform.py", lambda i, o: [
        "--network", "resnet18", "--pretrained", "--weights-dir", str(o)],
        "--pretrained is not an option of onnx_transform.py: pretrained weights are the default", data=False)),
    Case("class-list-missing", _args_case("main.py", lambda i, o: _validate(i, o) + ["--class-list", str(i / "c.txt")],
                                          "class list not found")),
    Case("class-list-with-synthetic", _args_case("main.py", lambda i, o: [
        "-v", "--synthetic", "--class-list", str(i / "c.txt"), *FAST], "--class-list has no effect", data=False)),
    Case("class-list-lacks-a-folder", _args_case("main.py", lambda i, o: _with_file(i / "c.txt", b"n01440764 tench\n",
                                                 _validate(i, o) + ["--class-list", str(i / "c.txt")]),
                                                 "are not classes of the class list")),
    Case("calib-exclude-without-dataset", _args_case("main.py", lambda i, o: [
        "-v", "--synthetic", "--calib-exclude", *FAST], "--calib-exclude has no effect", data=False)),
    Case("no-combination-runs", _args_case("main.py", lambda i, o: _validate(i, o) + [
        "--backend", "onnxruntime,torch", "--precision", "bf16"],
        "no requested backend/precision combination can run here: onnxruntime:bf16 on cpu")),
    Case("compare-int8-without-images", _args_case("main.py", lambda i, o: [
        "--compare", "--candidates", "onnxruntime:fp16,onnxruntime:int8", "--num_samples", "4", "--network",
        "mobilenet_v2", "--random-weights", "--weights-dir", str(o), "--results-dir", str(o), "--no-progress"],
        "candidate onnxruntime:int8: int8 calibration needs images", data=False)),
    # report input
    Case("report-not-a-record", _bad_records({"hello": 1}, "run record {path}: not a run record of schema 1")),
    Case("report-prec1-text", _bad_records(_good_record() | {"prec1": "abc"}, "run record {path}: field 'prec1'")),
    Case("report-latency-text", _bad_records(_good_record() | {"latency_all_ms": {
        **_good_record()["latency_all_ms"], "p99": "slow"}}, "run record {path}: field latency_all_ms.p99")),
    Case("report-batch-bool", _bad_records(_good_record() | {"batch_size": True}, "field 'batch_size'")),
    Case("report-corrupt-json", _bad_records('{"schema_version": 1, "kind": ', "run record is corrupt: {path}")),
]


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under root (the inputs must be byte-identical after a failed run)."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def assert_one_error(result: cli_runner.Result, needle: str) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert needle in errors[0], (needle, errors[0])
    assert result.returncode == 2, result.stderr[-3000:]


def _params(cases: list[Case]) -> list:
    todo = pytest.mark.xfail(strict=True, reason="CLI wiring waits for issue 11 (typed option groups)")
    return [pytest.param(c, id=c.name, marks=[todo] if c.cli_todo else []) for c in cases]


@pytest.mark.parametrize("case", _params(CASES))
def test_bad_input_is_one_line_exit_2_and_changes_no_input(case: Case, tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    script, args, needle = case.build(inp, out)
    before = snapshot(inp)
    result = cli_runner.run(script, args, tmp_path)
    assert_one_error(result, needle)
    assert snapshot(inp) == before, "an input file changed"


@pytest.mark.parametrize("name", ["mapping-999-lines", "decompression-bomb"])
def test_the_real_scripts_behave_the_same(name: str, tmp_path: Path, monkeypatch) -> None:
    """Two cases as a fresh `python main.py ...` process: the fork server changes nothing."""
    monkeypatch.setenv("VALSUITE_TEST_SUBPROCESS", "1")
    case = next(c for c in CASES if c.name == name)
    test_bad_input_is_one_line_exit_2_and_changes_no_input(case, tmp_path)


# -- misuses valsuite recovers from: exit 0, and the record says what happened ------------------
def _records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))]


def test_dot_files_are_skipped_and_counted(tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    root = _dataset(inp)
    (root / CLASSES[0] / "._resource_fork.JPEG").write_bytes(b"\x00\x05\x16\x07 mac resource fork")
    (root / CLASSES[1] / ".hidden.JPEG").write_bytes(b"not an image")
    before = snapshot(inp)
    result = cli_runner.run("main.py", _validate(inp, out), tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    [record] = _records(out)
    assert record["num_images"] == 4 and record["dataset"]["ignored_files"] == 2
    assert snapshot(inp) == before


def test_warmup_covering_every_batch_still_times_one(tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    _dataset(inp)
    result = cli_runner.run("main.py", _validate(inp, out, "--warmup", "10"), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--warmup 10 covers all 2 batch(es)" in result.stderr
    [record] = _records(out)
    assert record["latency_all_ms"]["count"] == 1 and record["latency_all_ms"]["mean"] is not None


def test_unsupported_combinations_are_listed_and_the_rest_run(tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    _dataset(inp)
    result = cli_runner.run("main.py", _validate(inp, out, "--precision", "fp32,bf16"), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("skipped torch:bf16 on cpu: torch bf16 runs on CUDA only")
    assert [(r["backend"], r["precision"]) for r in _records(out)] == [("torch", "fp32")]
    assert "| Vanilla (torch) | fp32" in result.stdout


def test_custom_class_list_only_when_asked_and_recorded(tmp_path: Path) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    _dataset(inp)
    (inp / "LOC_synset_mapping.txt").write_text("".join(f"{w} class {k}\n" for k, w in enumerate(reversed(CLASSES))))
    refused = cli_runner.run("main.py", _validate(inp, out), tmp_path)
    assert_one_error(refused, "LOC_synset_mapping.txt:1: n01494475 where ImageNet's list has n01440764")
    result = cli_runner.run("main.py", _validate(inp, out, "--class-list", str(inp / "LOC_synset_mapping.txt")),
                            tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    [record] = _records(out)
    assert record["dataset"]["custom_classes"] is True
    assert record["dataset"]["mapping"] == str(inp / "LOC_synset_mapping.txt")


def test_bare_report_prints_and_leaves_the_readme_alone(tmp_path: Path) -> None:
    readme = REPO / "README.md"
    before = hashlib.sha256(readme.read_bytes()).hexdigest()
    result = cli_runner.run("main.py", ["--report", "--results", str(REPO / "tests" / "fixtures" / "records"),
                                        "--no-plots"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "valsuite:results" in result.stdout or "| " in result.stdout
    assert hashlib.sha256(readme.read_bytes()).hexdigest() == before


def test_int8_exclusions_apply_to_every_row_and_a_corrupt_calibration_cache_is_rebuilt(tmp_path: Path) -> None:
    """Issue item 4: fp32 and int8 rows of one run evaluate the same images; then a corrupt
    calibration cache is recomputed with one log line, no traceback."""
    inp, out = tmp_path / "in", tmp_path / "out"
    _dataset(inp)
    args = _validate(inp, out, "--backend", "onnxruntime", "--precision", "fp32,int8", "--calib-size", "2")
    result = cli_runner.run("main.py", args, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _records(out)
    assert sorted(r["precision"] for r in rows) == ["fp32", "int8"]
    assert {r["num_images"] for r in rows} == {2}
    assert len({r["dataset"]["file_list_sha256"] for r in rows}) == 1
    caches = list((out / "weights" / "calibration").glob("*.int8-minmax.calib.json"))
    assert len(caches) == 1
    caches[0].write_text('{"key": "x", "tensors": {')
    again = cli_runner.run("main.py", _validate(inp, out, "--backend", "onnxruntime", "--precision", "int8",
                                                "--calib-size", "2"), tmp_path)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr[-3000:]
    assert "corrupt" in again.stderr


def test_fp16_parity_needs_no_images(tmp_path: Path) -> None:
    """--compare with random inputs: FP16 runs (its range check on seeded synthetic images)."""
    out = tmp_path / "out"
    result = cli_runner.run("main.py", ["--compare", "--candidates", "onnxruntime:fp16", "--num_samples", "4",
                                        "--batch_size", "2", "--network", "mobilenet_v2", "--random-weights",
                                        "--weights-dir", str(out), "--results-dir", str(out), "--no-progress"],
                            tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    [record] = [json.loads(p.read_text()) for p in out.glob("*_compare_*.json") if "top1" not in p.name]
    assert [c["name"] for c in record["candidates"]] == ["onnxruntime:fp16"] and record["skipped"] == []
    assert "fp16 ranges measured on 32 seeded synthetic images" in result.stderr
