"""benchmarks/gpu_speed.py's report: targets met/missed from rows, and the README section from records."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.conftest import REPO
from valsuite.errors import ValsuiteError

_spec = importlib.util.spec_from_file_location("gpu_speed", REPO / "benchmarks" / "gpu_speed.py")
gpu_speed = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("gpu_speed", gpu_speed)        # dataclasses look their module up
_spec.loader.exec_module(gpu_speed)
Row = gpu_speed.Row
FACTS = {"jpeg_config": "inductor:fp16:b256:peak", "read_threads": 4, "workers": 16, "network": "resnet50",
         "num_images": 100, "source": "x"}


def _rows(jpeg_gpu=14_000.0, null_cached=200_000.0, sweep=None):
    jc = FACTS["jpeg_config"]
    rows = [Row("torch:fp16:b256", "model-only", 1, 20_000.0, extra={"precision": "fp16"}),
            Row(jc, "model-only", 1, 38_000.0, extra={"precision": "fp16", "compile_s": 50.0}),
            Row("inductor:bf16:b256:peak", "model-only", 1, 39_000.0, extra={"precision": "bf16"}),
            Row(jc, "e2e jpeg-gpu", 1, jpeg_gpu, extra={"kind": "jpeg-gpu"}),
            Row(jc, "e2e jpeg-cpu", 1, 13_000.0, extra={"kind": "jpeg-cpu"}),
            Row(jc, "plain", 1, 1_200.0, extra={"kind": "plain"}),
            Row("null (cuda)", "e2e cached", 1, null_cached, extra={"kind": "cached"}),
            Row("x", "cpu target", 1, 30.0, extra={"kind": "cpu-target", "ratio": 0.93})]
    rows.append(Row("-", "sweep", note="not run: 1 GPU visible (no 2-GPU machine lent)",
                    extra={"kind": "sweep"} | ({"speedup": sweep} if sweep else {})))
    return rows


def test_targets_say_met_missed_and_not_run_with_their_numbers():
    table = gpu_speed.targets(_rows(), FACTS)
    got = {t[0].split(" (")[0].split(",")[0]: t[1:] for t in table}
    assert table[0][1:] == ["11.667", ">= 4", "met"]                        # GPU decode / plain torchvision
    assert table[1][1:] == ["1.077", ">= 1", "met"]                         # GPU decode / CPU decode
    assert got["best FP16 model-only"] == ["0.317", ">= 0.30", "met"]        # bf16 is not counted as FP16
    assert got["null-backend cached pipeline / best model-only"][2] == "met"   # vs the best of all: 39k
    assert got["sweep of 8 configurations"][2].startswith("not run: 1 GPU visible")
    assert got["CPU"] == ["0.930", ">= 0.9", "met"]
    slow = gpu_speed.targets(_rows(jpeg_gpu=4_000.0, null_cached=100_000.0, sweep=1.5), FACTS)
    assert [t[3] for t in slow] == ["missed", "missed", "met", "missed", "missed", "met"]


def test_configs_and_ceiling_table():
    configs = gpu_speed.parse_configs("torch:fp16:256, inductor:bf16:256:peak,torch:fp16:1:graph")
    assert [c.label for c in configs] == ["torch:fp16:b256", "inductor:bf16:b256:peak", "torch:fp16:b1:graph"]
    with pytest.raises(ValsuiteError):
        gpu_speed.parse_configs("torch:fp16:256:fast")
    table = gpu_speed.ceiling_table(_rows())
    assert table[1] == ["inductor:fp16:b256:peak", "38,000", "0.317", "50.0"]


def test_readme_section_is_replaced_between_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"head\n{gpu_speed.BEGIN}\nold\n{gpu_speed.END}\ntail\n")
    gpu_speed.write_readme_section(readme, "new table")
    text = readme.read_text()
    assert text.startswith("head\n") and text.endswith(f"{gpu_speed.END}\ntail\n")
    assert "new table" in text and "old" not in text
    readme.write_text("no markers")
    with pytest.raises(ValsuiteError, match="markers|needs exactly one"):
        gpu_speed.write_readme_section(readme, "x")
