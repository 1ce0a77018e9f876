"""Segmentation heads study: planted agreement numbers, specs, a small real study, the table."""

from __future__ import annotations

import numpy as np
import pytest

from valsuite.errors import ValsuiteError
from valsuite.segmentation.metrics import LabelAgreement, ScoreAgreement


def test_planted_agreement_and_miou():
    """4 classes, class 3 absent from both maps: it must not count in the mean."""
    ref = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    cand = np.array([[0, 0, 1, 2], [0, 1, 1, 1]])
    stats = LabelAgreement(4)
    stats.update(ref, cand)
    assert stats.pixel_agreement_pct() == pytest.approx(75.0)            # 6 of 8 pixels
    # class 0: 3 shared / 4 in either; class 1: 3 / 5; class 2: 0 / 1
    assert stats.iou_per_class() == pytest.approx({0: 0.75, 1: 0.6, 2: 0.0})
    assert stats.miou_pct() == pytest.approx(100 * (0.75 + 0.6 + 0.0) / 3)
    stats.update(ref, ref)                                                 # batches accumulate
    assert stats.pixel_agreement_pct() == pytest.approx(100 * 14 / 16)
    with pytest.raises(ValueError):
        stats.update(ref, cand[:, :3])


def test_planted_fused_argmax_agreement_through_the_study():
    """Variant 1's host argmax of planted logits vs a fused-argmax map that differs on a known border."""
    from valsuite.segmentation.study import Measured, agreement, host_result

    import torch

    logits = np.zeros((1, 3, 4, 6), dtype=np.float32)
    logits[0, 0, :, :2] = 1.0          # class 0 left, 1 middle, 2 right
    logits[0, 1, :, 2:4] = 1.0
    logits[0, 2, :, 4:] = 1.0
    reference = Measured(results=[host_result(torch.from_numpy(logits), "host-argmax")])
    fused = np.array([[0, 0, 1, 1, 2, 2]] * 4, dtype=np.float32)
    fused[:, 2] = 0                     # the fused map moved the 0|1 border one column right
    candidate = Measured(results=[fused[None]])                          # float labels, as torch returns
    cost = agreement("fused-argmax", candidate, reference, num_classes=3)
    assert cost["pixel_agreement_pct"] == pytest.approx(100 * 20 / 24)
    # class 0: 8 / 12, class 1: 4 / 8, class 2: 8 / 8
    assert cost["miou_pct"] == pytest.approx(100 * (8 / 12 + 4 / 8 + 1.0) / 3)
    scores = ScoreAgreement()
    scores.update(np.ones((2, 2)), np.array([[1.0, 1.5], [1.0, 0.75]]))
    assert scores.summary()["score_abs_err_max"] == 0.5
    assert scores.summary()["score_abs_err_mean"] == pytest.approx(0.75 / 4)


def test_segmentation_specs():
    from valsuite.models import is_segmentation, resolve
    from valsuite.models.segmentation import parse_size
    from valsuite.models.segmentation import resolve as resolve_seg

    assert is_segmentation("lraspp_mobilenet_v3_large") and not is_segmentation("resnet50")
    spec = resolve_seg("deeplabv3_mobilenet_v3_large", None, True, (384, 576))
    assert spec.task == "segmentation" and spec.input_shape == (3, 384, 576)
    assert spec.artifact_stem.endswith("_384x576") and spec.num_classes == 21
    assert resolve("fcn_resnet50", random_weights=True).input_shape == (3, 384, 576)
    assert parse_size("768x1344") == (768, 1344)
    with pytest.raises(ValsuiteError):
        parse_size("768")
    with pytest.raises(ValsuiteError, match="has no weights"):
        resolve_seg("fcn_resnet50", "IMAGENET1K_V1", False)


@pytest.mark.parametrize("network, enum, kwargs, miou", [
    ("lraspp_mobilenet_v3_large", "LRASPP_MobileNet_V3_Large_Weights", {}, 57.9),
    ("deeplabv3_mobilenet_v3_large", "DeepLabV3_MobileNet_V3_Large_Weights", {"aux_loss": True}, 60.3),
])
def test_weights_file_gives_the_torchvision_model(tmp_path, network, enum, kwargs, miou):
    """A user's torchvision checkpoint (official file name; DeepLabV3's holds its auxiliary
    classifier) loads and keeps the published numbers; the model's output is the checkpoint's."""
    import torch
    import torchvision.models.segmentation as tvs

    from valsuite.models.segmentation import resolve

    torch.manual_seed(1)
    model = getattr(tvs, network)(weights=None, weights_backbone=None, num_classes=21, **kwargs).eval()
    name = getattr(tvs, enum).DEFAULT.url.rsplit("/", 1)[-1]
    torch.save(model.state_dict(), tmp_path / name)
    spec = resolve(network, str(tmp_path / name), False, (64, 96))
    assert spec.weights_id == f"file:{name}" and spec.published.get("miou") == miou
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        np.testing.assert_allclose(spec.build()(x).numpy(), model(x)["out"].numpy(), atol=1e-5)


