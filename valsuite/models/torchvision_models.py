"""torchvision classifiers: the weights enum supplies preprocessing and published accuracy."""

from __future__ import annotations

from pathlib import Path

from valsuite.data.preprocess import Preprocess
from valsuite.errors import ValsuiteError
from valsuite.models.spec import ModelSpec

# network name -> (builder name in torchvision.models, weights enum class name)
NETWORKS = {
    "resnet18": "ResNet18_Weights",
    "resnet34": "ResNet34_Weights",
    "resnet50": "ResNet50_Weights",
    "resnet101": "ResNet101_Weights",
    "resnet152": "ResNet152_Weights",
    "mobilenet_v2": "MobileNet_V2_Weights",
    # the TensorRT shootout's backbones (seed 002) and the ones users ask about
    "mobilenet_v3_small": "MobileNet_V3_Small_Weights",
    "mobilenet_v3_large": "MobileNet_V3_Large_Weights",
    "efficientnet_b0": "EfficientNet_B0_Weights",
    "mnasnet1_0": "MNASNet1_0_Weights",
    "regnet_y_400mf": "RegNet_Y_400MF_Weights",
    "shufflenet_v2_x1_0": "ShuffleNet_V2_X1_0_Weights",
    "vgg16": "VGG16_Weights",
    "convnext_tiny": "ConvNeXt_Tiny_Weights",
}


def _weights_enum(network: str):
    import torchvision.models as tvm

    return getattr(tvm, NETWORKS[network])


def _preprocess_of(weights) -> Preprocess:
    """Read resize/crop/mean/std from the enum's transforms, as torchvision evaluates them."""
    t = weights.transforms()
    return Preprocess(
        resize_size=int(t.resize_size[0]),
        crop_size=int(t.crop_size[0]),
        interpolation=t.interpolation.value,
        mean=tuple(float(m) for m in t.mean),
        std=tuple(float(s) for s in t.std),
        name=f"torchvision:{weights}",
    )


def _published(weights) -> dict:
    metrics = weights.meta.get("_metrics", {}).get("ImageNet-1K", {})
    return {k: v for k, v in metrics.items() if k in ("acc@1", "acc@5")}


def _enum_for_file(enum_cls, path: Path):
    """The enum entry whose download file name matches `path`, so a local copy keeps its preset."""
    for entry in enum_cls:
        if entry.url.rsplit("/", 1)[-1] == path.name:
            return entry
    return None


def resolve(network: str, weights: str | None, random_weights: bool) -> ModelSpec:
    import torchvision.models as tvm
    from valsuite.models.checkpoints import load_checkpoint_into, torchvision_state_dict

    enum_cls = _weights_enum(network)
    builder = getattr(tvm, network)

    if random_weights:
        entry = enum_cls.DEFAULT
        def build_random():
            import torch

            torch.manual_seed(0)  # the same random model on every build and machine
            return builder(weights=None)

        return ModelSpec(network, "random", _preprocess_of(entry), build_random, source="random init (seed 0)")
    if weights and Path(weights).suffix in (".pth", ".pt", ".pkl", ".bin"):
        path = Path(weights)
        if not path.is_file():   # found before any export or run starts
            raise ValsuiteError(f"weights file not found: {path}")
        entry = _enum_for_file(enum_cls, path)
        matched = entry is not None
        entry = entry or enum_cls.DEFAULT
        return ModelSpec(
            network, f"file:{path.name}", _preprocess_of(entry),
            lambda: load_checkpoint_into(builder(weights=None), path),
            published=_published(entry) if matched else {},
            source=f"local file; preprocessing of {entry}" + ("" if matched else " (default, file name not recognised)"),
            weights_path=str(path),
        )
    name = (weights or "DEFAULT").upper()
    try:
        entry = enum_cls[name] if name != "DEFAULT" else enum_cls.DEFAULT
    except KeyError:
        choices = ", ".join(["DEFAULT"] + [e.name for e in enum_cls])
        raise ValsuiteError(f"{network} has no weights {weights!r}", hint=f"choose from {choices} or a .pth file") from None

    def build():
        module = builder(weights=None)
        module.load_state_dict(torchvision_state_dict(entry))
        return module

    return ModelSpec(network, entry.name, _preprocess_of(entry), build, published=_published(entry),
                     source=f"torchvision {entry}")
