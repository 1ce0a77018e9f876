"""Evaluation preprocessing, bound to the weights (never a global default).

Split in two halves so the same numbers come out of every pipeline:
- host half (`to_uint8`): decode, RGB, resize the shorter side, centre crop -> uint8 CHW tensor.
  It runs in loader workers and its output is what caches store.
- device half (`normalize`): uint8 -> float, (x/255 - mean) / std, on whatever device the backend
  uses. Latency-all includes it.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from valsuite.errors import ValsuiteError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_INTERPOLATIONS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}


@dataclass(frozen=True)
class Preprocess:
    """Resize shorter side to `resize_size`, centre-crop `crop_size`, normalise with mean/std."""

    resize_size: int = 256
    crop_size: int = 224
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    name: str = field(default="imagenet", compare=False)
    # a non-square or non-native crop (height, width) for --input_size; None: crop_size x crop_size
    crop_hw: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.interpolation not in _INTERPOLATIONS:
            raise ValsuiteError(f"unknown interpolation {self.interpolation!r}")
        if max(self.crop_height_width) > self.resize_size:
            raise ValsuiteError(f"crop {self.crop_height_width} is larger than resize {self.resize_size}")

    def describe(self) -> dict:
        """Plain facts for sidecars, records and cache keys (crop_hw only when set, so the keys of
        caches made at the native size stay what they were)."""
        facts = asdict(self)
        facts["mean"] = list(self.mean)
        facts["std"] = list(self.std)
        if self.crop_hw is None:
            facts.pop("crop_hw")
        else:
            facts["crop_hw"] = list(self.crop_hw)
        return facts

    @property
    def crop_height_width(self) -> tuple[int, int]:
        return tuple(self.crop_hw) if self.crop_hw else (self.crop_size, self.crop_size)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, *self.crop_height_width)

    def at_size(self, height: int, width: int) -> "Preprocess":
        """The same preprocessing cropping height x width: the shorter side is resized with the
        native resize/crop ratio applied to the larger crop side, so the crop always fits."""
        if height < 1 or width < 1:
            raise ValsuiteError(f"input size must be positive, got {height}x{width}")
        if (height, width) == (self.crop_size, self.crop_size) and self.crop_hw is None:
            return self
        resize = int(round(max(height, width) * self.resize_size / self.crop_size))
        return replace(self, resize_size=max(resize, height, width), crop_hw=(height, width),
                       name=f"{self.name}@{height}x{width}")


def parse_input_size(text: str) -> tuple[int, int]:
    """'384x576' or '384' -> (384, 576) / (384, 384); errors say what is expected."""
    parts = str(text).lower().replace("*", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values) < 16:
        raise ValsuiteError(f"input size {text!r} is not HxW (e.g. 384x576) with sides of at least 16")
    return (values[0], values[-1])


# Very large images: valsuite keeps PIL's decompression-bomb limit (2 x Image.MAX_IMAGE_PIXELS,
# about 179 Mpx, e.g. 13,400 x 13,400). A larger image is refused as unreadable, naming the file:
# decoding one would take gigabytes per loader worker, and no ImageNet image is near it. Images
# below the limit are decoded without PIL's warning (the limit, not the warning, is the rule).
MAX_IMAGE_PIXELS = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else None


def load_rgb(path: str | Path) -> Image.Image:
    """Decode an image fully and convert grayscale/CMYK/palette to RGB; errors name the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                return img.convert("RGB") if img.mode != "RGB" else img.copy()
    except FileNotFoundError as exc:
        raise ValsuiteError(f"image not found: {path}") from exc
    except Image.DecompressionBombError as exc:
        raise ValsuiteError(f"unreadable image {path}: {exc} (valsuite refuses images over "
                            f"{MAX_IMAGE_PIXELS} pixels)") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, MemoryError) as exc:
        raise ValsuiteError(f"unreadable image {path}: {exc}") from exc


def resize_crop(img: Image.Image, pp: Preprocess) -> Image.Image:
    """torchvision's Resize(int) + CenterCrop, on PIL (antialiased, as torchvision does for PIL)."""
    width, height = img.size
    short, long_ = (width, height) if width <= height else (height, width)
    new_short = pp.resize_size
    new_long = int(pp.resize_size * long_ / short)
    size = (new_short, new_long) if width <= height else (new_long, new_short)
    if size != img.size:
        img = img.resize(size, _INTERPOLATIONS[pp.interpolation])
    width, height = img.size
    crop_h, crop_w = pp.crop_height_width
    # torchvision's centre_crop rounds the offsets this way
    top = int(round((height - crop_h) / 2.0))
    left = int(round((width - crop_w) / 2.0))
    return img.crop((left, top, left + crop_w, top + crop_h))


def to_uint8(img: Image.Image, pp: Preprocess) -> np.ndarray:
    """Host half: an RGB image -> uint8 CHW array of the crop."""
    arr = np.asarray(resize_crop(img, pp), dtype=np.uint8)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def load_uint8(path: str | Path, pp: Preprocess) -> np.ndarray:
    return to_uint8(load_rgb(path), pp)


def normalize(batch, pp: Preprocess, dtype=None):
    """Device half: uint8 NCHW torch tensor -> float NCHW on the same device."""
    import torch

    dtype = dtype or torch.float32
    mean = torch.tensor(pp.mean, device=batch.device, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(pp.std, device=batch.device, dtype=torch.float32).view(1, 3, 1, 1)
    # one fused expression: x * (1 / (255 std)) - mean / std
    out = batch.to(torch.float32).mul_(1.0 / 255.0).sub_(mean).div_(std)
    return out.to(dtype) if dtype != torch.float32 else out
