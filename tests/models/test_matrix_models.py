"""The benchmark matrix's backbones, timm by name, input sizes and GFLOPs (random weights only)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from valsuite.data.preprocess import Preprocess, parse_input_size, to_uint8
from valsuite.errors import ValsuiteError
from valsuite.models import list_networks, resolve
from valsuite.models.flops import count_flops, spec_cost

NEW = ("mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "mnasnet1_0", "regnet_y_400mf",
       "shufflenet_v2_x1_0", "vgg16", "convnext_tiny")


@pytest.mark.parametrize("network,resize,interp,acc1", [
    ("mobilenet_v3_small", 256, "bilinear", 67.668), ("mobilenet_v3_large", 232, "bilinear", 75.274),
    ("efficientnet_b0", 256, "bicubic", 77.692), ("mnasnet1_0", 256, "bilinear", 73.456),
    ("regnet_y_400mf", 232, "bilinear", 75.804), ("shufflenet_v2_x1_0", 256, "bilinear", 69.362),
    ("vgg16", 256, "bilinear", 71.592), ("convnext_tiny", 236, "bilinear", 82.52),
])
def test_new_backbones_take_preprocessing_and_accuracy_from_their_enum(network, resize, interp, acc1):
    spec = resolve(network)                      # DEFAULT weights: no download, the build is lazy
    assert network in list_networks()
    assert (spec.preprocess.resize_size, spec.preprocess.interpolation) == (resize, interp)
    assert spec.published["acc@1"] == pytest.approx(acc1)


@pytest.mark.parametrize("network", ["mobilenet_v3_small", "shufflenet_v2_x1_0", "regnet_y_400mf"])
def test_random_backbones_run_at_their_native_and_another_size(network):
    spec = resolve(network, random_weights=True)
    module = spec.build()
    with torch.no_grad():
        assert module(torch.zeros(2, *spec.input_shape)).shape == (2, 1000)
        other = spec.at_input_size(160, 192)
        assert module(torch.zeros(1, *other.input_shape)).shape == (1, 1000)


def test_gflops_match_torchvision_published_ops():
    """torchvision's meta `_ops` are GMACs; the FLOP counter counts a multiply-add as 2."""
    import torchvision.models as tvm

    for network, enum in (("resnet18", tvm.ResNet18_Weights), ("mobilenet_v3_large", tvm.MobileNet_V3_Large_Weights)):
        cost = spec_cost(resolve(network, random_weights=True))
        assert cost["gflops"] == pytest.approx(2 * enum.DEFAULT.meta["_ops"], rel=0.02)
        assert cost["params"] == enum.DEFAULT.meta["num_params"]


def test_gflops_grow_with_the_input_area():
    spec = resolve("resnet18", random_weights=True)
    base = spec_cost(spec)["gflops"]
    big = spec_cost(spec.at_input_size(448, 448))["gflops"]
    assert big == pytest.approx(4 * base, rel=0.02)


def test_flops_fall_back_to_the_cpu_when_meta_fails():
    class NoMeta(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(12, 4)

        def forward(self, x):
            if x.device.type == "meta":
                raise NotImplementedError("no meta kernel")
            return self.fc(x.flatten(1))

    cost = count_flops(NoMeta(), (3, 2, 2))
    assert cost["gflops"] == pytest.approx(2 * 12 * 4 / 1e9) and "cpu" in cost["flops_counter"]


def test_input_size_changes_shape_and_artifact_names():
    spec = resolve("resnet50", "IMAGENET1K_V2")
    other = spec.at_input_size(384, 576)
    assert other.input_shape == (3, 384, 576) and not other.native_size
    assert other.artifact_stem == "resnet50_IMAGENET1K_V2_384x576" != spec.artifact_stem
    # resize keeps the native resize/crop ratio (232/224) on the longer crop side
    assert other.preprocess.resize_size == round(576 * 232 / 224)
    assert other.describe()["input_size"] == [384, 576] and other.describe()["native_input_size"] is False
    back = other.at_input_size(224, 224)
    assert back.native_size and back.preprocess == spec.preprocess and back.published == spec.published
    assert "crop_hw" not in spec.preprocess.describe()          # native cache keys unchanged


def test_non_square_crop_is_centred():
    pp = Preprocess(resize_size=256, crop_size=224).at_size(64, 128)
    arr = np.zeros((300, 400, 3), dtype=np.uint8)
    arr[:, :200] = 255                                            # left half white
    out = to_uint8(Image.fromarray(arr), pp)
    assert out.shape == (3, 64, 128)
    assert out[0, :, :60].min() == 255 and out[0, :, 68:].max() == 0


@pytest.mark.parametrize("text,expected", [("384x576", (384, 576)), ("512", (512, 512)), ("768X1344", (768, 1344))])
def test_parse_input_size(text, expected):
    assert parse_input_size(text) == expected


@pytest.mark.parametrize("text", ["384x", "axb", "8x8", "1x2x3"])
def test_parse_input_size_rejects(text):
    with pytest.raises(ValsuiteError, match="HxW"):
        parse_input_size(text)


def test_timm_by_name_reads_the_pretrained_config():
    pytest.importorskip("timm")
    spec = resolve("timm:resnet18", random_weights=True)
    cfg = spec.model_config["timm_pretrained_cfg"]
    assert spec.network == "timm:resnet18" and spec.artifact_stem == "timm-resnet18_random"
    assert spec.preprocess.crop_size == cfg["input_size"][1] == 224
    assert spec.preprocess.resize_size == int(224 / cfg["crop_pct"])       # timm: floor(size / crop_pct)
    assert spec.preprocess.interpolation == cfg["interpolation"] == "bicubic"
    assert spec.describe()["model_config"]["timm_pretrained_cfg"]["crop_pct"] == cfg["crop_pct"]
    with torch.no_grad():
        assert spec.build()(torch.zeros(1, *spec.input_shape)).shape == (1, 1000)


def test_timm_loads_a_local_checkpoint_and_refuses_a_wrong_one(tmp_path):
    timm = pytest.importorskip("timm")
    torch.manual_seed(1)
    model = timm.create_model("resnet18", pretrained=False)
    good = tmp_path / "resnet18.pth"
    torch.save(model.state_dict(), good)
    loaded = resolve("timm:resnet18", str(good)).build()
    assert torch.equal(loaded.fc.weight, model.fc.weight)
    bad = tmp_path / "other.pth"
    torch.save(timm.create_model("resnet34", pretrained=False).state_dict(), bad)
    with pytest.raises(ValsuiteError, match="does not fit"):
        resolve("timm:resnet18", str(bad)).build()


def test_timm_needs_weights_or_random_and_suggests_names():
    pytest.importorskip("timm")
    with pytest.raises(ValsuiteError, match="local checkpoint"):
        resolve("timm:resnet18")
    with pytest.raises(ValsuiteError, match="did you mean timm:resnet18"):
        resolve("timm:resnet81", random_weights=True)
