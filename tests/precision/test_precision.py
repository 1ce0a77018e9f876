"""Precision step on a tiny hand-made ONNX: FP16 conversion, Q/DQ structure, calibration cache."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import write_image
from valsuite.data.manifest import scan_dataset
from valsuite.data.preprocess import Preprocess
from valsuite.errors import ValsuiteError
from valsuite.fileio import read_sidecar
from valsuite.models.spec import ModelSpec
from valsuite.precision import PrecisionOptions, calibration_exclusions, ensure_precision_onnx
from valsuite.precision import stats as S
from valsuite.precision.cache import read_trt_cache, trt_cache_text
from valsuite.precision.calibdata import select_calibration
from valsuite.precision.fp16 import convert_to_fp16, simulate_fp16_storage
from valsuite.precision.qdq import insert_qdq, quantize_weight
from valsuite.precision.ranges import amax_for, entropy_amax, percentile_amax

PP = Preprocess(resize_size=16, crop_size=16, interpolation="bilinear")
SPEC = ModelSpec("tiny", "test", PP, builder=lambda: None)


def tiny_model(scale: float = 1.0, seed: int = 0) -> onnx.ModelProto:
    """input -> Conv 3x3 -> Relu -> Conv 1x1 -> Add(residual) -> Mul(scale) -> GAP -> Flatten -> Gemm."""
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.1, 8).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 0.3, (8, 8, 1, 1)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.array(scale, np.float32), "s"),
        numpy_helper.from_array(rng.normal(0, 0.3, (5, 8)).astype(np.float32), "wf"),
        numpy_helper.from_array(np.zeros(5, np.float32), "bf"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"),
        helper.make_node("Add", ["c2", "r1"], ["a1"], name="add1"),
        helper.make_node("Mul", ["a1", "s"], ["m1"], name="mul1"),
        helper.make_node("GlobalAveragePool", ["m1"], ["g1"], name="gap"),
        helper.make_node("Flatten", ["g1"], ["f1"], name="flat"),
        helper.make_node("Gemm", ["f1", "wf", "bf"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 16, 16])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def run(model, x):
    sess = ort.InferenceSession(model.SerializeToString() if hasattr(model, "SerializeToString") else str(model),
                                providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    return sess.run(None, {inp.name: x.astype(np.float16 if "16" in inp.type else np.float32)})[0]


@pytest.fixture
def images(tmp_path) -> Path:
    root = tmp_path / "calib"
    for i in range(12):
        write_image(root / f"img{i:02d}.jpg", size=(20, 18), seed=i)
    return root


@pytest.fixture
def fp32_onnx(tmp_path) -> Path:
    path = tmp_path / "weights" / "tiny.onnx"
    path.parent.mkdir()
    onnx.save(tiny_model(), str(path))
    return path


def opts(images: Path, tmp_path: Path, **kw) -> PrecisionOptions:
    return PrecisionOptions(calib_dataset=images, calib_size=kw.pop("calib_size", 10), threads=1, **kw)


# -- ranges ------------------------------------------------------------------------------------

def _stats(values: np.ndarray) -> S.TensorStats:
    st = S.TensorStats()
    st.add(values.astype(np.float32), with_hist=True)
    return st


def test_percentile_minmax_entropy_on_known_distributions():
    rng = np.random.default_rng(0)
    uniform = _stats(rng.uniform(0, 1, 200_000))
    assert percentile_amax(uniform, 99.0) == pytest.approx(0.99, abs=0.01)
    assert amax_for(uniform, "minmax", 99) == pytest.approx(uniform.absmax)
    gauss = np.concatenate([rng.normal(0, 1, 200_000), [40.0]])   # one outlier
    st = _stats(gauss)
    assert st.absmax == pytest.approx(40.0)
    ent = entropy_amax(st)
    assert 2.0 < ent < 10.0      # clipped well below the outlier, above the bulk
    assert percentile_amax(st, 99.99) < 5.0


def test_statistics_do_not_depend_on_batch_split():
    rng = np.random.default_rng(1)
    data = rng.normal(0, 2, (12, 50)).astype(np.float32)
    whole, parts = S.TensorStats(), S.TensorStats()
    whole.add(data, True)
    for chunk in (data[:1], data[1:8], data[8:]):
        parts.add(chunk, True)
    assert whole.absmax == parts.absmax and whole.count == parts.count
    assert np.array_equal(whole.hist, parts.hist)


# -- Q/DQ ----------------------------------------------------------------------------------------

def test_quantize_weight_is_symmetric_per_channel():
    w = np.random.default_rng(2).normal(0, 1, (4, 3, 3, 3)).astype(np.float32)
    w[2] = 0.0
    q, scale = quantize_weight(w, axis=0)
    assert q.dtype == np.int8 and scale.shape == (4,) and q.min() >= -127
    assert scale[2] == 1.0 and not q[2].any()
    for c in (0, 1, 3):
        assert scale[c] == pytest.approx(np.abs(w[c]).max() / 127)
        assert np.abs(q[c] * scale[c] - w[c]).max() <= scale[c] / 2 + 1e-7


def test_qdq_structure_is_what_tensorrt_accepts():
    model = tiny_model()
    amax = {"input": 2.0, "r1": 3.0, "f1": 1.0, "c2": 2.0}
    res = insert_qdq(model, amax)
    q = res.model
    onnx.checker.check_model(q)
    assert next(o.version for o in q.opset_import if o.domain == "") >= 13
    assert res.quantized_layers == ["conv1", "conv2", "fc"]
    assert res.qdq_pairs == 3 and res.weight_dequantize == 3   # Add is not quantized by default
    inits = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
    for node in q.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            zp = inits[node.input[2]]
            assert zp.dtype == np.int8 and not zp.any()
    axes = {n.input[0]: next((a.i for a in n.attribute if a.name == "axis"), None)
            for n in q.graph.node if n.op_type == "DequantizeLinear"}
    assert axes["w1_int8"] == 0 and axes["w2_int8"] == 0 and axes["wf_int8"] == 0
    assert inits["w1_wscale"].shape == (8,) and inits["wf_wscale"].shape == (5,)
    assert inits["r1_qscale"].shape == () and inits["r1_qscale"] == pytest.approx(3.0 / 127)
    # quantized graph still computes nearly the same thing
    x = np.random.default_rng(3).normal(0, 0.5, (2, 3, 16, 16)).astype(np.float32)
    ref, got = run(model, x), run(q, x)
    assert np.abs(ref - got).max() < 0.05 * np.abs(ref).max() + 1e-3


def test_qdq_add_and_exclusion():
    res = insert_qdq(tiny_model(), {"input": 2.0, "r1": 3.0, "f1": 1.0, "c2": 2.0},
                     quant_ops=("Conv", "Gemm", "Add"), exclude_nodes=("fc",))
    assert "add1" in res.quantized_layers and "fc" not in res.quantized_layers
    assert res.skipped == {"fc": "excluded by option"}
    assert res.qdq_pairs == 3   # input, r1 (shared by conv2 and add1), c2


# -- FP16 ----------------------------------------------------------------------------------------

def test_fp16_keeps_fp32_io_and_matches():
    model = tiny_model()
    res = convert_to_fp16(model)
    io = res.model.graph
    assert io.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert io.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert res.kept_fp32 == {} and res.fp16_nodes == 8
    assert any(i.data_type == TensorProto.FLOAT16 for i in io.initializer)
    x = np.random.default_rng(4).normal(0, 0.5, (2, 3, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(run(res.model, x), run(model, x), rtol=2e-2, atol=2e-2)
    io16 = convert_to_fp16(model, fp16_io=True).model.graph
    assert io16.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    assert io16.output[0].type.tensor_type.elem_type == TensorProto.FLOAT16


def test_fp16_keeps_overflowing_node_in_fp32():
    model = tiny_model(scale=2e3)      # the weight fits FP16, the Mul output does not
    x = np.random.default_rng(5).normal(0, 100, (4, 3, 16, 16)).astype(np.float32)
    stats = S.collect(model, [x], ["c1", "r1", "c2", "a1", "m1", "g1", "f1", "logits"], set(), threads=1)
    res = convert_to_fp16(model, stats.tensors)
    assert "mul1" in res.kept_fp32 and "conv1" not in res.kept_fp32
    assert "FP16 safe max" in res.kept_fp32["mul1"]
    got = run(res.model, x)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, run(model, x), rtol=2e-2, atol=2e-2 * np.abs(run(model, x)).max())
    # ORT's CPU provider runs FP16 chains in FP32, so overflow shows only with explicit rounding:
    # without the kept nodes FP16 storage overflows; with them it does not
    assert not np.isfinite(run(simulate_fp16_storage(model), x)).all()
    assert np.isfinite(run(simulate_fp16_storage(model, res.kept_fp32), x)).all()


# -- calibration data and cache -----------------------------------------------------------------

def test_calibration_source_errors_and_shortfall(tmp_path, images, caplog):
    with pytest.raises(ValsuiteError, match="calibration folder not found"):
        select_calibration(PrecisionOptions(calib_dataset=tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValsuiteError, match="no images in calibration folder"):
        select_calibration(PrecisionOptions(calib_dataset=tmp_path / "empty"))
    with pytest.raises(ValsuiteError, match="needs images"):
        select_calibration(PrecisionOptions())
    with caplog.at_level(logging.WARNING):
        calib = select_calibration(PrecisionOptions(calib_dataset=images, calib_size=50))
    assert len(calib.paths) == 12 and "using all 12" in caplog.text and calib.notes
    a = select_calibration(PrecisionOptions(calib_dataset=images, calib_size=5, calib_seed=1))
    b = select_calibration(PrecisionOptions(calib_dataset=images, calib_size=5, calib_seed=1))
    assert a.paths == b.paths and len(a.paths) == 5


def test_eval_sample_is_capped_and_excluded(tiny_dataset):
    options = PrecisionOptions(eval_dataset=tiny_dataset, calib_size=500)
    calib = select_calibration(options)
    manifest = scan_dataset(tiny_dataset)
    assert len(calib.paths) == len(manifest) // 2 and calib.source == "eval-sample"
    excluded, facts = calibration_exclusions(options, manifest)
    assert len(excluded) == len(calib.paths) == facts["excluded_images"]
    assert excluded <= {e.relpath for e in manifest.entries}
    # a separate calibration folder excludes nothing
    other = PrecisionOptions(eval_dataset=tiny_dataset, calib_dataset=tiny_dataset.parent / "x")
    (tiny_dataset.parent / "x").mkdir()
    write_image(tiny_dataset.parent / "x" / "a.jpg")
    assert calibration_exclusions(other, manifest)[0] == set()


def test_int8_variant_sidecar_and_reuse(tmp_path, images, fp32_onnx, caplog):
    options = opts(images, tmp_path)
    with caplog.at_level(logging.INFO):
        path = ensure_precision_onnx(SPEC, "int8", fp32_onnx, options)
    assert "no cache yet" in caplog.text
    side = read_sidecar(path)
    assert side["qdq_pairs"] == 3 and side["quantized_layers"] == ["conv1", "conv2", "fc"]
    assert side["calibration"]["num_images"] == 10 and side["calibration"]["method"] == options.calib_method
    assert ensure_precision_onnx(SPEC, "fp32", fp32_onnx, options) == fp32_onnx
    mtime = path.stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert ensure_precision_onnx(SPEC, "int8", fp32_onnx, options) == path
    assert path.stat().st_mtime_ns == mtime and "calibrating" not in caplog.text
    trt = Path(side["calibration"]["trt_cache_file"])
    assert trt.read_text().startswith("TRT-") and set(read_trt_cache(trt)) == {"input", "r1", "f1"}


def test_ranges_do_not_depend_on_calibration_batch_size(tmp_path, images, fp32_onnx):
    from valsuite.precision.calibrate import calibrate
    from valsuite.precision.graph import load_model

    model = load_model(fp32_onnx)
    results = []
    for bs in (1, 4, 10):
        o = opts(images, tmp_path, calib_batch_size=bs, recalibrate=True, calib_method="entropy")
        results.append(calibrate(SPEC, model, "sha", fp32_onnx, o, "int8"))
    assert results[0].key == results[1].key == results[2].key   # batch size is not in the key
    for other in results[1:]:
        for name, value in results[0].amax().items():
            assert other.amax()[name] == pytest.approx(value, rel=1e-6)


def test_stale_inputs_rebuild_with_one_reason(tmp_path, images, fp32_onnx, caplog):
    options = opts(images, tmp_path)
    path = ensure_precision_onnx(SPEC, "int8", fp32_onnx, options)
    onnx.save(tiny_model(seed=7), str(fp32_onnx))          # the FP32 ONNX changed
    with caplog.at_level(logging.INFO):
        ensure_precision_onnx(SPEC, "int8", fp32_onnx, options)
    assert "fp32_onnx_sha256 changed" in caplog.text and "source_sha256" in caplog.text
    cache = Path(read_sidecar(path)["calibration"]["cache_file"])
    cache.write_text('{"key": "x", "tensors": {')              # corrupt cache
    caplog.clear()
    with caplog.at_level(logging.INFO):
        ensure_precision_onnx(SPEC, "int8", fp32_onnx, options)
    assert "corrupt" in caplog.text
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])                   # truncated variant
    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = ensure_precision_onnx(SPEC, "int8", fp32_onnx, options)
    assert "truncated" in caplog.text and again.read_bytes() == data
    caplog.clear()
    with caplog.at_level(logging.INFO):
        ensure_precision_onnx(SPEC, "int8", fp32_onnx, opts(images, tmp_path, recalibrate=True))
    assert "--recalibrate" in caplog.text


def test_fp16_variant_and_bad_requests(tmp_path, images, fp32_onnx):
    path = ensure_precision_onnx(SPEC, "fp16", fp32_onnx, opts(images, tmp_path))
    side = read_sidecar(path)
    assert side["precision"] == "fp16" and side["kept_fp32"] == [] and side["fp16_io"] is False
    x = np.random.default_rng(6).normal(0, 0.5, (2, 3, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(run(path, x), run(fp32_onnx, x), rtol=2e-2, atol=2e-2)
    with pytest.raises(ValsuiteError, match="no ONNX variant for precision bf16"):
        ensure_precision_onnx(SPEC, "bf16", fp32_onnx, opts(images, tmp_path))
    with pytest.raises(ValsuiteError, match="unknown calibration method"):
        ensure_precision_onnx(SPEC, "int8", fp32_onnx, opts(images, tmp_path, calib_method="kl"))
    with pytest.raises(ValsuiteError, match="FP32 ONNX not found"):
        ensure_precision_onnx(SPEC, "int8", tmp_path / "missing.onnx", opts(images, tmp_path))
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07not an onnx file")
    with pytest.raises(ValsuiteError, match="cannot read ONNX"):
        ensure_precision_onnx(SPEC, "int8", garbage, opts(images, tmp_path))


def test_int8_with_fp16_fallback(tmp_path, images, fp32_onnx):
    path = ensure_precision_onnx(SPEC, "int8", fp32_onnx, opts(images, tmp_path, int8_fallback="fp16"))
    model = onnx.load(str(path))
    assert path.name.endswith("int8-minmax-fp16rest.onnx")
    assert any(i.data_type == TensorProto.FLOAT16 for i in model.graph.initializer)
    assert read_sidecar(path)["qdq_pairs"] == 3
    x = np.random.default_rng(8).normal(0, 0.5, (2, 3, 16, 16)).astype(np.float32)
    assert np.isfinite(run(path, x)).all()


def test_trt_cache_text_round_trip():
    text = trt_cache_text({"a": 1.27, "b/c:0": 127.0}, "entropy")
    assert text.splitlines()[0].endswith("EntropyCalibration2")
    assert text.splitlines()[1] == "a: 3c23d70a"     # 0.01 as big-endian float32
