"""What a backend hands back for each head, and how the evaluation reads it.

Every backend returns one host tensor per batch:
- classifier `logits`: (N, classes) float32 scores (as before);
- classifier `topk`: (N, 10) float32, the 5 class indices (exact integers) then their 5 scores;
- classifier `argmax`: (N, 1) float32, the class index;
- segmentation heads: the engine's output as it comes (logits (N, C, H, W), labels (N, 1, H, W)
  integers, or scores (N, 1, H, W)); the host argmax of variant 1 is the caller's, timed by it.
Class indices below 2**24 are exact in float32, so the float form loses nothing.
"""

from __future__ import annotations

from valsuite.heads.kinds import TOPK, HeadSpec


def classifier_output(outputs: dict, head: HeadSpec):
    """ONNX outputs by name -> the one host tensor the validation loop reads (see module doc)."""
    import numpy as np
    import torch

    if head.name == "topk":
        packed = np.concatenate([outputs["topk_indices"].astype(np.float32),
                                 outputs["topk_scores"].astype(np.float32)], axis=1)
        return torch.from_numpy(packed)
    if head.name == "argmax":
        return torch.from_numpy(outputs["argmax_index"].astype(np.float32))
    (logits,) = outputs.values()
    return torch.from_numpy(np.asarray(logits, dtype=np.float32))


def ranked_classes(outputs, head_name: str):
    """(N, k) class indices, best first: k = 5 for logits/topk, 1 for argmax."""
    import torch

    if head_name == "topk":
        return outputs[:, :TOPK].round().long()
    if head_name == "argmax":
        return outputs[:, :1].round().long()
    outputs = outputs.float()
    return torch.topk(outputs, min(TOPK, outputs.shape[1]), dim=1).indices