def test_small_study_onnxruntime(tmp_path):
    """Every head on ONNX Runtime at a small size: records, host argmax in variant 1, agreement."""
    from valsuite.results.record import validate_record
    from valsuite.segmentation.study import StudyOptions, run_study

    opts = StudyOptions(random_weights=True, sizes=((64, 96),), precisions=("fp32",), num_images=2,
                        warmup=1, weights_dir=tmp_path)
    seen = []
    outcome = run_study(opts, seen.append)
    records = outcome.records
    assert seen == records and [r["head_number"] for r in records] == [1, 2, 3, 4, 5]
    for record in records:
        validate_record(record)
        assert record["kind"] == "benchmark" and record["task"] == "segmentation"
        assert record["latency_all_ms"]["count"] == 2 and record["model_size_mb"] > 0
    by_head = {r["head"]: r for r in records}
    assert by_head["host-argmax"]["host_argmax"] and not by_head["argmax"]["host_argmax"]
    assert by_head["argmax"]["agreement"]["pixel_agreement_pct"] == 100.0       # the same argmax, in the graph
    assert by_head["argmax"]["agreement"]["classes_present"] > 1                 # random weights still vary
    fused = by_head["fused-argmax"]["agreement"]
    assert 50.0 < fused["pixel_agreement_pct"] < 100.0 and fused["miou_pct"] <= fused["pixel_agreement_pct"]
    assert by_head["reducemax"]["agreement"]["score_abs_err_max"] == 0.0
    assert by_head["fused-reducemax"]["agreement"]["score_abs_err_max"] > 0.0


def test_study_skips_what_cannot_run_here(tmp_path):
    import torch

    from valsuite.segmentation.study import StudyOptions, run_study

    if torch.cuda.is_available():
        pytest.skip("torch fp16 runs here")
    opts = StudyOptions(random_weights=True, sizes=((64, 64),), backends=("torch",), precisions=("fp16",),
                        num_images=1, weights_dir=tmp_path)
    outcome = run_study(opts)
    assert outcome.records == [] and outcome.skipped[0][0] == "torch:fp16"
    assert "CUDA" in outcome.skipped[0][1]


def _seg_record(size, head, number, precision, **extra):
    from valsuite.results.record import new_record

    return new_record("benchmark", task="segmentation", network="lraspp_mobilenet_v3_large", weights="random",
                      backend="onnxruntime", precision=precision, device="cpu", batch_size=1, num_images=4,
                      input="synthetic", input_size=list(size), head=head, head_number=number,
                      dataset={"synthetic": True, "seed": 0, "num_images": 4}, environment={"machine": "M"},
                      latency_all_ms={"mean": 10.0 * number}, latency_model_ms={"mean": 5.0 * number},
                      model_size_mb=12.0, **extra)


def test_segmentation_table_in_the_seed_layout():
    from valsuite.results.render import render_section

    records = [
        _seg_record((768, 1344), "host-argmax", 1, "fp32", agreement={"pixel_agreement_pct": 100.0, "miou_pct": 100.0}),
        _seg_record((384, 576), "host-argmax", 1, "fp32", agreement={"pixel_agreement_pct": 100.0, "miou_pct": 100.0}),
        _seg_record((384, 576), "fused-argmax", 3, "fp16", fuse_scale=0.5,
                    agreement={"pixel_agreement_pct": 97.5, "miou_pct": 90.25}),
        _seg_record((384, 576), "reducemax", 4, "fp32", agreement={"score_abs_err_max": 0.0}),
    ]
    text = render_section(records)
    lines = [line for line in text.splitlines() if line.startswith("| 384x576") or line.startswith("| 768x1344")]
    assert [line.split("|")[1].strip() for line in lines] == ["384x576", "384x576", "384x576", "768x1344"]
    assert "FP32 Latency-all / model ms" in text and "FP16 agreement / mIoU %" in text
    assert text.index("FP32 Latency-all") < text.index("FP16 Latency-all")
    fused = next(line for line in lines if "fused-argmax (x0.5)" in line)
    assert "97.50 / 90.25" in fused and "30.00 / 15.00" in fused
    assert "score err 0" in text and "numerics only" in text
    assert "#### lraspp" not in text                       # not in the classifier tables
    assert render_section(list(reversed(records))) == text  # deterministic


def test_classifier_head_rows_and_prec5_note():
    from valsuite.results.render import render_section
    from valsuite.results.record import new_record

    def rec(head, prec5, **extra):
        return new_record("validation", network="n", weights="w", backend="onnxruntime", precision="fp32",
                          device="cpu", batch_size=8, num_images=8, prec1=50.0, prec5=prec5, head=head,
                          latency_all_ms={"mean": 1.0}, latency_model_ms={"mean": 1.0},
                          dataset={"file_list_sha256": "ab"}, environment={"machine": "M"}, **extra)

    text = render_section([rec("logits", 75.0), rec("argmax", None, prec5_note="not available: one index"),
                           rec("topk", 75.0)])
    rows = [line for line in text.splitlines() if line.startswith("| onnxruntime")]
    assert [r.split("|")[1].strip() for r in rows] == ["onnxruntime", "onnxruntime (topk head)",
                                                       "onnxruntime (argmax head)"]
    assert "Prec@5 of the argmax head: not available: one index." in text
