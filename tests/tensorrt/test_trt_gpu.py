"""Real TensorRT on a real GPU: build a tiny engine, run it through the backend, compare with onnxruntime.

Runs with the auto flavour (TensorRT 10.x/11.x when it imports, else TensorRT-RTX, which CI
installs) and skips only with that flavour's runtime reason: no GPU, or a GPU it does not support
(TensorRT-RTX refuses compute capability 9.0, e.g. an H200). To run it: `python -m pytest tests/tensorrt/test_trt_gpu.py -v`
on a machine with an NVIDIA GPU (an RTX 30/40/50 or an A100 for TensorRT-RTX).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from valsuite.errors import ValsuiteError

pytestmark = [pytest.mark.tensorrt, pytest.mark.gpu]


@pytest.fixture(scope="module")
def trt():
    from valsuite.tensorrt.flavour import get_flavour, runtime_support

    support = runtime_support("auto")
    if not support.ok:
        pytest.skip(support.line)
    return get_flavour("auto").import_module()


def _tiny_onnx(path, size: int = 32) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3, "w"),
             numpy_helper.from_array(rng.standard_normal(8).astype(np.float32) * 0.1, "b"),
             numpy_helper.from_array(rng.standard_normal((10, 8)).astype(np.float32) * 0.3, "fw"),
             numpy_helper.from_array(rng.standard_normal(10).astype(np.float32) * 0.1, "fb")]
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, "tiny",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@pytest.mark.parametrize("cuda_graph", [False, True])
def test_tiny_engine_matches_onnxruntime(trt, tmp_path, cuda_graph):
    import onnxruntime as ort
    import torch

    from valsuite.backends.base import BackendOptions
    from valsuite.backends.tensorrt_backend import TensorRTBackend
    from valsuite.tensorrt.build import BuildOptions, build_engine
    from valsuite.tensorrt.engines import check_engine_file, expected_facts
    from valsuite.tensorrt.flavour import flavour_of
    from valsuite.tensorrt.profile import profile_from_args

    flavour = flavour_of(trt)
    onnx_path, engine = tmp_path / "tiny.onnx", tmp_path / "tiny_fp32-dynamic-b1-4-8.engine"
    _tiny_onnx(onnx_path)
    options = BuildOptions("fp32", profile_from_args((-1, 3, 32, 32), 1, 4, 8), timing_cache=tmp_path / "tc.cache")
    facts = expected_facts(trt, onnx_path, options) | {"onnx_path": str(onnx_path)}
    sidecar = build_engine(trt, onnx_path, engine, options, facts)
    assert sidecar["engine_inspection"]["done"] and sidecar["num_layers"] >= 1
    assert sum(sidecar["layer_precisions"].values()) == len(sidecar["engine_inspection"]["layers"])
    assert (tmp_path / "tc.cache").is_file() == (flavour.name == "tensorrt")

    spec = SimpleNamespace(input_shape=(3, 32, 32), network="tiny")
    from valsuite.options.trt import TrtBuildOptions

    backend = TensorRTBackend(spec, "fp32", "cuda", BackendOptions(artifact=engine, batch_size=8, cuda_graph=cuda_graph,
                                                                   trt=TrtBuildOptions(trt_flavour=flavour.name)))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((11, 3, 32, 32)).astype(np.float32))
    expected = session.run(None, {"input": x.numpy()})[0]
    with backend:
        outs = []
        for batch in (x[:8], x[8:]):  # a full batch, then a partial last batch of 3
            out, model_ms = backend.infer(batch)
            assert model_ms > 0 and out.dtype == torch.float32
            outs.append(out.numpy())
        again, _ = backend.infer(x[:8])  # back to the full shape (and its graph)
        with pytest.raises(ValsuiteError, match="outside the TensorRT engine's profile"):
            backend.infer(torch.zeros((9, 3, 32, 32)))
        info = backend.info()
    got = np.concatenate(outs)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)  # TF32 off: FP32 matches the FP32 reference
    np.testing.assert_allclose(again.numpy(), outs[0], rtol=0, atol=0)
    assert info.num_layers == sidecar["num_layers"] and info.details["tensorrt_version"] == trt.__version__
    with pytest.raises(ValsuiteError, match="built for fp32"):
        check_engine_file(engine, "fp16", trt)
    if flavour.name == "rtx":  # JIT kernels saved next to the engine, with their own sidecar
        assert (tmp_path / f"{engine.name}.runtime.cache").stat().st_size > 0
        assert (tmp_path / f"{engine.name}.runtime.cache.json").is_file()
