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
                          help="registry name, e.g. efficientnet_lite0, resnet18, resnet50, yolov8n-cls "
                               "(default: %(default)s)")
    weights: str | None = option("--weights", help="weights enum name (DEFAULT, IMAGENET1K_V1, IMAGENET1K_V2) or a "
                                                   "local .pth/.pt file (state dict or full model)")
    random_weights: bool = option("--random-weights", default=False,
                                  help="random initialisation (seeded): for timing only, accuracy is meaningless")
    weights_dir: Path = option("--weights-dir", default=Path("weights"), type=Path,
                               help="where ONNX files, engines and caches are written (default: %(default)s)")

    def validate(self) -> "ModelOptions":
        if self.random_weights and self.weights:
            raise ValsuiteError("--random-weights and --weights exclude each other", hint="pick one")
        return self
