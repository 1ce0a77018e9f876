"""The model registry binds weights to preprocessing; local files and offline failures are clear."""

from __future__ import annotations

import urllib.error

import pytest
import torch

from valsuite.errors import ValsuiteError
from valsuite.models import list_networks, resolve


def test_unknown_network_suggests_the_closest():
    with pytest.raises(ValsuiteError, match="did you mean resnet50"):
        resolve("resnet05")


@pytest.mark.parametrize("network,weights,resize,acc1", [
    ("resnet50", "IMAGENET1K_V2", 232, 80.858), ("resnet50", "IMAGENET1K_V1", 256, 76.13),
    ("resnet50", "DEFAULT", 232, 80.858), ("resnet18", None, 256, 69.758),
    ("resnet101", "IMAGENET1K_V2", 232, 81.886), ("mobilenet_v2", "IMAGENET1K_V2", 232, 72.154),
])
def test_torchvision_weights_bring_their_preprocessing(network, weights, resize, acc1):
    spec = resolve(network, weights)
    assert spec.preprocess.resize_size == resize and spec.preprocess.crop_size == 224
    assert spec.published["acc@1"] == pytest.approx(acc1)


def test_unknown_weights_name():
    with pytest.raises(ValsuiteError, match="no weights 'IMAGENET1K_V9'.*IMAGENET1K_V2"):
        resolve("resnet50", "IMAGENET1K_V9")


def test_offline_hub_failure_says_how_to_pass_a_file(monkeypatch, tmp_path):
    import torchvision.models as tvm

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_network(self, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tvm.WeightsEnum, "get_state_dict", no_network)
    spec = resolve("resnet18")
    with pytest.raises(ValsuiteError) as info:
        spec.build()
    assert "--weights /path/to/resnet18-f37072fd.pth" in str(info.value)


def test_local_state_dict_keeps_the_preset_of_a_known_file_name(tmp_path):
    module = resolve("resnet18", random_weights=True).build()
    path = tmp_path / "resnet18-f37072fd.pth"   # the IMAGENET1K_V1 download name
    torch.save({"state_dict": {f"module.{k}": v for k, v in module.state_dict().items()}}, path)
    spec = resolve("resnet18", str(path))
    assert spec.preprocess.resize_size == 256 and spec.published["acc@1"] == pytest.approx(69.758)
    loaded = spec.build()
    assert torch.equal(loaded.fc.weight, module.fc.weight)


def test_local_full_model_and_mismatched_state_dict(tmp_path):
    module = resolve("resnet18", random_weights=True).build()
    full = tmp_path / "mine.pt"
    torch.save(module, full)
    assert torch.equal(resolve("resnet18", str(full)).build().fc.weight, module.fc.weight)
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(3)}, wrong)
    with pytest.raises(ValsuiteError, match="does not fit this network"):
        resolve("resnet18", str(wrong)).build()
    with pytest.raises(ValsuiteError, match="weights file not found"):
        resolve("resnet18", str(tmp_path / "missing.pth")).build()


def test_efficientnet_lite0_pip_weights_and_tf_preprocessing():
    spec = resolve("efficientnet_lite0")
    assert spec.weights_id.startswith("pip:") and spec.preprocess.interpolation == "bicubic"
    assert spec.preprocess.mean[0] == pytest.approx(127 / 255) and spec.preprocess.std[0] == pytest.approx(128 / 255)
    module = spec.build()
    assert sum(p.numel() for p in module.parameters()) == 4_652_008
    # Lite models use ReLU6, never swish
    assert any(isinstance(m, torch.nn.ReLU6) for m in module.modules())


def test_random_weights_are_seeded():
    a = resolve("mobilenet_v2", random_weights=True)
    assert a.weights_id == "random"
    torch.manual_seed(0)
    first = a.build().classifier[1].weight.clone()
    torch.manual_seed(0)
    assert torch.equal(first, a.build().classifier[1].weight)


def test_yolo_needs_ultralytics_or_a_checkpoint():
    assert "yolov8n-cls" in list_networks()
    with pytest.raises(ValsuiteError, match="needs a local checkpoint"):
        resolve("yolov8n-cls")


def test_yolo_from_yaml_when_ultralytics_is_installed():
    pytest.importorskip("ultralytics", reason="ultralytics is an optional extra (pip install 'valsuite[yolo]')")
    spec = resolve("yolov8n-cls", random_weights=True)
    assert spec.preprocess.mean == (0.0, 0.0, 0.0) and spec.preprocess.resize_size == 224
    out = spec.build()(torch.rand(2, 3, 224, 224))
    assert out.shape == (2, 1000)
    assert torch.allclose(out.sum(1), torch.ones(2), atol=1e-4)  # the head returns probabilities


def test_importing_ultralytics_leaves_pil_open_alone(tmp_path):
    """An unreadable image stays a ValsuiteError naming it after a YOLO model was built."""
    pytest.importorskip("ultralytics", reason="ultralytics is an optional extra")
    from PIL import Image

    from valsuite.data.preprocess import load_rgb

    resolve("yolov8n-cls", random_weights=True).build()
    assert Image.open.__module__ == "PIL.Image"
    bad = tmp_path / "bad.JPEG"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ValsuiteError, match="bad.JPEG"):
        load_rgb(bad)
