"""Resize + centre crop a whole batch of decoded images of any sizes in two GPU kernels.

Why not torch's F.interpolate: it takes one output size for a batch, and ImageNet images have
hundreds of sizes, so a batch needs a Python loop of resizes (measured on the H200: the loop
halves nvJPEG's 13.9k img/s). Here every image carries its own filter table ("box") and one
launch per pass serves the batch: a horizontal pass (the crop's columns, every row the crop's rows
need) and a vertical pass (the crop's rows), written straight into the batch tensor.

The arithmetic is PIL's (Pillow's Resample.c): the same filters (bilinear = triangle, bicubic
with a = -0.5, support scaled by the downscale factor: antialiased), the same coefficients
normalised in float64 and quantised to 22-bit integers, integer accumulation, rounding and a
uint8 intermediate between the horizontal and the vertical pass. Given the same decoded pixels
the output is bit-identical to preprocess.resize_crop (tested), so the GPU path differs from the
CPU path only where nvJPEG's decode differs from libjpeg-turbo's.

Only the cropped outputs are computed: a coefficient row depends on the output position and the
scale alone, so computing columns left..left+crop of the resized image equals resizing and then
cropping.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from valsuite.errors import ValsuiteError

PRECISION_BITS = 22                  # Pillow: 32 - 8 bits - 2 bits of headroom
META = 16                            # int64 fields per image in the kernels' metadata row


def _bilinear(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    return np.where(x < 1.0, 1.0 - x, 0.0)


def _bicubic(x: np.ndarray) -> np.ndarray:
    a = -0.5
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


_FILTERS = {"bilinear": (1.0, _bilinear), "bicubic": (2.0, _bicubic)}


@functools.lru_cache(maxsize=4096)
def axis_table(in_size: int, out_size: int, start: int, count: int, interpolation: str):
    """(first source index per output, taps, int32 coefficients (count, taps)) for outputs
    start..start+count of an in_size -> out_size resize; Pillow's precompute_coeffs + normalize."""
    if interpolation not in _FILTERS:
        raise ValsuiteError(f"GPU resize supports bilinear and bicubic, not {interpolation!r}",
                            hint="use --decode cpu for this model's preprocessing")
    support0, filt = _FILTERS[interpolation]
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = support0 * filterscale
    taps = int(math.ceil(support)) * 2 + 1
    center = (np.arange(start, start + count, dtype=np.float64) + 0.5) * scale
    first = np.maximum(np.trunc(center - support + 0.5), 0).astype(np.int64)      # C's (int) cast
    used = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_size) - first
    k = np.arange(taps)
    weights = filt(((k[None, :] + first[:, None]) - center[:, None] + 0.5) * (1.0 / filterscale))
    weights = np.where(k[None, :] < used[:, None], weights, 0.0)
    total = np.zeros(count)
    for j in range(taps):                      # sequential sum, as Pillow (not numpy's pairwise)
        total = total + weights[:, j]
    weights = np.divide(weights, total[:, None], out=weights.copy(), where=total[:, None] != 0)
    scaled = weights * (1 << PRECISION_BITS)
    coeffs = np.where(scaled < 0, np.trunc(-0.5 + scaled), np.trunc(0.5 + scaled)).astype(np.int32)
    end = int((first + used).max())
    first = first.astype(np.int32)
    first.flags.writeable = coeffs.flags.writeable = False       # cached: never modified
    return first, taps, coeffs, end


def resized_size(height: int, width: int, resize: int) -> tuple[int, int]:
    """Shorter side -> resize, longer side truncated, exactly as preprocess.resize_crop."""
    if width <= height:
        return int(resize * height / width), resize
    return resize, int(resize * width / height)


def crop_tables(height: int, width: int, resize: int, crop: int, interpolation: str):
    """Row and column tables of one image's resize + centre crop (torchvision's offsets)."""
    new_h, new_w = resized_size(height, width, resize)
    top, left = int(round((new_h - crop) / 2.0)), int(round((new_w - crop) / 2.0))
    return (axis_table(height, new_h, top, crop, interpolation),
            axis_table(width, new_w, left, crop, interpolation))


