"""format_dataset.py on flat ILSVRC folders and <wnid>/ layouts: round trips, refusals, resumes."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from valsuite.cli.format_dataset_cli import main, run
from valsuite.data.manifest import read_manifest_file, scan_dataset
from valsuite.data.synsets import builtin_mapping
from valsuite.arrange.plan import PlanProblems

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "imagenet-sample" / "val"
pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"needs the shared sample at {SAMPLE}")


def sample_images(count: int | None) -> list[Path]:
    """A spread of the sample (every k-th class) so tests see varied sizes and grey images."""
    images = sorted(SAMPLE.glob("*/*.JPEG"))
    if count is None:
        return images
    return images[:: max(1, len(images) // count)][:count]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_flat(root: Path, count: int | None = 24, labels: str = "kaggle") -> dict[str, tuple[str, str]]:
    """root/flat/ILSVRC2012_val_*.JPEG plus ground truth; returns name -> (wnid, sha256)."""
    flat = root / "flat"
    flat.mkdir(parents=True)
    truth: dict[str, tuple[str, str]] = {}
    for number, image in enumerate(sample_images(count), 1):
        name = f"ILSVRC2012_val_{number:08d}.JPEG"
        shutil.copyfile(image, flat / name)
        truth[name] = (image.parent.name, digest(image))
    if labels == "kaggle":
        rows = [f"{Path(n).stem},{w} 12 34 56 78" for n, (w, _) in truth.items()]
        (flat / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "\n".join(rows) + "\n")
    else:
        ids = devkit_ids()
        (root / "devkit").mkdir()
        lines = [str(ids[w]) for w, _ in truth.values()]
        (root / "devkit" / "ILSVRC2012_validation_ground_truth.txt").write_text("\n".join(lines) + "\n")
        if labels == "devkit-mat":
            write_meta_mat(root / "devkit" / "meta.mat", ids)
        else:
            text = "".join(f"{i} {w}\n" for w, i in ids.items())
            (root / "devkit" / "id_mapping.txt").write_text(text)
    return truth


def devkit_ids() -> dict[str, int]:
    """A fixed shuffle of ILSVRC ids: the devkit's id order is not the sorted wnid order."""
    wnids = list(builtin_mapping().wnids)
    order = list(range(1, len(wnids) + 1))
    random.Random(7).shuffle(order)
    return dict(zip(wnids, order))


