"""torchvision semantic-segmentation networks for the output-head study (seed 000's Fast-SCNN table).

A SegmentationSpec is a ModelSpec for one input size: the image is resized to exactly (H, W) and
the model returns 21 VOC-class logits upsampled to (H, W). Weights: the torchvision enum (from the
torch hub cache; these machines cannot download it), a local torchvision file with --weights PATH,
or --random-weights (seeded), whose agreement numbers describe numerics only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from valsuite.data.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess
from valsuite.errors import ValsuiteError
from valsuite.heads.kinds import check_size, parse_size  # noqa: F401  (parse_size: one place for HxW)
from valsuite.models.spec import ModelSpec

# network -> (torchvision builder, weights enum class, has an auxiliary classifier in its checkpoints)
NETWORKS = {
    "lraspp_mobilenet_v3_large": ("lraspp_mobilenet_v3_large", "LRASPP_MobileNet_V3_Large_Weights", False),
    "deeplabv3_mobilenet_v3_large": ("deeplabv3_mobilenet_v3_large", "DeepLabV3_MobileNet_V3_Large_Weights", True),
    "fcn_resnet50": ("fcn_resnet50", "FCN_ResNet50_Weights", True),
}
NUM_CLASSES = 21          # VOC classes (torchvision's COCO_WITH_VOC_LABELS_V1 weights)
DEFAULT_SIZE = (384, 576)


@dataclass(frozen=True)
class SegmentationSpec(ModelSpec):
    """A segmentation network at one input size; artifacts are per size (the ONNX has a fixed H, W)."""

    task: ClassVar[str] = "segmentation"

    @property
    def input_hw(self) -> tuple[int, int]:
        return tuple(self.preprocess.resize_to)

    @property
    def artifact_stem(self) -> str:
        height, width = self.input_hw
        return f"{super().artifact_stem}_{height}x{width}"


def segmentation_preprocess(size: tuple[int, int], name: str) -> Preprocess:
    """torchvision's SemanticSegmentation normalisation, resized to exactly `size` (no crop)."""
    height, width = size
    return Preprocess(resize_size=min(size), crop_size=min(size), interpolation="bilinear",
                      mean=IMAGENET_MEAN, std=IMAGENET_STD, name=name, resize_to=(int(height), int(width)))


def _segmentation_logits_class():
    import torch
    import torch.nn.functional as F

    class SegmentationLogits(torch.nn.Module):
        """A torchvision segmentation model as logits -> upsampled logits; `low_res` is the part
        before the final bilinear upsample (the fused heads resize from there)."""

        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def low_res(self, x):
            features = self.model.backbone(x)
            if hasattr(self.model, "aux_classifier"):        # DeepLabV3 / FCN: features is a dict
                return self.model.classifier(features["out"])
            return self.model.classifier(features)            # LRASPP reads low and high features

        def forward(self, x):
            return F.interpolate(self.low_res(x), size=x.shape[-2:], mode="bilinear", align_corners=False)

    return SegmentationLogits


def _build(network: str, aux: bool, state=None, path: Path | None = None):
    import torch
    import torchvision.models.segmentation as tvs

    from valsuite.models.checkpoints import load_checkpoint_into

    builder = getattr(tvs, NETWORKS[network][0])
    torch.manual_seed(0)  # the same random model on every build and machine
    kwargs = {"aux_loss": True} if aux else {}
    model = builder(weights=None, weights_backbone=None, num_classes=NUM_CLASSES, **kwargs)
    if state is not None:
        model.load_state_dict(state)
    if path is not None:
        model = load_checkpoint_into(model, path)
    if state is None and path is None:
        _estimate_batchnorm(model)
    return _segmentation_logits_class()(model.eval()).eval()


def _estimate_batchnorm(model, images: int = 4, size: int = 256) -> None:
    """Random weights: re-estimate BatchNorm statistics on seeded noise images. With the init's
    running statistics (mean 0, variance 1) activations collapse and every pixel gets one class,
    which would make agreement trivially 100%; with estimated ones the labels vary across pixels
    (lraspp: all 21 classes on noise), so agreement measures something. Numerics only still."""
    import torch

    generator = torch.Generator().manual_seed(0)
    x = torch.rand((images, 3, size, size), generator=generator) * 4.0 - 2.0   # about normalised range
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None                  # a plain average over the pass
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()


def _enum(network: str):
    import torchvision.models.segmentation as tvs

    return getattr(tvs, NETWORKS[network][1])


def _published(entry) -> dict:
    metrics = entry.meta.get("_metrics", {}).get("COCO-val2017-VOC-labels", {})
    return {k: v for k, v in metrics.items() if k in ("miou", "pixel_acc")}


def resolve(network: str, weights: str | None, random_weights: bool,
            size: tuple[int, int] = DEFAULT_SIZE) -> SegmentationSpec:
    """Bind a segmentation network to weights and an input size."""
    if network not in NETWORKS:
        raise ValsuiteError(f"unknown segmentation network {network!r}", hint=f"choose from {', '.join(NETWORKS)}")
    check_size(size)
    has_aux = NETWORKS[network][2]
    entry = _enum(network).DEFAULT
    pp = segmentation_preprocess(size, f"torchvision:{entry}:resize-to")
    if random_weights:
        return SegmentationSpec(network, "random", pp, lambda: _build(network, False), num_classes=NUM_CLASSES,
                                source="random init (seed 0), BatchNorm statistics from seeded noise: numerics only")
    if weights and Path(weights).suffix in (".pth", ".pt"):
        path = Path(weights)
        if not path.is_file():
            raise ValsuiteError(f"weights file not found: {path}")
        matched = path.name == entry.url.rsplit("/", 1)[-1]
        return SegmentationSpec(network, f"file:{path.name}", pp, lambda: _build(network, has_aux, path=path),
                                published=_published(entry) if matched else {}, num_classes=NUM_CLASSES,
                                source="local file", weights_path=str(path))
    if weights not in (None, "DEFAULT", entry.name):
        raise ValsuiteError(f"{network} has no weights {weights!r}",
                            hint=f"choose from DEFAULT, {entry.name}, a .pth file, or --random-weights")

    def build():
        from valsuite.models.checkpoints import torchvision_state_dict

        return _build(network, has_aux, state=torchvision_state_dict(entry))

    return SegmentationSpec(network, entry.name, pp, build, published=_published(entry), num_classes=NUM_CLASSES,
                            source=f"torchvision {entry}")
