"""GPU paths of the speed feature (skip without CUDA): same predictions whatever the pipeline option."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import write_image
from tests.speed_helpers import tiny_spec
from valsuite.backends import BackendOptions, create_backend
from valsuite.data.manifest import scan_dataset
from valsuite.evaluate.runner import RunConfig, run_one
from valsuite.evaluate.stages import SerialStage
from valsuite.evaluate.validate import run_validation, top1_array
from valsuite.options.inductor import InductorOptions

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none visible to torch)")]


@pytest.fixture
def jpegs(tmp_path):
    root = tmp_path / "val"
    seed = 0
    for wnid in ("n01440764", "n01443537", "n04285008"):
        for i in range(7):
            write_image(root / wnid / f"{i}.JPEG", size=(64 + i, 48), seed=seed)
            seed += 1
    write_image(root / "n04285008" / "gray.JPEG", mode="L", seed=90)
    write_image(root / "n04285008" / "cmyk.JPEG", mode="CMYK", seed=91)
    return root


def _run(root, tmp_path, **kw):
    kw = {"workers": 2} | kw
    cfg = RunConfig(network="tiny", dataset=root, device="cuda", batch_size=4, progress=False, **kw)
    return run_one(cfg, tiny_spec())


def test_copy_stream_cache_and_workers_never_change_a_prediction(jpegs, tmp_path):
    reference = _run(jpegs, tmp_path, workers=0)
    assert reference.record["pipeline_stage"] == "cuda-copy-stream"
    top1 = top1_array(reference.result)
    for kw in ({"workers": 2}, {"cache": tmp_path / "c"}, {"cache": tmp_path / "c", "workers": 0}):
        other = _run(jpegs, tmp_path, **kw)
        assert np.array_equal(top1_array(other.result), top1), kw
        assert other.record["prec1"] == reference.record["prec1"]
    spec = tiny_spec()
    manifest = scan_dataset(jpegs)
    from valsuite.data.loader import ManifestDataset, iterate_batches, make_loader

    with create_backend("torch", spec, device="cuda") as backend:
        serial = run_validation(backend, iterate_batches(make_loader(ManifestDataset(manifest, spec.preprocess), 4, 0)),
                                len(manifest), spec.preprocess, 4, progress=False, stage=SerialStage("cuda"))
    assert np.array_equal(top1_array(serial), top1)


@pytest.mark.parametrize("backend_name", ["torch", "inductor"])
def test_cuda_graph_matches_eager_including_a_partial_batch(backend_name, tmp_path):
    spec = tiny_spec()
    opts = BackendOptions(weights_dir=tmp_path, batch_size=4, cuda_graph=True)
    x = torch.randn((7, 3, 32, 32), device="cuda")
    with create_backend("torch", spec, "fp32", "cuda") as eager:
        want = torch.cat([eager.infer(x[:4])[0], eager.infer(x[4:])[0]])
    with create_backend(backend_name, spec, "fp32", "cuda", opts) as graph:
        got = torch.cat([graph.infer(x[:4])[0], graph.infer(x[4:])[0]])
        assert graph.info().details["cuda_graph"] is True
    torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("mode", ["jit", "aot"])
def test_inductor_reduced_precision_close_to_eager(precision, mode, tmp_path):
    spec = tiny_spec()
    x = torch.randn((6, 3, 32, 32), device="cuda")
    with create_backend("torch", spec, precision, "cuda") as eager:
        want = eager.infer(x)[0]
    opts = BackendOptions(weights_dir=tmp_path, batch_size=6, inductor=InductorOptions(inductor_mode=mode))
    with create_backend("inductor", spec, precision, "cuda", opts) as compiled:
        got = compiled.infer(x)[0]
        assert compiled.info().details["compile_s"] > 0
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=5e-2, atol=5e-2)


def test_gpu_decode_counts_every_image_and_falls_back(jpegs, tmp_path):
    cpu = _run(jpegs, tmp_path)
    gpu = _run(jpegs, tmp_path, decode="gpu")
    assert gpu.record["num_images"] == 23 and sorted(gpu.result.indices) == list(range(23))
    assert gpu.record["dataset"]["decode_details"] == {"gpu_decoded_files": 21, "cpu_decoded_files": 2}
    assert gpu.record["pipeline_stage"] == "gpu-decode"
    agree = (top1_array(gpu.result) == top1_array(cpu.result)).mean()
    assert agree >= 0.75, agree


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_inductor_peak_mode_close_to_eager_with_a_padded_batch(precision, tmp_path):
    spec = tiny_spec()
    x = torch.randn((6, 3, 32, 32), device="cuda")
    with create_backend("torch", spec, precision, "cuda") as eager:
        want = eager.infer(x)[0]
    opts = BackendOptions(weights_dir=tmp_path, batch_size=4, inductor=InductorOptions(inductor_mode="peak"))
    with create_backend("inductor", spec, precision, "cuda", opts) as peak:
        got = torch.cat([peak.infer(x[:4])[0], peak.infer(x[4:])[0]])
        details = peak.info().details
    assert details["mode"] == "peak" and details["cuda_graph"] is True and details["compile_s"] > 0
    torch.testing.assert_close(got, want, rtol=5e-2, atol=5e-2)


def test_gpu_resize_kernels_match_pillow_on_cuda():
    from PIL import Image

    from valsuite.data.gpu_resize import resize_crop_batch
    from valsuite.data.preprocess import Preprocess, to_uint8

    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((375, 500), (500, 333), (600, 90))]
    images = [torch.from_numpy(a).permute(2, 0, 1).contiguous().cuda() for a in arrays]
    out = torch.zeros((3, 3, 224, 224), dtype=torch.uint8, device="cuda")
    resize_crop_batch(images, out, [2, 0, 1], 256, 224, "bicubic")
    pp = Preprocess(resize_size=256, crop_size=224, interpolation="bicubic")
    for a, pos in zip(arrays, [2, 0, 1]):
        assert np.array_equal(out[pos].cpu().numpy(), to_uint8(Image.fromarray(a), pp))

