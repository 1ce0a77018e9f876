"""Output-head groups: --head for classifier rows, and the segmentation head study (--segmentation)."""

from __future__ import annotations

from dataclasses import dataclass

from valsuite.heads.kinds import CLASSIFIER_HEADS, DEFAULT_FUSE_SCALE, SEGMENTATION_HEADS, HeadSpec
from valsuite.options.base import OptionGroup, option

# the study's input sizes come from --input_sizes (the sweep group's flag: same spelling, same
# HxW list); without it, the seed's five sizes (valsuite.segmentation.study.STUDY_SIZES)
SEGMENTATION_IMAGES = 4      # default images per configuration (each timed once)
SEGMENTATION_BATCH = 1       # default batch size of the study (the seed measured single images)


@dataclass
class HeadOptions(OptionGroup):
    TITLE = "classifier output head"

    head: str = option("--head", default="logits", choices=tuple(CLASSIFIER_HEADS),
                       help="what the engine returns: logits (ranked on the host), topk (TopK k=5 in the graph: "
                            "5 indices + 5 scores) or argmax (ArgMax in the graph: 1 index, no Prec@5); "
                            "made as an ONNX graph edit / a torch wrapper (default: %(default)s)")

    def spec(self) -> HeadSpec:
        return HeadSpec(self.head, "classification")


@dataclass
class SegmentationOptions(OptionGroup):
    TITLE = "segmentation head study (--segmentation)"

    seg_heads: str = option("--seg-heads", default=",".join(SEGMENTATION_HEADS),
                            help="comma list of segmentation heads: " + "; ".join(
                                f"{k} = {v}" for k, v in SEGMENTATION_HEADS.items())
                            + " (variant 1 always runs: it is the reference)")
    fuse_scale: float = option("--fuse-scale", default=DEFAULT_FUSE_SCALE, type=float,
                               help="intermediate size of the fused heads as a fraction of the input size "
                                    "(default: %(default)s)")

    def validate(self) -> "SegmentationOptions":
        for head in self.heads():
            HeadSpec(head, "segmentation", self.fuse_scale)
        return self

    def heads(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.strip() for p in self.seg_heads.split(",") if p.strip()))
