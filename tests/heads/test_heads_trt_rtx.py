"""Every head variant builds with the real TensorRT-RTX builder (ahead of time, on this CPU machine),
through the suite's own strongly typed build path (valsuite.tensorrt.build.build_plan).
"""

from __future__ import annotations

import pytest

from valsuite.heads import CLASSIFIER_HEADS, SEGMENTATION_HEADS, HeadSpec
from valsuite.heads.onnx_heads import ensure_head_onnx
from valsuite.tensorrt.build import BuildOptions, build_plan, make_logger, parse_onnx
from valsuite.tensorrt.profile import profile_from_args

trt = pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX is not installed (pip install tensorrt-rtx-cu13)")

SIZE = (64, 96)


def build(onnx_path, sample_shape) -> tuple[int, list]:
    """(engine bytes, [(output name, dtype)]): the suite's build path with a 1..2 dynamic-batch profile;
    a parser or builder failure raises with TensorRT's first error."""
    plan, _, _ = build_plan(trt, onnx_path, BuildOptions("fp32", profile_from_args((-1, *sample_shape), 1, 1, 2)))
    logger = make_logger(trt)
    network, _parser = parse_onnx(trt, trt.Builder(logger), logger, onnx_path)   # the outputs, as parsed
    outputs = [(network.get_output(i).name, network.get_output(i).dtype) for i in range(network.num_outputs)]
    return len(plan), outputs


@pytest.fixture(scope="module")
def lraspp_onnx(tmp_path_factory):
    """lraspp at 64x96, FP32 and FP16 (the precision step, calibrated on 4 generated images)."""
    from tests.conftest import write_image
    from valsuite.export.onnx_export import export_onnx
    from valsuite.models.segmentation import resolve
    from valsuite.precision import PrecisionOptions, ensure_precision_onnx

    folder = tmp_path_factory.mktemp("trt_rtx")
    for i in range(4):
        write_image(folder / "calib" / f"{i}.jpg", size=(120, 90), seed=i)
    spec = resolve("lraspp_mobilenet_v3_large", None, True, SIZE)
    fp32 = export_onnx(spec, folder)
    fp16 = ensure_precision_onnx(spec, "fp16", fp32, PrecisionOptions(calib_dataset=folder / "calib", calib_size=4))
    return {"fp32": fp32, "fp16": fp16}


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("name", list(SEGMENTATION_HEADS))
def test_segmentation_heads_build(lraspp_onnx, precision, name):
    path = ensure_head_onnx(lraspp_onnx[precision], HeadSpec(name, "segmentation", 0.5))
    size, outputs = build(path, (3, *SIZE))
    assert size > 1_000_000
    expected = {"host-argmax": "logits", "argmax": "labels", "fused-argmax": "labels"}.get(name, "scores")
    assert [o for o, _ in outputs] == [expected]


@pytest.mark.parametrize("name", list(CLASSIFIER_HEADS))
def test_classifier_heads_build(tmp_path, name):
    from tests.heads.test_heads import TinyClassifier, export

    source = export(TinyClassifier().eval(), (2, 3, 16, 16), tmp_path / "tiny_dyn.onnx")
    size, outputs = build(ensure_head_onnx(source, HeadSpec(name)), (3, 16, 16))
    assert size > 0
    expected = {"logits": ["logits"], "topk": ["topk_indices", "topk_scores"], "argmax": ["argmax_index"]}[name]
    assert sorted(o for o, _ in outputs) == sorted(expected)
    types = dict(outputs)
    assert all(types[o] == trt.int64 for o in ("topk_indices", "argmax_index") if o in types)
