"""Output heads: what the engine returns instead of (or on top of) the raw logits.

Classifier heads (`logits`, `topk`, `argmax`) and segmentation heads (`host-argmax`, `argmax`,
`fused-argmax`, `reducemax`, `fused-reducemax`) are made as ONNX graph edits of the exported
(or precision-converted) model, one function per head, cached beside it with a sidecar
(onnx_heads.py), and as small torch wrappers for the torch and inductor backends (torch_heads.py).
"""

from valsuite.heads.kinds import (CLASSIFIER_HEADS, DEFAULT_FUSE_SCALE, SEGMENTATION_HEADS, HeadSpec,
                                  check_head)

__all__ = ["CLASSIFIER_HEADS", "SEGMENTATION_HEADS", "DEFAULT_FUSE_SCALE", "HeadSpec", "check_head"]
