"""The two Triton kernels of gpu_resize (imported only when a batch is resized on the GPU).

Metadata row per image (int64): 0 source offset, 1 height, 2 width (both as the kernels see the
image: transposed for a vertical-first resize), 3 column table offset, 4 column taps, 5 row table
offset, 6 row taps, 7 first source row used, 8 rows used, 9 intermediate offset, 10 position in the
output batch, 11-12 source row and column strides, 13-14 output row and column strides,
15 source channel plane (height x width). A table at offset o holds `crop` first
indices, then crop x taps int32 coefficients. Accumulation is int32, as in Pillow.
"""

from __future__ import annotations

import triton
import triton.language as tl

_HALF = 1 << 21
_BLOCK_R = 8          # intermediate rows per program of the horizontal pass
_BLOCK_Y = 8          # output rows per program of the vertical pass


@triton.jit
def _horizontal(src, mid, meta, tables, CROP: tl.constexpr, META: tl.constexpr,
                BLOCK_R: tl.constexpr, BLOCK_X: tl.constexpr):
    i = tl.program_id(0)
    block = tl.program_id(1)
    row = meta + i * META
    in_off = tl.load(row + 0)
    width = tl.load(row + 2)
    t_off = tl.load(row + 3)
    taps = tl.load(row + 4)
    row0 = tl.load(row + 7)
    span = tl.load(row + 8)
    mid_off = tl.load(row + 9)
    row_stride = tl.load(row + 11)
    col_stride = tl.load(row + 12)
    plane = tl.load(row + 15)
    rows = block * BLOCK_R + tl.arange(0, BLOCK_R)          # over (channel, used row)
    rmask = rows < 3 * span
    chan = rows // span
    src_row = in_off + chan * plane + (rows % span + row0) * row_stride
    xs = tl.arange(0, BLOCK_X)
    xmask = xs < CROP
    first = tl.load(tables + t_off + xs, mask=xmask, other=0)
    acc = tl.full((BLOCK_R, BLOCK_X), 2097152, tl.int32)     # 1 << 21: Pillow's rounding half
    n = tl.where(block * BLOCK_R < 3 * span, taps, 0)        # programs past this image do nothing
    for k in range(0, n):
        w = tl.load(tables + t_off + CROP + xs * taps + k, mask=xmask, other=0)
        col = first + k
        ok = rmask[:, None] & (xmask & (col < width))[None, :]
        p = tl.load(src + src_row[:, None] + col[None, :] * col_stride, mask=ok, other=0)
        acc += p.to(tl.int32) * w[None, :]
    val = tl.minimum(tl.maximum(acc >> 22, 0), 255).to(tl.uint8)
    tl.store(mid + mid_off + rows[:, None] * CROP + xs[None, :], val, mask=rmask[:, None] & xmask[None, :])


@triton.jit
def _vertical(mid, out, meta, tables, CROP: tl.constexpr, META: tl.constexpr,
              BLOCK_Y: tl.constexpr, BLOCK_X: tl.constexpr):
    i = tl.program_id(0)
    chan = tl.program_id(1)
    block = tl.program_id(2)
    row = meta + i * META
    t_off = tl.load(row + 5)
    taps = tl.load(row + 6)
    row0 = tl.load(row + 7)
    span = tl.load(row + 8)
    mid_off = tl.load(row + 9)
    pos = tl.load(row + 10)
    out_rs = tl.load(row + 13)
    out_cs = tl.load(row + 14)
    ys = block * BLOCK_Y + tl.arange(0, BLOCK_Y)
    ymask = ys < CROP
    xs = tl.arange(0, BLOCK_X)
    xmask = xs < CROP
    first = tl.load(tables + t_off + ys, mask=ymask, other=0) - row0
    base = mid + mid_off + chan * span * CROP
    acc = tl.full((BLOCK_Y, BLOCK_X), 2097152, tl.int32)
    for k in range(0, taps):
        w = tl.load(tables + t_off + CROP + ys * taps + k, mask=ymask, other=0)
        r = first + k
        ok = (ymask & (r < span))[:, None] & xmask[None, :]
        p = tl.load(base + r[:, None] * CROP + xs[None, :], mask=ok, other=0)
        acc += p.to(tl.int32) * w[:, None]
    val = tl.minimum(tl.maximum(acc >> 22, 0), 255).to(tl.uint8)
    dst = out + (pos * 3 + chan) * CROP * CROP + ys[:, None] * out_rs + xs[None, :] * out_cs
    tl.store(dst, val, mask=ymask[:, None] & xmask[None, :])


def launch(src, mid, out, meta, tables, count: int, max_rows: int, crop: int) -> None:
    """Both passes on the current stream: grid (images, row blocks) then (images, 3, row blocks)."""
    block_x = triton.next_power_of_2(crop)
    _horizontal[(count, triton.cdiv(3 * max_rows, _BLOCK_R))](
        src, mid, meta, tables, CROP=crop, META=meta.shape[1], BLOCK_R=_BLOCK_R, BLOCK_X=block_x)
    _vertical[(count, 3, triton.cdiv(crop, _BLOCK_Y))](
        mid, out, meta, tables, CROP=crop, META=meta.shape[1], BLOCK_Y=_BLOCK_Y, BLOCK_X=block_x)
