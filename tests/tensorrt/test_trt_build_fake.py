"""The build logic run against fake `tensorrt` modules whose attribute sets are each real version's API.

A name missing from a version raises AttributeError here exactly as it would on that TensorRT;
the call log shows what the options turned into. This is not TensorRT accepting the values.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from valsuite.errors import ValsuiteError
from valsuite.fileio import read_sidecar
from valsuite.tensorrt import build as trt_build
from valsuite.tensorrt import engines
from tools.trt_apicheck import load_manifests
from valsuite.tensorrt.build import BuildOptions, build_engine, configure_builder
from tools.trt_fake import FakeTensorRT, build_behaviour
from valsuite.tensorrt.flavour import GpuInfo
from valsuite.tensorrt.profile import profile_from_args

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT.parent / "shared" / "trt-api"
pytestmark = pytest.mark.skipif(not MANIFESTS.is_dir(), reason=f"TensorRT API manifests not found at {MANIFESTS}")
ALL = load_manifests(MANIFESTS) if MANIFESTS.is_dir() else []
IDS = [m.version for m in ALL]
RTX = [m for m in ALL if m.module_name == "tensorrt_rtx"]
TRT = [m for m in ALL if m.module_name == "tensorrt"]
INSPECTOR = json.dumps({"Layers": [
    {"Name": "conv", "LayerType": "CaskConvolution", "Inputs": [{"Name": "input", "Format/Datatype": "Row major linear FP16"}],
     "Outputs": [{"Name": "c", "Format/Datatype": "Row major linear FP16"}]},
    {"Name": "fc", "LayerType": "CaskGemmMatrixMultiply", "Inputs": [{"Name": "c", "Format/Datatype": "Row major linear FP32"}],
     "Outputs": [{"Name": "logits", "Format/Datatype": "Row major linear FP32"}]}], "Bindings": ["input", "logits"]})


def _fake(manifest, **kwargs):
    return FakeTensorRT(manifest, build_behaviour(inspector_json=INSPECTOR, **kwargs))


@pytest.fixture(autouse=True)
def fake_gpu(monkeypatch):
    """An RTX 3060 (8.6) that both flavours run on, so the engine inspector path runs on the fake."""
    gpu = GpuInfo("NVIDIA GeForce RTX 3060", "8.6")
    monkeypatch.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: gpu)
    monkeypatch.setattr("valsuite.tensorrt.build.local_gpu", lambda index=0: gpu)
    return gpu


def _configure(trt, options):
    builder = trt.Builder(trt.Logger(trt.Logger.WARNING))
    network = builder.create_network(0)
    return configure_builder(trt, builder, network, options)


@pytest.mark.parametrize("manifest", ALL, ids=IDS)
def test_defaults_map_to_the_builder_config(manifest, tmp_path):
    trt = _fake(manifest)
    shapes = profile_from_args((-1, 3, 224, 224), max_batch=64)
    cache = tmp_path / "tc.cache"
    cache.write_bytes(b"old-cache")
    _configure(trt, BuildOptions("fp16", shapes, timing_cache=cache))
    assert trt.calls("IBuilderConfig", "clear_flag") == [(trt.BuilderFlag.TF32,)]
    assert trt.calls("IBuilderConfig", "set_flag") == []
    assert trt.calls("IBuilderConfig", "set builder_optimization_level") == [(3,)]
    assert trt.calls("IBuilderConfig", "set profiling_verbosity") == [(trt.ProfilingVerbosity.DETAILED,)]
    assert trt.calls("IBuilderConfig", "set_memory_pool_limit") == []
    assert trt.calls("IOptimizationProfile", "set_shape") == [("input", shapes.min, shapes.opt, shapes.max)]
    assert len(trt.calls("IBuilderConfig", "add_optimization_profile")) == 1
    if manifest.module_name == "tensorrt":  # the tactic timing cache is TensorRT's; a no-op in TensorRT-RTX
        assert trt.calls("IBuilderConfig", "create_timing_cache") == [(b"old-cache",)]
        assert len(trt.calls("IBuilderConfig", "set_timing_cache")) == 1
    else:  # RTX default: no targets set, the runtime's portable set (8.0, 8.6, 8.9, 12.x)
        assert trt.calls("IBuilderConfig", "create_timing_cache") == []
        assert trt.calls("IBuilderConfig", "set num_compute_capabilities") == []


@pytest.mark.parametrize("manifest", RTX, ids=[m.version for m in RTX])
def test_rtx_compute_capability_targets(manifest):
    from valsuite.tensorrt.flavour import get_flavour

    trt = _fake(manifest)
    targets = get_flavour("rtx").resolve_targets(("8.6", "12.0", "current"))
    assert targets == ("8.6", "12.0")  # 'current' is the (fake) local RTX 3060: already listed
    _configure(trt, BuildOptions("fp32", profile_from_args((-1, 3, 224, 224)), targets=targets))
    assert trt.calls("IBuilderConfig", "set num_compute_capabilities") == [(2,)]
    assert trt.calls("IBuilderConfig", "set_compute_capability") == [
        (trt.ComputeCapability.SM86, 0), (trt.ComputeCapability.SM120, 1)]
    with pytest.raises(ValsuiteError, match="cannot build for compute capability 9.0"):
        get_flavour("rtx").resolve_targets(("9.0",))


def test_tensorrt_flavour_builds_for_the_local_gpu_only():
    from valsuite.tensorrt.flavour import get_flavour

    assert get_flavour("tensorrt").resolve_targets(()) == ("8.6",)
    with pytest.raises(ValsuiteError, match="local GPU only"):
        get_flavour("tensorrt").resolve_targets(("8.9",))


@pytest.mark.parametrize("manifest", ALL, ids=IDS)
def test_options_map_to_the_builder_config(manifest):
    trt = _fake(manifest)
    _configure(trt, BuildOptions("fp32", profile_from_args((-1, 3, 224, 224)), opt_level=5, workspace_mb=2048, tf32=True))
    assert trt.calls("IBuilderConfig", "set_flag") == [(trt.BuilderFlag.TF32,)]
    assert trt.calls("IBuilderConfig", "clear_flag") == []
    assert trt.calls("IBuilderConfig", "set builder_optimization_level") == [(5,)]
    assert trt.calls("IBuilderConfig", "set_memory_pool_limit") == [(trt.MemoryPoolType.WORKSPACE, 2048 << 20)]


@pytest.mark.parametrize("manifest", ALL, ids=IDS)
def test_static_onnx_needs_no_profile_and_rejects_a_dynamic_one(manifest):
    trt = _fake(manifest, input_shape=(8, 3, 224, 224))
    _configure(trt, BuildOptions("fp32", profile_from_args((8, 3, 224, 224))))
    assert trt.calls("IOptimizationProfile", "set_shape") == []
    with pytest.raises(ValsuiteError, match="fixed batch of 8"):
        _configure(_fake(manifest, input_shape=(8, 3, 224, 224)), BuildOptions("fp32", profile_from_args((-1, 3, 224, 224))))
    with pytest.raises(ValsuiteError, match="profile needs"):
        _configure(_fake(manifest), BuildOptions("fp32", profile_from_args((-1, 3, 240, 240))))


@pytest.mark.parametrize("manifest", ALL, ids=IDS)
def test_build_engine_end_to_end_on_the_fake(manifest, tmp_path):
    trt = _fake(manifest)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"onnx")
    cache = tmp_path / "tc.cache"
    options = BuildOptions("fp16", profile_from_args((-1, 3, 224, 224)), timing_cache=cache)
    engine = tmp_path / "m_fp16.engine"
    sidecar = build_engine(trt, onnx, engine, options, {"precision": "fp16", "tensorrt_version": trt.__version__})
    flags = trt.calls("Builder", "create_network")
    assert flags == [(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED),)]  # strongly typed, nothing else
    assert trt.calls("OnnxParser", "parse_from_file") == [(str(onnx),)]
    assert engine.read_bytes() == b"fake-serialized-engine"
    assert cache.is_file() == (manifest.module_name == "tensorrt")  # TensorRT-RTX has no timing cache
    assert read_sidecar(engine) == sidecar
    assert sidecar["layer_precisions"] == {"fp16": 1, "fp32": 1} and sidecar["num_layers"] == 3
    assert sidecar["engine_inspection"]["done"] is True
    network = sidecar["network_definition"]  # what the parsed network reported, before fusion
    assert network["num_layers"] == 2 and network["layer_types"] == {"CONVOLUTION": 1, "DEQUANTIZE": 1}
    assert network["layer_precisions"] == {"fp16": 1, "fp32": 1}
    assert network["qdq_layers"] == {"quantize": 0, "dequantize": 1}
    assert sidecar["engine_size_bytes"] == len(b"fake-serialized-engine") and sidecar["build_time_s"] >= 0
    assert trt.calls("IExecutionContext", "set_input_shape") == [("input", options.shapes.opt)]
    assert trt.calls("EngineInspector", "set execution_context")  # formats resolved for the opt shape
    assert trt.calls("EngineInspector", "get_engine_information") == [(trt.LayerInformationFormat.JSON,)]


@pytest.mark.parametrize("manifest", ALL, ids=IDS)
def test_parse_and_build_failures_are_user_errors(manifest, tmp_path):
    options = BuildOptions("fp32", profile_from_args((-1, 3, 224, 224)))
    with pytest.raises(ValsuiteError, match="cannot parse .*unsupported fake error"):
        build_engine(_fake(manifest, parse_ok=False), tmp_path / "m.onnx", tmp_path / "e", options, {})
    with pytest.raises(ValsuiteError, match="could not build"):
        build_engine(_fake(manifest, plan=None), tmp_path / "m.onnx", tmp_path / "e", options, {})
    assert not (tmp_path / "e").exists()


def test_weak_typing_would_fail_on_11x_at_run_time():
    """The same fake rejects what 11.x removed, so a regression would also fail here, not only in apicheck."""
    by_major = {m.vtuple[0]: m for m in ALL}
    trt10, trt11 = _fake(by_major[10]), _fake(by_major[11])
    assert trt10.BuilderFlag.FP16
    with pytest.raises(AttributeError):
        trt11.BuilderFlag.FP16
    config = trt11.Builder(None).create_builder_config()
    with pytest.raises(AttributeError):
        config.int8_calibrator = None


# -- ensure_engine: reuse, rebuild on staleness --------------------------------------------------

class _Spec:
    network, weights_id, artifact_stem, input_shape = "tiny", "random", "tiny_random", (3, 224, 224)


@pytest.fixture
def onnx_file(tmp_path, monkeypatch):
    onnx = tmp_path / "tiny.onnx"
    onnx.write_bytes(b"onnx v1")
    monkeypatch.setattr(engines.artifacts, "fp32_onnx", lambda spec, weights_dir: onnx)
    monkeypatch.setattr(engines.artifacts, "precision_onnx", lambda spec, precision, fp32, popts=None: fp32)
    return onnx


def _builds(trt) -> int:
    return len(trt.calls("Builder", "build_serialized_network"))


def test_ensure_engine_reuses_and_rebuilds(tmp_path, onnx_file, monkeypatch):
    options = BuildOptions("fp32", profile_from_args((-1, 3, 224, 224)))
    first = _fake(TRT[0])
    path, sidecar = engines.ensure_engine(_Spec(), options, tmp_path, trt=first)
    assert path == tmp_path / "tiny_random_fp32-dynamic-b1-32-256.engine" and _builds(first) == 1
    assert sidecar["gpu"] == {"name": "NVIDIA GeForce RTX 3060", "compute_capability": "8.6"}
    assert sidecar["flavour"] == "tensorrt" and sidecar["network"] == "tiny"

    again = _fake(TRT[0])
    engines.ensure_engine(_Spec(), options, tmp_path, trt=again)
    assert _builds(again) == 0  # fresh: reused

    newer = _fake(TRT[-1])  # another TensorRT version
    _, sidecar = engines.ensure_engine(_Spec(), options, tmp_path, trt=newer)
    assert _builds(newer) == 1 and sidecar["tensorrt_version"] == TRT[-1].version

    rtx = _fake(RTX[0])  # the other flavour: rebuilt, never loaded
    _, sidecar = engines.ensure_engine(_Spec(), options, tmp_path, trt=rtx)
    assert _builds(rtx) == 1 and sidecar["flavour"] == "rtx" and sidecar["compute_capability_targets"] == "default"
    assert "gpu" not in sidecar  # an RTX engine is built for targets, not for the local GPU
    rtx = _fake(RTX[0])
    engines.ensure_engine(_Spec(), replace(options, targets=("8.6",)), tmp_path, trt=rtx)
    assert _builds(rtx) == 1  # other targets

    trt = _fake(TRT[-1])
    engines.ensure_engine(_Spec(), options, tmp_path, trt=trt)
    assert _builds(trt) == 1
    onnx_file.write_bytes(b"onnx v2")  # re-exported ONNX
    trt = _fake(TRT[-1])
    engines.ensure_engine(_Spec(), options, tmp_path, trt=trt)
    assert _builds(trt) == 1

    monkeypatch.setattr("valsuite.tensorrt.flavour.local_gpu", lambda index=0: GpuInfo("Other GPU", "8.9"))
    trt = _fake(TRT[-1])
    engines.ensure_engine(_Spec(), options, tmp_path, trt=trt)
    assert _builds(trt) == 1

    trt = _fake(TRT[-1])
    engines.ensure_engine(_Spec(), BuildOptions("fp32", options.shapes, tf32=True), tmp_path, trt=trt)
    assert _builds(trt) == 1  # other build options: rebuilt in place (same name)
    trt = _fake(TRT[-1])
    engines.ensure_engine(_Spec(), BuildOptions("fp32", options.shapes, tf32=True), tmp_path, trt=trt, force=True)
    assert _builds(trt) == 1


def test_precision_goes_through_the_artifact_chain(tmp_path, onnx_file, monkeypatch):
    seen = []
    int8 = tmp_path / "tiny_int8.onnx"
    int8.write_bytes(b"qdq onnx")

    def fake_precision(spec, precision, fp32, popts=None):
        seen.append((precision, fp32))
        return int8

    monkeypatch.setattr(engines.artifacts, "precision_onnx", fake_precision)
    trt = _fake(ALL[-1])
    path, sidecar = engines.ensure_engine(_Spec(), BuildOptions("int8", profile_from_args((-1, 3, 224, 224))), tmp_path, trt=trt)
    assert seen == [("int8", onnx_file)] and trt.calls("OnnxParser", "parse_from_file") == [(str(int8),)]
    assert path.name == "tiny_random_int8-dynamic-b1-32-256.engine" and sidecar["onnx_path"] == str(int8)


def test_chain_fp32_is_the_export_and_a_given_onnx_must_exist(tmp_path):
    from valsuite import artifacts

    assert artifacts.precision_onnx(None, "fp32", tmp_path / "a.onnx") == tmp_path / "a.onnx"
    with pytest.raises(ValsuiteError, match="ONNX file not found"):
        artifacts.onnx_for(None, "fp16", tmp_path, artifact=tmp_path / "missing.onnx")


def test_build_options_validation():
    with pytest.raises(ValsuiteError, match="0..5"):
        BuildOptions("fp32", profile_from_args((-1, 3, 224, 224)), opt_level=7).check()
    with pytest.raises(ValsuiteError, match="workspace"):
        BuildOptions("fp32", profile_from_args((-1, 3, 224, 224)), workspace_mb=0).check()
    assert trt_build.BuildOptions("fp32", profile_from_args((8, 3, 224, 224))).to_dict() == \
        {"opt_level": 3, "workspace_mb": None, "tf32": False}


# -- the run side of each flavour: execution context, runtime cache, CUDA graph --------------------

@pytest.mark.parametrize("manifest", RTX, ids=[m.version for m in RTX])
def test_rtx_context_uses_the_runtime_cache_file_and_its_own_cuda_graph(manifest, tmp_path, fake_gpu):
    from valsuite.tensorrt.flavour import RuntimeCacheFile, get_flavour

    engine_path = tmp_path / "m.engine"
    engine_path.write_bytes(b"plan")
    behaviour = build_behaviour() | {("IRuntimeCache", "serialize"): b"jit-kernels",
                                     ("IRuntimeCache", "deserialize"): True}
    trt = FakeTensorRT(manifest, behaviour)
    engine = trt.Runtime(None).deserialize_cuda_engine(b"plan")
    ctx = get_flavour("rtx").create_context(trt, engine, engine_path, True, fake_gpu)
    assert ctx.builtin_cuda_graph  # the backend then captures nothing itself
    assert trt.calls("IRuntimeConfig", "set cuda_graph_strategy") == [(trt.CudaGraphStrategy.WHOLE_GRAPH_CAPTURE,)]
    assert len(trt.calls("IRuntimeConfig", "set_runtime_cache")) == 1
    assert trt.calls("IRuntimeCache", "deserialize") == []  # nothing cached yet
    ctx.save()
    cache = RuntimeCacheFile(engine_path, fake_gpu, manifest.version)
    assert cache.path.read_bytes() == b"jit-kernels" and cache.stale_reason() is None
    trt2 = FakeTensorRT(manifest, behaviour)
    get_flavour("rtx").create_context(trt2, trt2.Runtime(None).deserialize_cuda_engine(b"plan"), engine_path,
                                      False, fake_gpu)
    assert trt2.calls("IRuntimeCache", "deserialize") == [(b"jit-kernels",)]  # reused: it matches
    assert trt2.calls("IRuntimeConfig", "set cuda_graph_strategy") == [(trt2.CudaGraphStrategy.DISABLED,)]


def test_rtx_runtime_cache_is_reused_only_when_engine_gpu_and_runtime_match(tmp_path):
    from valsuite.tensorrt.flavour import RuntimeCacheFile

    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan")
    gpu = GpuInfo("NVIDIA GeForce RTX 3060", "8.6")
    RuntimeCacheFile(engine, gpu, "1.7.1.116").save(b"kernels")
    assert RuntimeCacheFile(engine, gpu, "1.7.1.116").load() == b"kernels"
    assert RuntimeCacheFile(engine, GpuInfo("NVIDIA GeForce RTX 4090", "8.9"), "1.7.1.116").load() == b""
    assert RuntimeCacheFile(engine, gpu, "1.8.0.1").stale_reason() == "runtime_version changed"
    engine.write_bytes(b"rebuilt plan")
    assert RuntimeCacheFile(engine, gpu, "1.7.1.116").stale_reason() == "engine_sha256 changed"


@pytest.mark.parametrize("manifest", TRT, ids=[m.version for m in TRT])
def test_tensorrt_context_is_plain_and_graphs_are_captured_by_torch(manifest, tmp_path, fake_gpu):
    from valsuite.tensorrt.flavour import get_flavour

    trt = _fake(manifest)
    engine = trt.Runtime(None).deserialize_cuda_engine(b"plan")
    ctx = get_flavour("tensorrt").create_context(trt, engine, tmp_path / "m.engine", True, fake_gpu)
    assert not ctx.builtin_cuda_graph and trt.calls("ICudaEngine", "create_execution_context") == [()]
    ctx.save()
    assert list(tmp_path.iterdir()) == []  # no runtime cache for TensorRT proper
