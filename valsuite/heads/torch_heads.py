"""The heads for the torch and inductor backends: the same computations as the ONNX edits, in torch,
inside the module (so Latency-model includes them and only their result is copied to the host)."""

from __future__ import annotations

from valsuite.heads.kinds import TOPK, HeadSpec
from valsuite.heads.onnx_heads import fused_size


def wrap_head(module, head: HeadSpec | None):
    """`module` with `head` on its output; the identity heads return `module` itself."""
    if head is None or head.is_identity:
        return module
    if head.fused and not hasattr(module, "low_res"):
        raise TypeError("a fused head needs a segmentation module with low_res() (models/segmentation.py)")
    return _head_class()(module, head.name, head.fuse_scale)


def _head_class():
    import torch
    import torch.nn.functional as F

    class Head(torch.nn.Module):
        def __init__(self, module, name: str, fuse_scale: float) -> None:
            super().__init__()
            self.module, self.name, self.fuse_scale = module, name, fuse_scale

        def forward(self, x):
            if self.name.startswith("fused-"):
                return self._fused(x)
            out = self.module(x).float()
            if self.name == "topk":                     # classifier: indices then scores
                scores, indices = torch.topk(out, TOPK, dim=1)
                return torch.cat([indices.float(), scores], dim=1)
            if self.name == "argmax":                   # classifier (N, 1) or segmentation (N, 1, H, W)
                return out.argmax(dim=1, keepdim=True).float()
            return out.amax(dim=1, keepdim=True)        # reducemax

        def _fused(self, x):
            height, width = x.shape[-2:]
            low = self.module.low_res(x)
            small = F.interpolate(low, size=fused_size(height, width, self.fuse_scale), mode="bilinear",
                                  align_corners=False).float()
            reduced = small.argmax(dim=1, keepdim=True).float() if self.name == "fused-argmax" \
                else small.amax(dim=1, keepdim=True)
            # "nearest" = ONNX Resize nearest, asymmetric, floor: the edit's nearest upsample
            return F.interpolate(reduced, size=(height, width), mode="nearest")

    return Head
