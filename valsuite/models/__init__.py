"""The model registry: a network name (+ weights) -> ModelSpec."""

from __future__ import annotations

import difflib

from valsuite.errors import ValsuiteError
from valsuite.models.spec import ModelSpec

from valsuite.models.torchvision_models import NETWORKS as _TV_NETWORKS

_TORCHVISION = tuple(_TV_NETWORKS)
_EFFICIENTNET = ("efficientnet_lite0",)
_YOLO = tuple(f"yolov8{s}-cls" for s in "nsmlx")
DEFAULT_NETWORK = "efficientnet_lite0"


def list_networks() -> list[str]:
    """The built-in names; any timm model is also accepted as timm:NAME."""
    return [*_TORCHVISION, *_EFFICIENTNET, *_YOLO]


def resolve(network: str, weights: str | None = None, random_weights: bool = False) -> ModelSpec:
    """Bind a network name to weights and their preprocessing; unknown names suggest the closest.
    `timm:NAME` is any timm model (optional extra)."""
    if network.strip().lower().startswith("timm:"):
        from valsuite.models import timm_models

        return timm_models.resolve(network.strip()[len("timm:"):], weights, random_weights)
    name = network.strip().lower().replace("-", "_") if not network.lower().startswith("yolo") else network.lower()
    if name in _TORCHVISION:
        from valsuite.models import torchvision_models as family
    elif name in _EFFICIENTNET:
        from valsuite.models import efficientnet_lite as family
    elif name in _YOLO:
        from valsuite.models import yolo_cls as family
    elif name.startswith("yolo"):
        raise ValsuiteError(f"unknown network {network!r}",
                            hint=f"the YOLO classifiers are {', '.join(_YOLO)} (n smallest, x largest)")
    else:
        close = difflib.get_close_matches(name, list_networks(), n=1, cutoff=0.4)
        hint = f"did you mean {close[0]}?" if close else f"choose from {', '.join(list_networks())}"
        raise ValsuiteError(f"unknown network {network!r}", hint=hint)
    return family.resolve(name, weights, random_weights)


__all__ = ["ModelSpec", "resolve", "list_networks", "DEFAULT_NETWORK"]
