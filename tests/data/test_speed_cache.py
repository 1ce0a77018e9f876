"""--cache: build once, reuse, rebuild when stale, and never change a single prediction."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tests.conftest import write_image
from tests.speed_helpers import tiny_spec
from valsuite.data.cache import cache_path, cached_batches, open_cache
from valsuite.data.loader import ManifestDataset, iterate_batches, make_loader
from valsuite.data.manifest import scan_dataset
from valsuite.data.preprocess import Preprocess
from valsuite.errors import ValsuiteError
from valsuite.evaluate.runner import RunConfig, run_one
from valsuite.evaluate.validate import top1_array
from valsuite.fileio import read_sidecar, write_sidecar

PP = Preprocess(resize_size=36, crop_size=32)


def _bigger_dataset(root, n_per_class=5):
    seed = 100
    for wnid in ("n01440764", "n01443537", "n04285008", "n15075141"):
        for i in range(n_per_class):
            write_image(root / wnid / f"{wnid}_{i}.JPEG", size=(48 + 3 * i, 40), seed=seed)
            seed += 1
    return root


def test_cache_holds_exactly_the_loader_pixels(tiny_dataset, tmp_path):
    manifest = scan_dataset(tiny_dataset)
    cached = open_cache(tmp_path / "c", manifest, PP, workers=0, progress=False)
    assert cached.info["built"] and len(cached) == len(manifest) == 7
    plain = ManifestDataset(manifest, PP)
    for i in range(len(manifest)):
        assert np.array_equal(cached[i][0], plain[i][0])
        assert cached[i][1:] == plain[i][1:]
    sidecar = read_sidecar(cached.path)
    assert sidecar["key"]["file_list_sha256"] == manifest.file_list_hash()
    assert sidecar["shape"] == [7, 3, 32, 32]


def test_cache_is_reused_then_rebuilt_when_stale(tiny_dataset, tmp_path, caplog):
    manifest = scan_dataset(tiny_dataset)
    first = open_cache(tmp_path / "c", manifest, PP, workers=0, progress=False)
    mtime = first.path.stat().st_mtime_ns
    again = open_cache(tmp_path / "c", manifest, PP, workers=0, progress=False)
    assert again.info["built"] is False and again.path.stat().st_mtime_ns == mtime
    # one more image: the manifest hash changes -> rebuilt, one warning naming the reason
    write_image(tiny_dataset / "n01440764" / "extra.JPEG", seed=99)
    bigger = scan_dataset(tiny_dataset)
    with caplog.at_level(logging.WARNING, logger="valsuite.data.cache"):
        rebuilt = open_cache(tmp_path / "c", bigger, PP, workers=0, progress=False)
    assert rebuilt.info["built"] and rebuilt.info["rebuilt_because"] == "file_list_sha256 changed"
    assert [r for r in caplog.records if "stale" in r.getMessage()] and len(rebuilt.array) == 8
    # same names, different bytes (a re-encoded file): the size fingerprint catches it
    write_image(tiny_dataset / "n01440764" / "extra.JPEG", size=(90, 70), seed=98)
    rebuilt = open_cache(tmp_path / "c", scan_dataset(tiny_dataset), PP, workers=0, progress=False)
    assert rebuilt.info["rebuilt_because"] == "file_sizes_sha256 changed"


def test_other_preprocessing_gets_its_own_file(tiny_dataset, tmp_path):
    manifest = scan_dataset(tiny_dataset)
    other = Preprocess(resize_size=40, crop_size=32, interpolation="bicubic")
    assert cache_path(tmp_path, manifest, PP) != cache_path(tmp_path, manifest, other)


def test_corrupt_sidecar_or_array_means_rebuild(tiny_dataset, tmp_path):
    manifest = scan_dataset(tiny_dataset)
    cached = open_cache(tmp_path / "c", manifest, PP, workers=0, progress=False)
    sidecar_file = cached.path.with_name(cached.path.name + ".json")
    sidecar_file.write_text("{not json")
    assert open_cache(tmp_path / "c", manifest, PP, workers=0, progress=False).info["rebuilt_because"] == "no readable sidecar"
    facts = read_sidecar(cached.path)
    np.save(cached.path, np.zeros((3, 3, 32, 32), np.uint8))       # wrong shape, sidecar intact
    write_sidecar(cached.path, facts)
    again = open_cache(tmp_path / "c", manifest, PP, workers=0, progress=False)
    assert again.info["built"] and "expected uint8" in again.info["rebuilt_because"]


def test_unreadable_image_names_the_file_and_leaves_no_cache(tiny_dataset, tmp_path):
    bad = tiny_dataset / "n04285008" / "broken.JPEG"
    bad.write_bytes(b"not a jpeg")
    manifest = scan_dataset(tiny_dataset)
    with pytest.raises(ValsuiteError, match="broken.JPEG"):
        open_cache(tmp_path / "c", manifest, PP, workers=0, progress=False)
    assert not list((tmp_path / "c").iterdir())


@pytest.mark.parametrize("threads", [0, 2])
def test_cached_batches_in_order_with_partial_last_batch(tiny_dataset, tmp_path, threads):
    manifest = scan_dataset(tiny_dataset)
    cached = open_cache(tmp_path / "c", manifest, PP, workers=0, progress=False)
    batches = list(cached_batches(cached, 3, threads=threads))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert np.concatenate([b.indices.numpy() for b in batches]).tolist() == list(range(7))
    ref = list(iterate_batches(make_loader(ManifestDataset(manifest, PP), 3, workers=0)))
    for got, want in zip(batches, ref):
        assert np.array_equal(got.images.numpy(), want.images.numpy())
        assert got.labels.tolist() == want.labels.tolist()


def test_accuracy_identical_with_and_without_cache(tmp_path):
    root = _bigger_dataset(tmp_path / "val")
    spec = tiny_spec()
    runs = {}
    for workers in (0, 2):
        for cache in (None, tmp_path / "cache"):
            cfg = RunConfig(network="tiny", dataset=root, batch_size=6, workers=workers, cache=cache, progress=False)
            runs[(workers, cache is not None)] = run_one(cfg, spec)
    reference = runs[(0, False)]
    top1 = top1_array(reference.result)
    assert len(set(top1.tolist())) > 1          # the model tells the images apart: the check can fail
    for key, outcome in runs.items():
        assert np.array_equal(top1_array(outcome.result), top1), key
        for field in ("prec1", "prec5", "num_images", "num_batches"):
            assert outcome.record[field] == reference.record[field], (key, field)
    assert runs[(0, True)].record["dataset"]["cache"]["built"] is True
    assert runs[(2, True)].record["dataset"]["cache"]["built"] is False


def test_cache_needs_a_dataset_and_excludes_gpu_decode(tmp_path, tiny_dataset):
    with pytest.raises(ValsuiteError, match="--cache needs a dataset"):
        run_one(RunConfig(network="tiny", dataset=None, cache=tmp_path, progress=False), tiny_spec())
    with pytest.raises(ValsuiteError, match="exclude each other"):
        run_one(RunConfig(network="tiny", dataset=tiny_dataset, cache=tmp_path, decode="gpu", progress=False),
                tiny_spec())
