"""The pipeline pieces that run on a CPU: prefetching, the GPU-decode stage (on the CPU), CLI checks."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO, write_image
from tests.speed_helpers import tiny_spec
from valsuite.data.gpu_decode import GpuDecodeStage, encoded_loader, gpu_decodable
from valsuite.data.gpu_resize import resize_crop_reference
from valsuite.data.loader import ManifestDataset
from valsuite.data.manifest import scan_dataset
from valsuite.data.prefetch import background, ordered_prefetch
from valsuite.data.preprocess import Preprocess, load_rgb, load_uint8
from valsuite.evaluate.runner import RunConfig, run_one
from valsuite.evaluate.validate import run_validation, top1_array


@pytest.mark.parametrize("threads", [0, 1, 3])
def test_ordered_prefetch_keeps_order(threads):
    import random
    import time

    def slow_square(x):
        time.sleep(random.random() / 200)
        return x * x

    assert list(ordered_prefetch(range(20), slow_square, threads=threads, depth=4)) == [x * x for x in range(20)]
    assert list(background(iter(range(7)), lambda x: -x, depth=3)) == [-x for x in range(7)]


def test_prefetch_reraises_at_the_failing_item():
    def fn(x):
        if x == 3:
            raise ValueError("item 3")
        return x

    seen = []
    with pytest.raises(ValueError, match="item 3"):
        for value in background(iter(range(6)), fn):
            seen.append(value)
    assert seen == [0, 1, 2]


def _jpeg_bytes(mode="RGB", **save):
    img = Image.new(mode, (20, 16), 128 if mode == "L" else None)
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", **save)
    return buffer.getvalue()


def test_gpu_decodable_sorts_files():
    assert gpu_decodable(_jpeg_bytes("RGB"))
    assert not gpu_decodable(_jpeg_bytes("L"))                      # grayscale
    assert not gpu_decodable(_jpeg_bytes("CMYK"))                   # CMYK (Adobe marker, 4 components)
    assert not gpu_decodable(_jpeg_bytes("RGB", progressive=True))  # progressive: PIL path
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    assert not gpu_decodable(buffer.getvalue())
    assert not gpu_decodable(b"")


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(500, 375), (375, 500), (61, 47), (224, 224), (90, 600)])
def test_tensor_resize_crop_is_pils_resize_crop(tmp_path, interpolation, size):
    """Given the same decoded pixels, the GPU path's resize + crop is bit-identical to PIL's."""
    import torch

    pp = Preprocess(resize_size=232 if min(size) > 100 else 40, crop_size=224 if min(size) > 100 else 32,
                    interpolation=interpolation)
    path = write_image(tmp_path / "x.JPEG", size=size, seed=3)
    rgb = np.asarray(load_rgb(path))
    img = torch.from_numpy(rgb.copy()).permute(2, 0, 1).contiguous()
    got = resize_crop_reference(img, pp.resize_size, pp.crop_size, interpolation).numpy()
    assert np.array_equal(got, load_uint8(path, pp))


def _mixed_dataset(root):
    """RGB baseline JPEGs plus one file of every kind the GPU path hands to PIL."""
    for i in range(5):
        write_image(root / "n01440764" / f"rgb_{i}.JPEG", size=(50 + i, 40), seed=i)
    write_image(root / "n04285008" / "gray.JPEG", mode="L", seed=10)
    write_image(root / "n04285008" / "cmyk.JPEG", mode="CMYK", seed=11)
    Image.fromarray(np.full((30, 30, 3), 90, np.uint8)).save(root / "n15075141" / "a.png") if \
        (root / "n15075141").mkdir(parents=True) is None else None
    return root


@pytest.mark.parametrize("workers", [0, 2])
def test_gpu_decode_stage_on_cpu_counts_every_image(tmp_path, workers):
    root = _mixed_dataset(tmp_path / "val")
    manifest = scan_dataset(root)
    spec = tiny_spec()
    stage = GpuDecodeStage(spec.preprocess, device="cpu")
    batches = encoded_loader(manifest, spec.preprocess, 3, workers)
    backend_cfg = RunConfig(network="tiny", dataset=root, batch_size=3, workers=0, progress=False)
    reference = run_one(backend_cfg, spec)
    from valsuite.backends import create_backend

    with create_backend("torch", spec) as backend:
        result = run_validation(backend, batches, len(manifest), spec.preprocess, 3, progress=False, stage=stage)
    assert result.num_images == 8 and sorted(result.indices) == list(range(8))
    assert stage.describe() == {"gpu_decoded_files": 5, "cpu_decoded_files": 3}
    assert result.stage == "gpu-decode-on-cpu"
    # fallback files are decoded exactly as the CPU path; decoded ones closely
    agree = (top1_array(result) == top1_array(reference.result)).mean()
    assert agree >= 0.75, agree


def test_gpu_decode_stage_falls_back_per_file(tmp_path, monkeypatch, caplog):
    """A file the decoder rejects is decoded by PIL with a warning naming it, the rest stay batched."""
    import torchvision.io

    root = tmp_path / "val"
    for i in range(4):
        write_image(root / "n01440764" / f"f{i}.JPEG", size=(40, 36), seed=i)
    manifest = scan_dataset(root)
    pp = Preprocess(resize_size=36, crop_size=32)
    real = torchvision.io.decode_jpeg

    def picky(data, *a, **kw):
        if isinstance(data, list) or bytes(data[-64:].numpy()) == open(root / "n01440764" / "f2.JPEG", "rb").read()[-64:]:
            raise RuntimeError("nvjpeg status 2")
        return real(data, *a, **kw)

    monkeypatch.setattr(torchvision.io, "decode_jpeg", picky)
    stage = GpuDecodeStage(pp, device="cpu")
    staged = list(stage(encoded_loader(manifest, pp, 4, 0)))
    staged[0].ready()
    images = staged[0].device_images().numpy()
    assert stage.describe() == {"gpu_decoded_files": 3, "cpu_decoded_files": 1}
    assert np.array_equal(images[2], ManifestDataset(manifest, pp)[2][0])
    assert any("f2.JPEG" in r.getMessage() for r in caplog.records)


def test_gpu_decode_unreadable_file_is_an_error_naming_it(tmp_path):
    from valsuite.errors import ValsuiteError

    root = tmp_path / "val"
    write_image(root / "n01440764" / "ok.JPEG")
    (root / "n01440764" / "bad.JPEG").write_bytes(b"\xff\xd8garbage")
    manifest = scan_dataset(root)
    pp = Preprocess(resize_size=36, crop_size=32)
    with pytest.raises(ValsuiteError, match="bad.JPEG"):
        list(GpuDecodeStage(pp, device="cpu")(encoded_loader(manifest, pp, 2, 0)))


@pytest.mark.parametrize("extra, message", [
    (["--decode", "gpu"], "--decode gpu needs --device cuda"),
    (["--cuda-graph"], "--cuda-graph needs --device cuda"),
    (["--backend", "inductor", "--precision", "fp16"], "inductor fp16 runs on CUDA only"),
])
def test_cli_rejects_gpu_only_options_on_cpu(tiny_dataset, tmp_path, extra, message):
    result = subprocess.run(
        [sys.executable, "main.py", "-v", "--network", "resnet18", "--random-weights", "--device", "cpu",
         "--dataset", str(tiny_dataset), "--no-progress", "--results-dir", str(tmp_path / "r"), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_cli_cache_builds_then_reuses(tiny_dataset, tmp_path):
    import json

    outs = []
    for run in range(2):
        out = tmp_path / f"r{run}.json"
        result = subprocess.run(
            [sys.executable, "main.py", "-v", "--network", "resnet18", "--random-weights", "--device", "cpu",
             "--dataset", str(tiny_dataset), "--cache", str(tmp_path / "cache"), "--batch_size", "4",
             "--workers", "0", "--no-progress", "--results-dir", str(tmp_path / "r"), "--output-json", str(out)],
            cwd=REPO, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        outs.append(json.loads(out.read_text()))
    assert [o["dataset"]["cache"]["built"] for o in outs] == [True, False]
    assert all(o["num_images"] == 7 and o["e2e_throughput_img_s"] > 0 for o in outs)


@pytest.mark.parametrize("batch_size,workers", [(1, 0), (2, 3), (3, 2), (50, 1)])
def test_encoded_loader_yields_every_image_once_beyond_the_read_ahead(tiny_dataset, batch_size, workers):
    """More batches than the read-ahead depth: a lost or repeated batch would show here."""
    from valsuite.data.manifest import scan_dataset
    from valsuite.data.preprocess import Preprocess

    manifest = scan_dataset(tiny_dataset)
    batches = list(encoded_loader(manifest, Preprocess(32, 24), batch_size, workers))
    indices = [i for b in batches for i in b.indices.tolist()]
    assert indices == list(range(len(manifest)))
