"""Output heads: the ONNX edits, their cache, the torch equivalents, and how the loop reads them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from valsuite.errors import ValsuiteError
from valsuite.heads import HeadSpec
from valsuite.heads.onnx_heads import apply_head, ensure_head_onnx, head_path
from valsuite.heads.outputs import classifier_output, ranked_classes
from valsuite.heads.torch_heads import wrap_head


class TinyClassifier(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 50)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3)))


class TinySegmenter(torch.nn.Module):
    """Logits at 1/4 resolution, bilinearly upsampled: the shape of torchvision's models."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, classes, 4, stride=4)

    def low_res(self, x):
        return self.conv(x)

    def forward(self, x):
        return torch.nn.functional.interpolate(self.low_res(x), size=x.shape[-2:], mode="bilinear",
                                               align_corners=False)


def export(module, shape, path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(shape),), str(path), opset_version=17, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          dynamo=False)
    return path


def run(path, x):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"input": x})))


@pytest.fixture(scope="module")
def classifier_onnx(tmp_path_factory):
    return export(TinyClassifier().eval(), (2, 3, 16, 16), tmp_path_factory.mktemp("cls") / "tiny_dyn.onnx")


@pytest.fixture(scope="module")
def segmenter_onnx(tmp_path_factory):
    return export(TinySegmenter().eval(), (1, 3, 32, 48), tmp_path_factory.mktemp("seg") / "seg_dyn.onnx")


def test_classifier_heads_rank_like_the_host(classifier_onnx):
    x = np.random.default_rng(1).standard_normal((7, 3, 16, 16)).astype(np.float32)
    logits = run(classifier_onnx, x)["logits"]
    expected = np.argsort(-logits, axis=1)[:, :5]
    topk = run(ensure_head_onnx(classifier_onnx, HeadSpec("topk")), x)
    assert set(topk) == {"topk_indices", "topk_scores"}
    np.testing.assert_array_equal(topk["topk_indices"], expected)
    np.testing.assert_allclose(topk["topk_scores"], np.take_along_axis(logits, expected, 1), rtol=1e-6)
    argmax = run(ensure_head_onnx(classifier_onnx, HeadSpec("argmax")), x)
    np.testing.assert_array_equal(argmax["argmax_index"][:, 0], expected[:, 0])
    # what the backend hands the loop ranks the same as the logits do
    for name, outs in (("topk", topk), ("argmax", argmax)):
        ranked = ranked_classes(classifier_output(outs, HeadSpec(name)), name)
        np.testing.assert_array_equal(ranked.numpy(), expected[:, : ranked.shape[1]])
    np.testing.assert_array_equal(ranked_classes(torch.from_numpy(logits), "logits").numpy(), expected)


def test_head_onnx_cached_with_sidecar_and_rebuilt_when_source_changes(classifier_onnx, tmp_path):
    source = tmp_path / "m.onnx"
    source.write_bytes(classifier_onnx.read_bytes())
    head = HeadSpec("topk")
    path = ensure_head_onnx(source, head)
    assert path == head_path(source, head) and path.with_name(path.name + ".json").is_file()
    mtime = path.stat().st_mtime_ns
    assert ensure_head_onnx(source, head) == path and path.stat().st_mtime_ns == mtime   # reused
    import onnx

    from valsuite.fileio import read_sidecar, sha256_file

    changed = onnx.load(str(source))
    changed.doc_string = "another export"
    onnx.save(changed, str(source))                                                     # other bytes
    ensure_head_onnx(source, head)
    assert read_sidecar(path)["key"]["source_sha256"] == sha256_file(source)             # rebuilt
    assert ensure_head_onnx(source, HeadSpec("logits")) == source                        # identity: no edit


SEG_HEADS = ("argmax", "fused-argmax", "reducemax", "fused-reducemax")


@pytest.mark.parametrize("name", SEG_HEADS)
def test_segmentation_heads_match_the_torch_heads(segmenter_onnx, name):
    """The ONNX edit and the torch wrapper compute the same head (ORT and torch, float32)."""
    head = HeadSpec(name, "segmentation", 0.5)
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 48)).astype(np.float32)
    (onnx_out,) = run(ensure_head_onnx(segmenter_onnx, head), x).values()
    with torch.no_grad():
        torch_out = wrap_head(TinySegmenter().eval(), head)(torch.from_numpy(x)).numpy()
    assert onnx_out.shape == torch_out.shape == (2, 1, 32, 48)
    if "argmax" in name:
        assert onnx_out.dtype == np.int64
        assert np.mean(onnx_out == torch_out) > 0.999      # float ties may round either way
    else:
        np.testing.assert_allclose(onnx_out, torch_out, atol=1e-5)


def test_unfused_segmentation_heads_equal_host_reductions(segmenter_onnx):
    x = np.random.default_rng(3).standard_normal((2, 3, 32, 48)).astype(np.float32)
    logits = run(segmenter_onnx, x)["logits"]
    labels = run(ensure_head_onnx(segmenter_onnx, HeadSpec("argmax", "segmentation")), x)["labels"]
    np.testing.assert_array_equal(labels[:, 0], logits.argmax(axis=1))
    scores = run(ensure_head_onnx(segmenter_onnx, HeadSpec("reducemax", "segmentation")), x)["scores"]
    np.testing.assert_array_equal(scores[:, 0], logits.max(axis=1))


def test_fused_head_drops_the_full_size_resize(segmenter_onnx):
    from valsuite.precision.graph import load_model

    model = apply_head(load_model(segmenter_onnx), HeadSpec("fused-argmax", "segmentation", 0.25))
    resizes = [n for n in model.graph.node if n.op_type == "Resize"]
    modes = sorted(a.s.decode() for n in resizes for a in n.attribute if a.name == "mode")
    assert modes == ["linear", "nearest"]                 # the bilinear full-size upsample is gone


def test_head_checks():
    with pytest.raises(ValsuiteError, match="unknown classification head"):
        HeadSpec("top5")
    with pytest.raises(ValsuiteError, match="fuse-scale"):
        HeadSpec("fused-argmax", "segmentation", 1.5)
    with pytest.raises(ValsuiteError, match="unknown segmentation head"):
        HeadSpec("topk", "segmentation")


def test_fused_head_needs_a_final_resize(classifier_onnx):
    from valsuite.precision.graph import load_model

    model = load_model(classifier_onnx)
    with pytest.raises(ValsuiteError):
        apply_head(model, HeadSpec("fused-argmax", "segmentation"))


def test_argmax_head_reports_no_prec5():
    from valsuite.evaluate.validate import ValidationResult, _score

    result = ValidationResult(head="argmax", ranks=1)
    _score(result, torch.tensor([[3.0], [1.0]]), torch.tensor([3, 2]), "argmax")
    assert result.prec1 == 50.0 and result.prec5 is None
    assert "not available" in result.summary()["prec5_note"]
