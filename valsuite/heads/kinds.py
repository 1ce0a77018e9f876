"""The head names, what each returns, and the one typed value that selects a head."""

from __future__ import annotations

from dataclasses import dataclass

from valsuite.errors import ValsuiteError

# classifier heads: what the engine hands back per image
CLASSIFIER_HEADS = {
    "logits": "all class scores; ranked on the host (today's behaviour)",
    "topk": "TopK(k=5) in the graph: 5 indices and 5 scores",
    "argmax": "ArgMax in the graph: 1 index (Prec@5 not available)",
}
TOPK = 5
# segmentation heads, numbered as in the seed study (variant 1 is the reference)
SEGMENTATION_HEADS = {
    "host-argmax": "1: logits upsampled to the input size, argmax on the host (numpy)",
    "argmax": "2: logits upsampled, ArgMax in the graph",
    "fused-argmax": "3: Resize bilinear to --fuse-scale x input, ArgMax, Resize nearest to input",
    "reducemax": "4: logits upsampled, ReduceMax in the graph (scores only)",
    "fused-reducemax": "5: Resize bilinear to --fuse-scale x input, ReduceMax, Resize nearest (scores only)",
}
LABEL_HEADS = ("host-argmax", "argmax", "fused-argmax")   # segmentation heads that give a label map
FUSED_HEADS = ("fused-argmax", "fused-reducemax")
DEFAULT_FUSE_SCALE = 0.5
PREC5_UNAVAILABLE = "not available: the argmax head returns one index per image"


@dataclass(frozen=True)
class HeadSpec:
    """Which head, for which task, and the intermediate scale of the fused forms."""

    name: str = "logits"
    task: str = "classification"          # or "segmentation"
    fuse_scale: float = DEFAULT_FUSE_SCALE

    def __post_init__(self) -> None:
        check_head(self.name, self.task)
        if not 0.0 < self.fuse_scale <= 1.0:
            raise ValsuiteError(f"--fuse-scale must be in (0, 1], got {self.fuse_scale}")

    @property
    def is_identity(self) -> bool:
        """The exported graph as is (no edit): the logits head and segmentation variant 1."""
        return self.name in ("logits", "host-argmax")

    @property
    def fused(self) -> bool:
        return self.name in FUSED_HEADS

    def describe(self) -> dict:
        facts = {"head": self.name, "task": self.task}
        if self.fused:
            facts["fuse_scale"] = self.fuse_scale
        return facts

    @property
    def tag(self) -> str:
        """File-name tag of the edited ONNX."""
        return f"head-{self.name}" + (f"-s{self.fuse_scale:g}" if self.fused else "")


def check_head(name: str, task: str) -> str:
    heads = CLASSIFIER_HEADS if task == "classification" else SEGMENTATION_HEADS
    if task not in ("classification", "segmentation"):
        raise ValsuiteError(f"unknown task {task!r}")
    if name not in heads:
        raise ValsuiteError(f"unknown {task} head {name!r}", hint=f"choose from {', '.join(heads)}")
    return name


def check_size(size) -> tuple[int, int]:
    """A segmentation input size (H, W), both at least 32."""
    if len(size) != 2 or any(int(s) < 32 for s in size):
        raise ValsuiteError(f"a segmentation input size is HxW with both at least 32, got {size}")
    return int(size[0]), int(size[1])


def parse_size(text: str) -> tuple[int, int]:
    """'384x576' -> (384, 576)."""
    parts = text.strip().lower().replace("*", "x").split("x")
    try:
        return check_size(tuple(int(p) for p in parts))
    except ValueError:
        raise ValsuiteError(f"input size {text!r} is not HxW (e.g. 384x576)") from None
