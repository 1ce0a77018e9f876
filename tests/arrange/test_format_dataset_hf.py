"""format_dataset.py --hf on local files in the ILSVRC/imagenet-1k schema (parquet, save_to_disk)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from valsuite.cli.format_dataset_cli import main, run  # noqa: E402
from valsuite.data.manifest import read_manifest_file, scan_dataset  # noqa: E402
from valsuite.data.synsets import builtin_mapping  # noqa: E402
from valsuite.arrange.plan import PlanProblems  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "imagenet-sample" / "val"
pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"needs the shared sample at {SAMPLE}")
SCHEMA = pa.schema([("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])), ("label", pa.int64())])


def rows(count: int = 24, unnamed_every: int = 5) -> list[dict]:
    """Sample images as imagenet-1k rows; every 5th row has no path (a name is made up)."""
    index = builtin_mapping().index
    out = []
    for number, image in enumerate(sorted(SAMPLE.glob("*/*.JPEG"))[::25][:count], 1):
        path = None if number % unnamed_every == 0 else f"ILSVRC2012_val_{number:08d}.JPEG"
        out.append({"image": {"bytes": image.read_bytes(), "path": path}, "label": index[image.parent.name]})
    return out


def table(data: list[dict]):
    return pa.Table.from_pylist(data, schema=SCHEMA)


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def check_written(out: Path, data: list[dict]) -> None:
    """Every row once, original bytes (not re-encoded), in the folder of its label."""
    wnids = builtin_mapping().wnids
    manifest = scan_dataset(out)
    assert len(manifest) == len(data)
    got = {hashlib.sha256(manifest.path(e).read_bytes()).hexdigest(): e.label for e in manifest.entries}
    want = {hashlib.sha256(r["image"]["bytes"]).hexdigest(): r["label"] for r in data}
    assert got == want
    for entry in manifest.entries:
        assert entry.relpath.split("/")[0] == wnids[entry.label]
    names = {Path(e.relpath).name for e in manifest.entries}
    assert "ILSVRC2012_val_00000001.JPEG" in names and "hf_validation_00000004.JPEG" in names
    assert len(read_manifest_file(out)) == len(data)


def test_parquet_file_round_trip(tmp_path):
    data = rows()
    pq.write_table(table(data), tmp_path / "val.parquet", row_group_size=7)
    assert main(["--hf", str(tmp_path / "val.parquet"), "--output", str(tmp_path / "out"), "-q"]) == 0
    check_written(tmp_path / "out", data)
    before = tree(tmp_path / "out")
    assert main(["--hf", str(tmp_path / "val.parquet"), "--output", str(tmp_path / "out"), "-q"]) == 0
    assert tree(tmp_path / "out") == before, "a re-run writes nothing new"


def test_parquet_folder_picks_the_split(tmp_path):
    data = rows()
    folder = tmp_path / "imagenet-1k" / "data"
    folder.mkdir(parents=True)
    pq.write_table(table(data[:10]), folder / "validation-00000-of-00002.parquet")
    pq.write_table(table(data[10:]), folder / "validation-00001-of-00002.parquet")
    pq.write_table(table(rows(3, unnamed_every=1)[:3]), folder / "train-00000-of-00001.parquet")
    assert main(["--hf", str(tmp_path / "imagenet-1k"), "--output", str(tmp_path / "out"), "-q"]) == 0
    check_written(tmp_path / "out", data)


def write_save_to_disk(folder: Path, data: list[dict]) -> None:
    """The files `Dataset.save_to_disk` writes: Arrow IPC stream shards plus state.json."""
    folder.mkdir(parents=True)
    shard = "data-00000-of-00001.arrow"
    tab = table(data)
    with pa.OSFile(str(folder / shard), "wb") as sink, pa.ipc.new_stream(sink, tab.schema) as writer:
        for batch in tab.to_batches(max_chunksize=5):
            writer.write_batch(batch)
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": shard}], "_split": "validation"}))
    (folder / "dataset_info.json").write_text("{}")


def test_save_to_disk_folder_and_dataset_dict(tmp_path):
    data = rows()
    write_save_to_disk(tmp_path / "dd" / "validation", data)
    write_save_to_disk(tmp_path / "dd" / "train", data[:2])
    (tmp_path / "dd" / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "validation"]}))
    assert main(["--hf", str(tmp_path / "dd"), "--output", str(tmp_path / "out"), "-q"]) == 0
    check_written(tmp_path / "out", data)
    assert main(["--hf", str(tmp_path / "dd" / "validation"), "--output", str(tmp_path / "out2"), "-q"]) == 0
    check_written(tmp_path / "out2", data)


@pytest.mark.parametrize("damage,fragment", [
    (lambda r: r[3].update(label=1000), "label 1000 is not a class index"),
    (lambda r: r[4].update(label=-1), "label -1 is not a class index"),
    (lambda r: r[5]["image"].update(bytes=None), "no image bytes"),
    (lambda r: r[6]["image"].update(bytes=b"\x00" * 50), "unreadable image at row 6"),
    (lambda r: r[8]["image"].update(path="ILSVRC2012_val_00000001.JPEG"), "duplicate image id"),
])
def test_bad_rows_refuse_and_write_nothing(tmp_path, damage, fragment):
    data = rows()
    damage(data)
    pq.write_table(table(data), tmp_path / "val.parquet")
    with pytest.raises(PlanProblems, match=fragment):
        main(["--hf", str(tmp_path / "val.parquet"), "--output", str(tmp_path / "out"), "-q"])
    assert not (tmp_path / "out").exists()


def test_interrupted_write_is_completed(tmp_path, monkeypatch):
    import valsuite.arrange.apply as apply_module

    data = rows()
    pq.write_table(table(data), tmp_path / "val.parquet")
    real, calls = apply_module._write_verified, []

    def crash(*args, **kwargs):
        if len(calls) == 10:
            raise RuntimeError("planted crash")
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(apply_module, "_write_verified", crash)
    args = ["--hf", str(tmp_path / "val.parquet"), "--output", str(tmp_path / "out"), "-q"]
    with pytest.raises(RuntimeError):
        main(args)
    assert len(list((tmp_path / "out").glob("n*/*"))) == 10
    monkeypatch.setattr(apply_module, "_write_verified", real)
    assert main(args) == 0
    check_written(tmp_path / "out", data)


def _hub_ready() -> str | None:
    try:
        import datasets
    except ImportError:
        return "the Hugging Face `datasets` package is not installed"
    if not hasattr(datasets, "load_dataset"):
        return "`datasets` resolves to a folder, not the Hugging Face package"
    if not (os.environ.get("HF_TOKEN") or Path.home().joinpath(".cache/huggingface/token").is_file()):
        return "no Hugging Face token (ILSVRC/imagenet-1k is gated)"
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=5).close()
    except OSError:
        return "no internet connection to huggingface.co"
    return None


@pytest.mark.slow
@pytest.mark.skipif(_hub_ready() is not None, reason=str(_hub_ready()))
def test_hub_download(tmp_path):  # pragma: no cover - needs internet, a token and ~6 GB
    assert main(["--hf", "ILSVRC/imagenet-1k", "--output", str(tmp_path / "val"), "-q"]) == 0
    assert len(scan_dataset(tmp_path / "val")) == 50000


def test_hub_without_datasets_package_is_a_user_error(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    assert run(["--hf", "--output", str(tmp_path / "val")]) == 2
    assert "needs the Hugging Face `datasets` package" in capsys.readouterr().err


def test_hub_glue_with_a_stand_in_datasets_module(tmp_path, monkeypatch):
    """Checks only our calls (load_dataset, cast_column(Image(decode=False)), arrow batches) against
    a stand-in; the real Hub path is exercised by test_hub_download where there is internet."""
    import sys
    import types

    data, calls = rows(), []

    class FakeDataset:
        def cast_column(self, column, feature):
            calls.append((column, feature))
            return self

        def with_format(self, kind):
            assert kind == "arrow"
            return self

        def iter(self, batch_size):
            tab = table(data)
            for start in range(0, tab.num_rows, batch_size):
                yield tab.slice(start, batch_size)

    fake = types.ModuleType("datasets")
    fake.load_dataset = lambda ref, split: calls.append((ref, split)) or FakeDataset()
    fake.Image = lambda decode: ("Image", decode)
    monkeypatch.setitem(sys.modules, "datasets", fake)
    assert main(["--hf", "--output", str(tmp_path / "out"), "-q"]) == 0
    assert ("ILSVRC/imagenet-1k", "validation") in calls and ("image", ("Image", False)) in calls
    check_written(tmp_path / "out", data)