def write_meta_mat(path: Path, ids: dict[str, int]) -> None:
    from scipy.io import savemat

    fields = [("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("num_children", "O")]
    synsets = np.zeros((len(ids) + 1, 1), dtype=fields)
    for row, (wnid, number) in enumerate(ids.items()):
        synsets[row, 0] = (np.array([[number]], dtype=np.uint16), np.array([wnid]), np.array(["x"]), 0)
    synsets[len(ids), 0] = (np.array([[1001]], dtype=np.uint16), np.array(["n00001740"]), np.array(["entity"]), 3)
    savemat(str(path), {"synsets": synsets})


def tree(root: Path) -> dict[str, str]:
    """Every file under root with its content hash (links as 'link:target'): the 'nothing moved' check."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = f"link:{os.readlink(path)}"
        elif path.is_file():
            out[rel] = digest(path)
    return out


def check_layout(out: Path, truth: dict[str, tuple[str, str]]) -> None:
    """Same files, same bytes, correct labels, and a manifest that says so."""
    index = builtin_mapping().index
    manifest = scan_dataset(out)
    assert len(manifest) == len(truth)
    for entry in manifest.entries:
        wnid, name = entry.relpath.split("/")
        assert truth[name][0] == wnid and entry.label == index[wnid]
        assert digest(out / entry.relpath) == truth[name][1]
    rows = read_manifest_file(out)
    assert [r["relpath"] for r in rows] == [e.relpath for e in manifest.entries]
    assert all(r["sha256"] == truth[r["relpath"].split("/")[1]][1] for r in rows)
    assert (out / "LOC_synset_mapping.txt").read_text().splitlines()[0] == "n01440764 tench"


def test_kaggle_round_trip_moves_everything(tmp_path, capsys):
    truth = make_flat(tmp_path)
    assert main([str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "-q"]) == 0
    check_layout(tmp_path / "val", truth)
    assert not list((tmp_path / "flat").glob("*.JPEG")), "move leaves no source behind"
    text = capsys.readouterr().out
    assert f"total: {len(truth)}; skipped: none" in text


@pytest.mark.parametrize("labels", ["devkit-mat", "devkit-text"])
def test_devkit_ground_truth(tmp_path, labels):
    truth = make_flat(tmp_path, labels=labels)
    gt = tmp_path / "devkit" / "ILSVRC2012_validation_ground_truth.txt"
    args = [str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "--labels", str(gt), "--copy", "-q"]
    if labels == "devkit-text":
        args += ["--mapping", str(tmp_path / "devkit" / "id_mapping.txt")]
    assert main(args) == 0
    check_layout(tmp_path / "val", truth)
    assert len(list((tmp_path / "flat").glob("*.JPEG"))) == len(truth), "copy keeps the sources"


def test_symlink_mode_and_dry_run(tmp_path, capsys):
    truth = make_flat(tmp_path, count=8)
    before = tree(tmp_path)
    assert main([str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "--symlink", "--dry-run"]) == 0
    assert tree(tmp_path) == before and "dry run: nothing changed" in capsys.readouterr().out
    assert main([str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "--symlink", "-q"]) == 0
    check_layout(tmp_path / "val", truth)
    assert all(p.is_symlink() for p in (tmp_path / "val").glob("n*/*"))


def test_in_place_and_layout_reindex(tmp_path):
    truth = make_flat(tmp_path, count=10)
    flat = tmp_path / "flat"
    assert main([str(flat), "--output", str(flat), "-q"]) == 0
    check_layout(flat, truth)
    first = (flat / "manifest.csv").read_bytes()
    (flat / "manifest.csv").unlink()
    assert main([str(flat), "-q"]) == 0, "a <wnid>/ folder is checked and indexed"
    assert (flat / "manifest.csv").read_bytes() == first


def test_rerun_after_finished_run_changes_nothing(tmp_path):
    truth = make_flat(tmp_path)
    args = [str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "-q"]
    assert main(args) == 0
    before = tree(tmp_path)
    assert main(args) == 0
    assert tree(tmp_path) == before
    check_layout(tmp_path / "val", truth)


def _break(kind: str, root: Path) -> str:
    """Damage a flat input in one way; return a fragment the problem list must contain."""
    flat, csv = root / "flat", root / "flat" / "LOC_val_solution.csv"
    lines = csv.read_text().splitlines()
    if kind == "missing-truth":
        csv.write_text("\n".join(lines[:3] + lines[4:]) + "\n")
        return "missing ground truth for ILSVRC2012_val_00000003.JPEG"
    if kind == "unknown-wnid":
        csv.write_text("\n".join(lines[:2] + ["ILSVRC2012_val_00000002,n99999999 1 2 3 4"] + lines[3:]) + "\n")
        return "unknown wnid 'n99999999' for ILSVRC2012_val_00000002.JPEG"
    if kind == "duplicate-row":
        csv.write_text("\n".join(lines + [lines[5]]) + "\n")
        return "duplicate image id ILSVRC2012_val_00000005"
    if kind == "duplicate-file":
        shutil.copyfile(flat / "ILSVRC2012_val_00000004.JPEG", flat / "ILSVRC2012_val_00000004.jpg")
        return "duplicate image id ILSVRC2012_val_00000004"
    if kind == "unreadable":
        (flat / "ILSVRC2012_val_00000006.JPEG").write_bytes(b"not a jpeg at all")
        return "unreadable image"
    if kind == "target-differs":
        row = next(line for line in lines if line.startswith("ILSVRC2012_val_00000007,"))
        wnid = row.split(",")[1].split()[0]
        (root / "val" / wnid).mkdir(parents=True)
        (root / "val" / wnid / "ILSVRC2012_val_00000007.JPEG").write_bytes(b"other bytes")
        return "target exists with different content"
    if kind == "wrong-folder":
        (root / "val" / "n01440764").mkdir(parents=True)
        shutil.copyfile(flat / "ILSVRC2012_val_00000009.JPEG", root / "val" / "n01440764" / "ILSVRC2012_val_00000009.JPEG")
        return "but the ground truth says"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing-truth", "unknown-wnid", "duplicate-row", "duplicate-file",
                                  "unreadable", "target-differs", "wrong-folder"])
def test_bad_input_refuses_and_moves_nothing(tmp_path, kind, capsys):
    make_flat(tmp_path, count=12)
    expected = _break(kind, tmp_path)
    before = tree(tmp_path)
    with pytest.raises(PlanProblems) as info:
        main([str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "-q"])
    assert expected in str(info.value)
    assert expected in capsys.readouterr().err
    assert tree(tmp_path) == before


def test_every_problem_is_listed_and_exit_code_is_2(tmp_path, capsys):
    make_flat(tmp_path, count=12)
    fragments = [_break(kind, tmp_path) for kind in ("missing-truth", "unreadable", "target-differs")]
    before = tree(tmp_path)
    assert run([str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "-q"]) == 2
    err = capsys.readouterr().err
    assert all(fragment in err for fragment in fragments)
    assert "3 problem(s) found, nothing was moved" in err.splitlines()[-1]
    assert tree(tmp_path) == before


def test_devkit_unknown_id_refuses(tmp_path):
    make_flat(tmp_path, count=6, labels="devkit-text")
    gt = tmp_path / "devkit" / "ILSVRC2012_validation_ground_truth.txt"
    gt.write_text("1001\n" + "\n".join(gt.read_text().splitlines()[1:]) + "\n")
    before = tree(tmp_path)
    with pytest.raises(PlanProblems, match="unknown wnid for ILSVRC id 1001"):
        main([str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "--labels", str(gt),
              "--mapping", str(tmp_path / "devkit" / "id_mapping.txt")])
    assert tree(tmp_path) == before


def test_layout_with_unknown_folder_refuses(tmp_path):
    (tmp_path / "val" / "not_a_wnid").mkdir(parents=True)
    (tmp_path / "val" / "n01440764").mkdir()
    shutil.copyfile(sample_images(1)[0], tmp_path / "val" / "n01440764" / "a.JPEG")
    before = tree(tmp_path)
    with pytest.raises(PlanProblems, match="unknown wnid folder"):
        main([str(tmp_path / "val")])
    assert tree(tmp_path) == before


def test_interrupted_move_is_completed_by_a_rerun(tmp_path, monkeypatch):
    truth = make_flat(tmp_path)
    import valsuite.arrange.apply as apply_module

    real, calls = apply_module.place_file, []

    def crash_halfway(*args, **kwargs):
        if len(calls) == len(truth) // 2:
            raise RuntimeError("planted crash")
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(apply_module, "place_file", crash_halfway)
    args = [str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "-q"]
    with pytest.raises(RuntimeError, match="planted crash"):
        main(args)
    moved = list((tmp_path / "val").glob("n*/*.JPEG"))
    assert len(moved) == len(truth) // 2
    assert len(moved) + len(list((tmp_path / "flat").glob("*.JPEG"))) == len(truth), "nothing lost"
    monkeypatch.setattr(apply_module, "place_file", real)
    assert main(args) == 0
    check_layout(tmp_path / "val", truth)
    assert not list((tmp_path / "flat").glob("*.JPEG"))


def test_cross_device_move_copies_verifies_and_survives_a_crash(tmp_path, monkeypatch):
    """rename fails with EXDEV: copy + sha256 check + delete; a crash before the delete leaves
    two equal copies, and the re-run deletes only the duplicate source."""
    truth = make_flat(tmp_path, count=10)

    def no_rename(src, dst, *a, **k):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    real_unlink, unlinks = os.unlink, []

    def crash_on_fourth_unlink(path, *a, **k):
        unlinks.append(path)
        if len(unlinks) == 4:
            raise RuntimeError("planted crash after copy, before delete")
        return real_unlink(path, *a, **k)

    monkeypatch.setattr(os, "rename", no_rename)
    monkeypatch.setattr(os, "unlink", crash_on_fourth_unlink)
    args = [str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "-q"]
    with pytest.raises(RuntimeError, match="planted crash"):
        main(args)
    monkeypatch.setattr(os, "unlink", real_unlink)
    assert len(list((tmp_path / "val").glob("n*/*.JPEG"))) == 4
    assert len(list((tmp_path / "flat").glob("*.JPEG"))) == len(truth) - 3
    assert main(args) == 0
    check_layout(tmp_path / "val", truth)
    assert not list((tmp_path / "flat").glob("*.JPEG"))


def test_leftover_partial_file_is_removed(tmp_path):
    truth = make_flat(tmp_path, count=5)
    wnid, _ = next(iter(truth.values()))
    partial = tmp_path / "val" / wnid / ".ILSVRC2012_val_00000001.JPEG.fmtds-partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half a copy")
    assert main([str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "-q"]) == 0
    assert not partial.exists()
    check_layout(tmp_path / "val", truth)


def test_whole_sample_round_trip(tmp_path):
    """All 600 shared images: flat Kaggle folder -> val/<wnid>/ -> a subset, bytes and labels checked."""
    truth = make_flat(tmp_path, count=None)
    assert len(truth) == 600
    assert main([str(tmp_path / "flat"), "--output", str(tmp_path / "val"), "-q"]) == 0
    check_layout(tmp_path / "val", truth)
    assert main([str(tmp_path / "val"), "--subset", "--per-class", "1", "--seed", "0", "--classes", "50",
                 "--calib", "20", "--output", str(tmp_path / "ci"), "-q"]) == 0
    assert len(scan_dataset(tmp_path / "ci")) == 50
