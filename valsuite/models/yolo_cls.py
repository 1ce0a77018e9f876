"""YOLOv8-cls through ultralytics (optional extra), from a local .pt or, for tests, the model yaml.

Its preprocessing is its own: shorter side resized to the image size, centre crop, bilinear,
scaled to 0..1 with no mean/std (ultralytics' classify_transforms). The head returns softmax
probabilities in eval mode, so outputs are probabilities, not logits.
"""

from __future__ import annotations

from pathlib import Path

from valsuite.data.preprocess import Preprocess
from valsuite.errors import ValsuiteError
from valsuite.models.spec import ModelSpec

SCALES = ("n", "s", "m", "l", "x")
# where ultralytics publishes the YOLOv8 classification checkpoints
ASSETS_URL = "https://github.com/ultralytics/assets/releases/download/v8.3.0"
# ultralytics documentation, YOLOv8-cls at 224
PUBLISHED = {
    "n": {"acc@1": 69.0, "acc@5": 88.3}, "s": {"acc@1": 73.8, "acc@5": 91.7},
    "m": {"acc@1": 76.8, "acc@5": 93.5}, "l": {"acc@1": 76.8, "acc@5": 93.5},
    "x": {"acc@1": 79.0, "acc@5": 94.6},
}


def preprocess_for(size: int = 224) -> Preprocess:
    return Preprocess(resize_size=size, crop_size=size, interpolation="bilinear",
                      mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), name="ultralytics-classify")


def _ultralytics():
    from PIL import Image

    original_open = Image.open
    try:
        import ultralytics  # noqa: F401
        from ultralytics.nn.tasks import ClassificationModel
    except ImportError as exc:
        raise ValsuiteError("YOLOv8-cls needs the optional package ultralytics",
                            hint="pip install 'valsuite[yolo]' (or pip install ultralytics)") from exc
    finally:
        _undo_pil_patch(original_open)
    return ClassificationModel


def _undo_pil_patch(original_open) -> None:
    """ultralytics replaces PIL.Image.open process-wide with a version that pip-installs a HEIF
    plugin when a file is unidentified. Here an unreadable image must stop the run naming the
    file, never install packages: put Pillow's own function back."""
    from PIL import Image

    try:
        from ultralytics.utils import patches
    except ImportError:
        patches = None
    Image.open = getattr(patches, "_image_open", None) or original_open


def _wrap(model):
    """Return a module whose forward gives one (N, classes) tensor, whatever the head returns."""
    import torch

    class FirstOutput(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            out = self.inner(x)
            return out[0] if isinstance(out, (tuple, list)) else out

    return FirstOutput(model.float().eval())


def _from_yaml(scale: str):
    import torch

    ClassificationModel = _ultralytics()
    torch.manual_seed(0)
    return _wrap(ClassificationModel(f"yolov8{scale}-cls.yaml", nc=1000, verbose=False))


def _from_pt(path: Path):
    import torch

    _ultralytics()
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ValsuiteError(f"cannot load YOLO checkpoint {path}: {exc}") from exc
    model = ckpt.get("ema") or ckpt.get("model") if isinstance(ckpt, dict) else ckpt
    if model is None:
        raise ValsuiteError(f"{path} is not an ultralytics checkpoint (no 'model' entry)")
    return _wrap(model)


def checkpoint_hint(network: str) -> str:
    """How to get a YOLO checkpoint (valsuite never downloads at run time) or do without one."""
    return (f"download {network}.pt from the ultralytics assets release "
            f"({ASSETS_URL}/{network}.pt) on a machine with internet and pass --weights /path/to/"
            f"{network}.pt, or time the network without weights with --random-weights")


def resolve(network: str, weights: str | None, random_weights: bool) -> ModelSpec:
    scale = network[len("yolov8"):-len("-cls")]
    pp = preprocess_for(224)
    if random_weights or (weights or "").lower() == "yaml":
        return ModelSpec(network, "random", pp, lambda: _from_yaml(scale),
                         source=f"ultralytics yolov8{scale}-cls.yaml, random init (seed 0)")
    hint = checkpoint_hint(network)
    if not weights:
        raise ValsuiteError(f"{network} needs a local checkpoint", hint=hint)
    from valsuite.models.checkpoints import check_weights_arg

    path = check_weights_arg(network, weights, hint)
    return ModelSpec(network, f"file:{path.name}", pp, lambda: _from_pt(path), published=PUBLISHED[scale],
                     source="ultralytics checkpoint", weights_path=str(path))
