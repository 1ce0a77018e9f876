"""Real TensorRT software on a CPU: TensorRT-RTX's ONNX parser and builder on every ONNX the suite makes.

TensorRT-RTX (`pip install tensorrt-rtx-cu13`, a requirement) builds engines ahead of time without a
GPU, so none of these tests skips: FP32, FP16 and INT8 (Q/DQ) ONNX files of EfficientNet-Lite0 (real
weights), ResNet18, MobileNetV2 and YOLOv8n-cls (random weights) are parsed in strongly typed mode and
built as a dynamic-batch and as a static batch-1 engine. What needs a GPU (deserializing, the engine
inspector, running) is recorded as not done, with the reason. Exports and variants are made once per
session on a small calibration set (6 generated images) to keep this at about a minute on 2 cores.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import onnx
import pytest

from tests.conftest import write_image
from valsuite.errors import ValsuiteError
from valsuite.fileio import read_sidecar
from valsuite.tensorrt.build import BuildOptions, build_engine, make_logger, network_facts, parse_onnx
from valsuite.tensorrt.engines import ensure_engine, expected_facts
from valsuite.tensorrt.flavour import get_flavour
from valsuite.tensorrt.profile import profile_from_args

ROOT = Path(__file__).resolve().parents[2]
MODELS = [("efficientnet_lite0", False), ("resnet18", True), ("mobilenet_v2", True), ("yolov8n-cls", True)]
PRECISIONS = ("fp32", "fp16", "int8")
PROFILES = {"dynamic": (-1, 3, 224, 224), "static": (1, 3, 224, 224)}


@pytest.fixture(scope="session")
def rtx():
    """The real tensorrt_rtx module: a test failure (not a skip) when it is missing."""
    return get_flavour("rtx").import_module()


@pytest.fixture(scope="session")
def suite_onnx(tmp_path_factory) -> dict:
    """{(network, precision): (spec, onnx path)} for every model and precision, made once."""
    from valsuite.export.onnx_export import export_onnx
    from valsuite.models import resolve
    from valsuite.precision import PrecisionOptions, ensure_precision_onnx

    calib = tmp_path_factory.mktemp("calib")
    for i in range(6):
        write_image(calib / f"img{i}.JPEG", size=(256, 256), seed=i)
    options = PrecisionOptions(calib_dataset=calib, calib_size=6, threads=1)
    weights = tmp_path_factory.mktemp("weights")
    made = {}
    for network, random in MODELS:
        spec = resolve(network, random_weights=random)
        fp32 = export_onnx(spec, weights)
        for precision in PRECISIONS:
            made[(network, precision)] = (spec, ensure_precision_onnx(spec, precision, fp32, options))
    return made


def _onnx_ops(path: Path) -> Counter:
    return Counter(node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("network", [m[0] for m in MODELS])
def test_every_suite_onnx_builds_with_the_real_builder(rtx, suite_onnx, tmp_path, network, precision, profile):
    spec, onnx_path = suite_onnx[(network, precision)]
    options = BuildOptions(precision, profile_from_args(PROFILES[profile]))
    engine = tmp_path / f"{network}_{precision}-{options.shapes.tag()}.engine"
    sidecar = build_engine(rtx, onnx_path, engine, options, expected_facts(rtx, onnx_path, options))
    assert engine.stat().st_size == sidecar["engine_size_bytes"] > 100_000  # a real plan, weights inside
    assert engine.read_bytes()[:4] != b"fake"
    assert sidecar["flavour"] == "rtx" and sidecar["tensorrt_version"] == rtx.__version__
    assert sidecar["compute_capability_targets"] == "default" and sidecar["build_time_s"] > 0
    assert (sidecar["profile"]["max"][0] == 1) == (profile == "static")
    network_def = sidecar["network_definition"]
    ops = _onnx_ops(onnx_path)
    qdq = network_def["qdq_layers"]
    if precision == "int8":  # every Q/DQ node of the ONNX is a Q/DQ layer of the strongly typed network
        assert (qdq["quantize"], qdq["dequantize"]) == (ops["QuantizeLinear"], ops["DequantizeLinear"]) != (0, 0)
    else:
        assert qdq == {"quantize": 0, "dequantize": 0}
    if precision == "fp16":  # (random weights keep overflowing layers in fp32: docs/precision.md)
        assert network_def["layer_precisions"].get("fp16", 0) > 0
    else:
        assert "fp16" not in network_def["layer_precisions"]
    assert network_def["layer_types"]["CONVOLUTION"] == ops["Conv"]
    inspection = sidecar["engine_inspection"]  # this machine has no GPU TensorRT-RTX runs on
    assert inspection["done"] is False and "no GPU" in inspection["reason"] and sidecar["num_layers"] is None


def test_sidecar_layer_facts_equal_the_real_network(rtx, suite_onnx, tmp_path):
    """Parse again, independently, and compare every per-layer fact the sidecar recorded."""
    spec, onnx_path = suite_onnx[("efficientnet_lite0", "int8")]
    options = BuildOptions("int8", profile_from_args((-1, 3, 224, 224)))
    sidecar = build_engine(rtx, onnx_path, tmp_path / "e.engine", options, {})
    logger = make_logger(rtx)
    builder = rtx.Builder(logger)
    network, _parser = parse_onnx(rtx, builder, logger, onnx_path)
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    recorded = sidecar["network_definition"]
    assert recorded["num_layers"] == network.num_layers == len(recorded["layers"])
    assert [(r["name"], r["type"]) for r in recorded["layers"]] == [(layer.name, layer.type.name) for layer in layers]
    assert Counter(layer.type.name for layer in layers) == Counter(recorded["layer_types"])
    assert recorded == network_facts(rtx, network)


def test_bad_onnx_fails_with_the_parsers_first_error_and_leaves_no_engine(rtx, tmp_path):
    from onnx import TensorProto, helper

    bad = tmp_path / "bad.onnx"  # a Conv whose weight has the wrong rank: valid protobuf, invalid model
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["logits"])], "bad",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, [4, 3], [0.0] * 12)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(bad))
    engine = tmp_path / "bad.engine"
    options = BuildOptions("fp32", profile_from_args((-1, 3, 8, 8)))
    with pytest.raises(ValsuiteError, match=r"TensorRT cannot parse .*bad\.onnx: ") as info:
        build_engine(rtx, bad, engine, options, {})
    assert "\n" not in str(info.value) and "Conv" in str(info.value)
    assert not engine.exists() and not Path(f"{engine}.json").exists()


def test_static_and_dynamic_engines_side_by_side_and_other_flavours_rebuilt(rtx, suite_onnx, tmp_path):
    spec, _ = suite_onnx[("resnet18", "fp32")]
    fp32 = suite_onnx[("resnet18", "fp32")][1]
    paths = {}
    for kind, shape in PROFILES.items():
        path, sidecar = ensure_engine(spec, BuildOptions("fp32", profile_from_args(shape)), tmp_path,
                                      onnx_path=fp32, trt=rtx)
        paths[kind] = path
        assert f"fp32-{kind}-b1" in path.name and sidecar["profile"]["max"][0] == (1 if kind == "static" else 256)
    assert paths["static"] != paths["dynamic"] and all(p.is_file() for p in paths.values())
    # an engine whose sidecar says another flavour or version is rebuilt, never reused
    sidecar = read_sidecar(paths["static"])
    stamp = paths["static"].stat().st_mtime_ns
    ensure_engine(spec, BuildOptions("fp32", profile_from_args(PROFILES["static"])), tmp_path, onnx_path=fp32, trt=rtx)
    assert paths["static"].stat().st_mtime_ns == stamp  # fresh: reused
    from valsuite.fileio import write_sidecar
    write_sidecar(paths["static"], sidecar | {"flavour": "tensorrt", "tensorrt_version": "10.13.3.9"})
    _, rebuilt = ensure_engine(spec, BuildOptions("fp32", profile_from_args(PROFILES["static"])), tmp_path,
                               onnx_path=fp32, trt=rtx)
    assert rebuilt["flavour"] == "rtx" and paths["static"].stat().st_mtime_ns != stamp


def test_compute_capability_targets_reach_the_real_builder(rtx, suite_onnx, tmp_path):
    _, onnx_path = suite_onnx[("mobilenet_v2", "fp16")]
    targets = get_flavour("rtx").resolve_targets(("8.6", "12.0"))
    options = BuildOptions("fp16", profile_from_args((-1, 3, 224, 224)), targets=targets)
    sidecar = build_engine(rtx, onnx_path, tmp_path / "e.engine", options, expected_facts(rtx, onnx_path, options))
    assert sidecar["compute_capability_targets"] == ["8.6", "12.0"] and sidecar["engine_size_bytes"] > 100_000
    with pytest.raises(ValsuiteError, match="needs a GPU, and this machine has no GPU"):
        get_flavour("rtx").resolve_targets(("current",))