def _round_shift(acc):
    """Pillow's clip8: (acc + half) >> 22, clamped to 0..255 (acc already holds the half)."""
    import torch

    return (acc >> PRECISION_BITS).clamp_(0, 255).to(torch.uint8)


def _pass(a: np.ndarray, first: np.ndarray, taps: int, coeffs: np.ndarray, axis: int) -> np.ndarray:
    """One integer pass of Pillow's resample along `axis` (0 rows, 1 columns) of an HxWx3 array."""
    idx = np.minimum(first[:, None].astype(np.int64) + np.arange(taps), a.shape[axis] - 1)
    pix = np.take(a.astype(np.int64), idx, axis=axis)          # axis -> (outputs, taps)
    k = coeffs.astype(np.int64)
    acc = (pix * (k[:, :, None, None] if axis == 0 else k[None, :, :, None])).sum(axis + 1)
    return np.clip((acc + (1 << (PRECISION_BITS - 1))) >> PRECISION_BITS, 0, 255)


@functools.lru_cache(maxsize=65536)
def vertical_first(height: int, width: int, new_h: int, new_w: int, interpolation: str) -> bool:
    """Does the installed Pillow run the vertical pass first for this resize?

    Pillow 13 picks the pass order by image shape (the rule is not documented; it changed from
    always-horizontal-first), and the order changes the rounding between the passes. So ask
    Pillow once per size: resize a seeded random image and see which order reproduces its first
    rows (about 1 ms per distinct size, cached)."""
    from PIL import Image

    if new_h == height or new_w == width:
        return False                          # one pass only: the order cannot matter
    rows = min(new_h, 8)
    a = np.random.default_rng(height * 65599 + width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    filt = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[interpolation]
    want = np.asarray(Image.fromarray(a).resize((new_w, new_h), filt))[:rows].astype(np.int64)
    rfirst, rtaps, rk, rend = axis_table(height, new_h, 0, rows, interpolation)
    cfirst, ctaps, ck, _ = axis_table(width, new_w, 0, new_w, interpolation)
    vert = _pass(_pass(a, rfirst, rtaps, rk, 0), cfirst, ctaps, ck, 1)
    r0 = int(rfirst[0])
    horiz = _pass(_pass(a[r0:rend], cfirst, ctaps, ck, 1), rfirst - r0, rtaps, rk, 0)
    return bool(np.array_equal(vert, want) and not np.array_equal(horiz, want))


def _oriented(height: int, width: int, resize: int, interpolation: str) -> bool:
    new_h, new_w = resized_size(height, width, resize)
    return vertical_first(height, width, new_h, new_w, interpolation)


def _horizontal_first_reference(img, resize: int, crop: int, interpolation: str):
    import torch

    (rows_first, rows_taps, rows_k, _), (cols_first, cols_taps, cols_k, _) = crop_tables(
        int(img.shape[1]), int(img.shape[2]), resize, crop, interpolation)
    dev = img.device
    img = img.to(torch.int64)
    half = 1 << (PRECISION_BITS - 1)
    idx = torch.tensor(cols_first, device=dev)[:, None].long() + torch.arange(cols_taps, device=dev)
    k = torch.tensor(cols_k, dtype=torch.int64, device=dev)
    pix = img[:, :, idx.clamp(max=img.shape[2] - 1)]                       # (3, H, crop, taps)
    mid = _round_shift((pix * k).sum(-1) + half).to(torch.int64)           # (3, H, crop)
    idx = torch.tensor(rows_first, device=dev)[:, None].long() + torch.arange(rows_taps, device=dev)
    k = torch.tensor(rows_k, dtype=torch.int64, device=dev)
    pix = mid[:, idx.clamp(max=mid.shape[1] - 1), :]                       # (3, crop, taps, crop)
    return _round_shift((pix * k[None, :, :, None]).sum(2) + half)


def resize_crop_reference(image, resize: int, crop: int, interpolation: str):
    """One CHW uint8 tensor on any device -> (3, crop, crop) uint8, the same integer arithmetic in
    torch ops (CPU fallback and test reference for the kernels). A vertical-first resize is the
    horizontal-first one of the transposed image, transposed back."""
    if _oriented(int(image.shape[1]), int(image.shape[2]), resize, interpolation):
        return _horizontal_first_reference(image.transpose(1, 2), resize, crop, interpolation).transpose(1, 2)
    return _horizontal_first_reference(image, resize, crop, interpolation)


class BatchPlan:
    """Per-batch metadata for the kernels: one int64 row per image and one int32 table buffer
    (each distinct row/column table once: a batch of ImageNet files has a few dozen sizes).
    A vertical-first image is described transposed (strides swapped), so both kernels run the
    horizontal-first algorithm on every image."""

    def __init__(self, shapes: list, positions: list, resize: int, crop: int, interpolation: str) -> None:
        tables: list = []
        offsets: dict = {}
        held: list = []                                # keeps each table alive, so its id stays unique
        size = 0

        def place(table) -> int:
            nonlocal size
            key = id(table)                            # lru_cache returns the same tuple per key
            if key not in offsets:
                first, _, coeffs, _ = table
                offsets[key] = size
                held.append(table)
                tables.extend((first, coeffs.reshape(-1)))
                size += first.size + coeffs.size
            return offsets[key]

        meta = np.zeros((len(shapes), META), dtype=np.int64)
        in_off = mid_off = 0
        for n, ((_, height, width), pos) in enumerate(zip(shapes, positions)):
            flip = _oriented(height, width, resize, interpolation)
            lh, lw = (width, height) if flip else (height, width)
            rows, cols = crop_tables(lh, lw, resize, crop, interpolation)
            row0 = int(rows[0][0])
            span = rows[3] - row0                      # source rows the crop needs
            strides = (1, width, 1, crop) if flip else (width, 1, crop, 1)
            meta[n] = (in_off, lh, lw, place(cols), cols[1], place(rows), rows[1], row0, span,
                       mid_off, pos, *strides, height * width)
            in_off += 3 * height * width
            mid_off += 3 * span * crop
        self.meta = meta
        self.tables = np.concatenate(tables).astype(np.int32) if tables else np.zeros(0, np.int32)
        self.mid_size = mid_off
        self.max_rows = int(meta[:, 8].max()) if len(shapes) else 0


def resize_crop_batch(images: list, out, positions: list, resize: int, crop: int, interpolation: str,
                      use_kernels: bool | None = None) -> None:
    """Resize + crop decoded CHW uint8 images (one device) into out[positions] ((N, 3, crop, crop)).

    Kernels (Triton) on CUDA; elsewhere the torch reference per image, unless use_kernels=True
    (the tests run the kernels in Triton's CPU interpreter)."""
    import torch

    if not images:
        return
    if use_kernels is None:
        use_kernels = images[0].is_cuda
    if not use_kernels:
        for img, pos in zip(images, positions):
            out[pos] = resize_crop_reference(img, resize, crop, interpolation)
        return
    from valsuite.data import gpu_resize_kernels as kernels

    plan = BatchPlan([tuple(img.shape) for img in images], positions, resize, crop, interpolation)
    dev = images[0].device
    src = torch.cat([img.reshape(-1) for img in images])            # one launch, not one per image
    mid = torch.empty(plan.mid_size, dtype=torch.uint8, device=dev)
    meta = torch.from_numpy(plan.meta).to(dev, non_blocking=False)
    tables = torch.from_numpy(plan.tables).to(dev, non_blocking=False)
    kernels.launch(src, mid, out, meta, tables, len(images), plan.max_rows, crop)
    return src, mid, meta, tables              # the caller keeps them alive until the stream is done
