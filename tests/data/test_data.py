"""Class-index mapping, manifest, preprocessing presets and exact counting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import write_image
from valsuite.data.loader import ManifestDataset, iterate_batches, make_loader
from valsuite.data.manifest import read_calibration_list, scan_dataset
from valsuite.data.preprocess import Preprocess, load_rgb, load_uint8, normalize
from valsuite.data.synsets import builtin_mapping, find_mapping, parse_mapping
from valsuite.errors import ValsuiteError


def test_builtin_mapping_is_the_sorted_1000_wnids():
    mapping = builtin_mapping()
    assert len(mapping) == 1000
    assert list(mapping.wnids) == sorted(mapping.wnids)
    assert mapping.index["n01440764"] == 0 and mapping.names[0] == "tench"
    assert mapping.index["n15075141"] == 999


def test_labels_come_from_the_full_mapping_not_the_folders_present(tiny_dataset):
    manifest = scan_dataset(tiny_dataset)
    labels = {e.relpath.split("/")[0]: e.label for e in manifest.entries}
    # three folders present, but the indices are the ImageNet ones (0, 818, 999), not 0, 1, 2
    assert labels == {"n01440764": 0, "n04285008": builtin_mapping().index["n04285008"], "n15075141": 999}
    assert labels["n04285008"] not in (1, 2)


def test_sample_labels_use_its_mapping(sample_val):
    manifest = scan_dataset(sample_val)
    assert len(manifest) == 600 and manifest.num_classes_present == 600
    assert find_mapping(sample_val).source.endswith("imagenet-sample/LOC_synset_mapping.txt")
    assert max(e.label for e in manifest.entries) > 600  # real indices reach beyond the 600 present


def test_partial_mapping_next_to_dataset_is_refused_unless_asked_for(tmp_path, tiny_dataset):
    """A 3-line mapping would renumber every class (silent wrong accuracy): refused, naming the
    file and the first difference; as an explicit custom class list it is used in line order."""
    mapping = tiny_dataset.parent / "LOC_synset_mapping.txt"
    mapping.write_text("n15075141 toilet tissue\nn01440764 tench\nn04285008 sports car\n")
    with pytest.raises(ValsuiteError, match=r"LOC_synset_mapping.txt:1: n15075141 where ImageNet's list has n01440764"):
        scan_dataset(tiny_dataset)
    manifest = scan_dataset(tiny_dataset, class_list=mapping)
    labels = {e.relpath.split("/")[0]: e.label for e in manifest.entries}
    assert labels == {"n15075141": 0, "n01440764": 1, "n04285008": 2}
    assert manifest.describe()["custom_classes"] is True


def test_mapping_with_one_line_dropped_names_the_first_difference(tmp_path, tiny_dataset):
    lines = builtin_mapping().wnids
    text = "".join(f"{w} x\n" for i, w in enumerate(lines) if i != 500)
    (tiny_dataset.parent / "LOC_synset_mapping.txt").write_text(text)
    with pytest.raises(ValsuiteError, match=f":501: {lines[501]} where ImageNet's list has {lines[500]} .class 500."):
        scan_dataset(tiny_dataset)
    (tiny_dataset.parent / "LOC_synset_mapping.txt").write_text("".join(f"{w} x\n" for w in lines[:998]))
    with pytest.raises(ValsuiteError, match="ends after 998 wnids"):
        scan_dataset(tiny_dataset)


def test_full_mapping_next_to_dataset_is_accepted(tiny_dataset):
    (tiny_dataset.parent / "LOC_synset_mapping.txt").write_text(
        "".join(f"{w} {n}\n" for w, n in zip(builtin_mapping().wnids, builtin_mapping().names)))
    manifest = scan_dataset(tiny_dataset)
    assert {e.label for e in manifest.entries} == {0, builtin_mapping().index["n04285008"], 999}
    assert manifest.describe()["custom_classes"] is False


@pytest.mark.parametrize("data,message", [(b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
                                          (b"n01440764 caf\xe9\n", "not UTF-8 text")])
def test_binary_or_undecodable_mapping_is_one_line(tiny_dataset, data, message):
    (tiny_dataset / "LOC_synset_mapping.txt").write_bytes(data)
    with pytest.raises(ValsuiteError, match=message):
        scan_dataset(tiny_dataset)


def test_dot_files_are_skipped_and_counted(tiny_dataset):
    (tiny_dataset / "n01440764" / "._n01440764_0.JPEG").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (tiny_dataset / "n01440764" / ".hidden.JPEG").write_bytes(b"not an image")
    manifest = scan_dataset(tiny_dataset)
    assert len(manifest) == 7 and manifest.describe()["ignored_files"] == 2
    assert not any("/." in e.relpath for e in manifest.entries)


def test_dataset_path_that_is_a_file_says_so(tmp_path):
    (tmp_path / "val.tar").write_bytes(b"x")
    with pytest.raises(ValsuiteError, match="is a file, not a folder"):
        scan_dataset(tmp_path / "val.tar")


def test_bad_mapping_and_unknown_folder_are_user_errors(tmp_path, tiny_dataset):
    bad = tmp_path / "bad.txt"
    bad.write_text("not-a-wnid thing\n")
    with pytest.raises(ValsuiteError, match="not a 'wnid name' line"):
        parse_mapping(bad)
    (tiny_dataset / "cats").mkdir()
    with pytest.raises(ValsuiteError, match="not ImageNet wnids.*'cats'"):
        scan_dataset(tiny_dataset)


def test_missing_and_empty_dataset(tmp_path):
    with pytest.raises(ValsuiteError, match="dataset folder not found"):
        scan_dataset(tmp_path / "nope")
    (tmp_path / "empty" / "n01440764").mkdir(parents=True)
    with pytest.raises(ValsuiteError, match="no images found"):
        scan_dataset(tmp_path / "empty")


def test_manifest_hash_tracks_the_file_list(tiny_dataset):
    first = scan_dataset(tiny_dataset).file_list_hash()
    assert scan_dataset(tiny_dataset).file_list_hash() == first
    write_image(tiny_dataset / "n01440764" / "extra.JPEG")
    assert scan_dataset(tiny_dataset).file_list_hash() != first


def test_non_image_files_are_reported_not_evaluated(tiny_dataset, caplog):
    (tiny_dataset / "n01440764" / "notes.txt").write_text("hello")
    manifest = scan_dataset(tiny_dataset)
    assert len(manifest) == 7 and manifest.ignored_files == ("n01440764/notes.txt",)
    assert "not evaluated" in caplog.text


@pytest.mark.parametrize("batch_size,workers", [(3, 0), (3, 2), (7, 0), (50, 1)])
def test_every_image_counted_once_with_partial_last_batch(tiny_dataset, batch_size, workers):
    manifest = scan_dataset(tiny_dataset)
    pp = Preprocess(resize_size=32, crop_size=24)
    batches = list(iterate_batches(make_loader(ManifestDataset(manifest, pp), batch_size, workers)))
    sizes = [len(b) for b in batches]
    assert sum(sizes) == 7 and sizes[-1] == 7 - batch_size * (len(sizes) - 1)
    indices = torch.cat([b.indices for b in batches]).tolist()
    assert indices == list(range(7))
    assert torch.cat([b.labels for b in batches]).tolist() == [e.label for e in manifest.entries]
    assert batches[0].images.dtype == torch.uint8 and tuple(batches[0].images.shape[1:]) == (3, 24, 24)


@pytest.mark.parametrize("workers", [0, 2])
def test_unreadable_image_stops_the_run_naming_the_file(tiny_dataset, workers):
    bad = tiny_dataset / "n04285008" / "n04285008_1.JPEG"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    manifest = scan_dataset(tiny_dataset)
    loader = make_loader(ManifestDataset(manifest, Preprocess(32, 24)), 2, workers)
    with pytest.raises(ValsuiteError) as info:
        list(iterate_batches(loader))
    message = str(info.value)
    assert "unreadable image" in message and str(bad) in message and "\n" not in message


def test_grayscale_and_cmyk_become_rgb(tmp_path):
    gray = write_image(tmp_path / "g.jpg", mode="L")
    cmyk = write_image(tmp_path / "c.jpg", mode="CMYK")
    for path in (gray, cmyk):
        assert load_rgb(path).mode == "RGB"
        assert load_uint8(path, Preprocess(32, 24)).shape == (3, 24, 24)


def _torchvision_reference(path, weights):
    return weights.transforms()(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("weights_name,resize", [("ResNet50_Weights.IMAGENET1K_V2", 232),
                                                 ("ResNet50_Weights.IMAGENET1K_V1", 256)])
def test_presets_match_torchvision_transforms(sample_val, weights_name, resize):
    import torchvision.models as tvm

    from valsuite.models.torchvision_models import _preprocess_of

    cls_name, _, entry = weights_name.partition(".")
    weights = getattr(tvm, cls_name)[entry]
    pp = _preprocess_of(weights)
    assert (pp.resize_size, pp.crop_size) == (resize, 224)
    paths = sorted(sample_val.rglob("*.JPEG"))[:12]
    for path in paths:
        ours = normalize(torch.from_numpy(load_uint8(path, pp))[None], pp)[0]
        ref = _torchvision_reference(path, weights)
        # same resize and crop; ours normalises from uint8 (torchvision too, via PIL): float rounding only
        assert torch.allclose(ours, ref, atol=1e-5), path


def test_normalize_is_mean_std_on_the_0_1_scale():
    pp = Preprocess(mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 1.0))
    x = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    out = normalize(x, pp)
    assert out.dtype == torch.float32
    assert np.allclose(out[0, :, 0, 0].numpy(), [1.0, 3.0, 1.0])


def test_calibration_list_paths_resolve(tiny_dataset):
    assert read_calibration_list(tiny_dataset) is None
    (tiny_dataset / "calibration_list.txt").write_text("# calib\nn01440764/n01440764_0.JPEG\n")
    assert [p.name for p in read_calibration_list(tiny_dataset)] == ["n01440764_0.JPEG"]
    (tiny_dataset / "calibration_list.txt").write_text("n01440764/missing.JPEG\n")
    with pytest.raises(ValsuiteError, match="calibration image not found"):
        read_calibration_list(tiny_dataset)
