"""Output-head groups: --head for classifier rows, and the segmentation head study (--segmentation)."""

from __future__ import annotations

from dataclasses import dataclass

from valsuite.errors import ValsuiteError
from valsuite.heads.kinds import CLASSIFIER_HEADS, DEFAULT_FUSE_SCALE, SEGMENTATION_HEADS, HeadSpec
from valsuite.options.base import OptionGroup, option

STUDY_SIZES = "384x384,384x576,576x576,576x768,768x1344"
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

    input_sizes: str = option("--input_sizes", "--input-sizes", default=STUDY_SIZES,
                              help="comma list of HxW input sizes (default: %(default)s)")
    seg_heads: str = option("--seg-heads", default=",".join(SEGMENTATION_HEADS),
                            help="comma list of segmentation heads: " + "; ".join(
                                f"{k} = {v}" for k, v in SEGMENTATION_HEADS.items())
                            + " (variant 1 always runs: it is the reference)")
    fuse_scale: float = option("--fuse-scale", default=DEFAULT_FUSE_SCALE, type=float,
                               help="intermediate size of the fused heads as a fraction of the input size "
                                    "(default: %(default)s)")

    def validate(self) -> "SegmentationOptions":
        self.sizes()
        for head in self.heads():
            HeadSpec(head, "segmentation", self.fuse_scale)
        return self

    def sizes(self) -> tuple[tuple[int, int], ...]:
        from valsuite.heads.kinds import parse_size

        sizes = tuple(parse_size(part) for part in self.input_sizes.split(",") if part.strip())
        if not sizes:
            raise ValsuiteError("--input_sizes is empty")
        return sizes

    def heads(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.strip() for p in self.seg_heads.split(",") if p.strip()))
