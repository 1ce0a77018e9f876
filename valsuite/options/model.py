"""Model group: which network, which weights, where artifacts go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.options.base import OptionGroup, option

DEFAULT_NETWORK = "efficientnet_lite0"


@dataclass
class ModelOptions(OptionGroup):
    TITLE = "model"

    network: str = option("--network", "-n", default=DEFAULT_NETWORK,
                          help="registry name, e.g. efficientnet_lite0, resnet18, resnet50, mobilenet_v3_large, "
                               "convnext_tiny, yolov8n-cls, or timm:NAME (optional timm extra) "
                               "(default: %(default)s)")
    weights: str | None = option("--weights", help="weights enum name (DEFAULT, IMAGENET1K_V1, IMAGENET1K_V2) or a "
                                                   "local .pth/.pt file (state dict or full model)")
    random_weights: bool = option("--random-weights", default=False,
                                  help="random initialisation (seeded): for timing only, accuracy is meaningless")
    weights_dir: Path = option("--weights-dir", default=Path("weights"), type=Path,
                               help="where ONNX files, engines and caches are written (default: %(default)s)")
    input_size: str | None = option("--input_size", "--input-size", metavar="HxW",
                                    help="input size other than the weights' own, e.g. 384x576: export, precision "
                                         "variants and engines follow it; speed only (no accuracy off the "
                                         "native size)")

    def validate(self) -> "ModelOptions":
        if self.random_weights and self.weights:
            raise ValsuiteError("--random-weights and --weights exclude each other", hint="pick one")
        self.input_hw()
        return self

    def input_hw(self) -> tuple[int, int] | None:
        from valsuite.data.preprocess import parse_input_size

        return parse_input_size(self.input_size) if self.input_size else None

    def spec(self, shape_hw: tuple[int, int] | None = None):
        """The ModelSpec at --input_size, else at `shape_hw` (an --input_shape's H W), else native."""
        from valsuite.models import resolve

        spec = resolve(self.network, self.weights, self.random_weights)
        size = self.input_hw() or shape_hw
        return spec.at_input_size(*size) if size else spec
