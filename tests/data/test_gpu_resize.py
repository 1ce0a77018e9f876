"""The batched resize + crop of --decode gpu: Pillow's arithmetic, checked against Pillow itself.

The Triton kernels run here in Triton's CPU interpreter (a subprocess with TRITON_INTERPRET=1), so
the code that runs on the GPU is checked on machines without one; tests/data/test_speed_gpu.py runs
them compiled on CUDA.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO
from valsuite.data.gpu_resize import BatchPlan, axis_table, resize_crop_reference, vertical_first
from valsuite.data.preprocess import Preprocess, to_uint8
from valsuite.errors import ValsuiteError

# (height, width, resize, crop): landscape, portrait, upscale, identity axis, shapes Pillow 13
# resizes vertical-first (tall, strong vertical reduction)
CASES = [(75, 100, 56, 48), (100, 75, 50, 48), (30, 20, 40, 32), (40, 40, 40, 32), (600, 90, 40, 32),
         (300, 100, 40, 32), (47, 61, 40, 32)]


def _pil(a: np.ndarray, resize: int, crop: int, interpolation: str) -> np.ndarray:
    return to_uint8(Image.fromarray(a), Preprocess(resize_size=resize, crop_size=crop, interpolation=interpolation))


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_reference_is_bit_identical_to_pillow(interpolation):
    import torch

    rng = np.random.default_rng(0)
    for height, width, resize, crop in CASES:
        a = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        got = resize_crop_reference(torch.from_numpy(a).permute(2, 0, 1).contiguous(), resize, crop, interpolation)
        assert np.array_equal(got.numpy(), _pil(a, resize, crop, interpolation)), (height, width)


def test_pass_order_follows_the_installed_pillow():
    """Both orders occur in CASES with this Pillow (otherwise the transposed path is untested)."""
    orders = {vertical_first(600, 90, 266, 40, "bilinear"), vertical_first(75, 100, 56, 74, "bilinear")}
    assert orders == {True, False}


def test_axis_table_weights_sum_to_one_and_stay_in_the_image():
    first, taps, coeffs, end = axis_table(500, 256, 16, 224, "bicubic")
    assert coeffs.shape == (224, taps) and taps == 9
    assert np.all(np.abs(coeffs.sum(1) - (1 << 22)) <= taps)       # quantised, normalised
    assert first.min() >= 0 and end <= 500
    with pytest.raises(ValsuiteError, match="nearest"):
        axis_table(500, 256, 0, 224, "nearest")


def test_batch_plan_shares_tables_and_orients_images():
    plan = BatchPlan([(3, 75, 100), (3, 75, 100), (3, 600, 90)], [0, 1, 2], 40, 32, "bilinear")
    assert plan.meta.shape == (3, 16)
    assert plan.meta[0, 3] == plan.meta[1, 3]                      # same size: one table, stored once
    assert list(plan.meta[2, 11:15]) == [1, 90, 1, 32]            # vertical-first: described transposed
    assert plan.meta[1, 0] == 3 * 75 * 100                         # source offsets follow the concatenation


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed")
def test_kernels_match_pillow_in_the_triton_interpreter():
    script = r"""
import numpy as np, torch
from PIL import Image
from valsuite.data.gpu_resize import resize_crop_batch
from valsuite.data.preprocess import Preprocess, to_uint8
rng = np.random.default_rng(1)
cases = [(75, 100), (100, 75), (30, 20), (40, 40), (600, 90), (300, 100), (47, 61)]
for interp in ("bilinear", "bicubic"):
    arrays = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in cases]
    images = [torch.from_numpy(a).permute(2, 0, 1).contiguous() for a in arrays]
    out = torch.full((len(images) + 1, 3, 32, 32), 7, dtype=torch.uint8)
    positions = [len(images) - i for i in range(len(images))]      # written out of order, row 0 left alone
    resize_crop_batch(images, out, positions, 40, 32, interp, use_kernels=True)
    pp = Preprocess(resize_size=40, crop_size=32, interpolation=interp)
    for a, pos in zip(arrays, positions):
        assert np.array_equal(out[pos].numpy(), to_uint8(Image.fromarray(a), pp)), (interp, a.shape)
    assert bool((out[0] == 7).all())
print("kernels ok")
"""
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "kernels ok" in done.stdout, done.stderr[-3000:]
