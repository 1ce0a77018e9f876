"""format_dataset.py --subset: same seed, same files; calibration disjoint from evaluation."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from valsuite.cli.format_dataset_cli import main
from valsuite.data.manifest import read_calibration_list, read_manifest_file, scan_dataset
from valsuite.arrange.plan import PlanProblems
from valsuite.arrange.subset import pick

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "imagenet-sample" / "val"
pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"needs the shared sample at {SAMPLE}")


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def layout(tmp_path) -> Path:
    """20 classes x 4 distinct files (sample image + a distinct trailing byte after the JPEG end)."""
    root = tmp_path / "val"
    for image in sorted(SAMPLE.glob("*/*.JPEG"))[::30][:20]:
        folder = root / image.parent.name
        folder.mkdir(parents=True)
        for k in range(4):
            (folder / f"{image.stem}_{k}.JPEG").write_bytes(image.read_bytes() + bytes([k]))
    return root


def subset(src: Path, out: Path, *extra: str) -> int:
    return main([str(src), "--subset", "--output", str(out), "-q", *extra])


def test_same_seed_same_subset_and_other_seed_differs(layout, tmp_path):
    args = ("--per-class", "2", "--seed", "5", "--classes", "8", "--calib", "6")
    assert subset(layout, tmp_path / "a", *args) == 0
    assert subset(layout, tmp_path / "b", *args) == 0
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert subset(layout, tmp_path / "c", "--per-class", "2", "--seed", "6", "--classes", "8") == 0
    files_a = {e.relpath for e in scan_dataset(tmp_path / "a").entries}
    files_c = {e.relpath for e in scan_dataset(tmp_path / "c").entries}
    assert len(files_a) == len(files_c) == 16 and files_a != files_c


def test_calibration_is_disjoint_and_not_scanned(layout, tmp_path):
    out = tmp_path / "ci"
    assert subset(layout, out, "--per-class", "3", "--seed", "1", "--calib", "15") == 0
    evaluated = scan_dataset(out)
    assert len(evaluated) == 60 and evaluated.num_classes_present == 20
    calib = read_calibration_list(out)
    assert len(calib) == 15
    assert all(".calib" in p.parts for p in calib)
    evaluated_names = {Path(e.relpath).name for e in evaluated.entries}
    assert not evaluated_names & {p.name for p in calib}, "calibration and evaluation overlap"
    assert len(read_manifest_file(out)) == 60


def test_rerun_is_idempotent_and_another_seed_into_same_folder_refuses(layout, tmp_path):
    out = tmp_path / "ci"
    args = ("--per-class", "1", "--seed", "3", "--calib", "4")
    assert subset(layout, out, *args) == 0
    before = tree(out)
    assert subset(layout, out, *args) == 0
    assert tree(out) == before
    with pytest.raises(PlanProblems, match="not in this subset"):
        subset(layout, out, "--per-class", "1", "--seed", "4", "--calib", "4")
    assert tree(out) == before


def test_impossible_requests_refuse(layout, tmp_path):
    before = tree(tmp_path)
    with pytest.raises(PlanProblems) as info:
        subset(layout, tmp_path / "ci", "--per-class", "5", "--seed", "0", "--classes", "30", "--calib", "999")
    text = "\n".join(info.value.problems)
    assert len(info.value.problems) == 22 and "and 2 more" in str(info.value)
    assert "--per-class needs 5" in text and "--classes 30" in text and "--calib 999" in text
    assert tree(tmp_path) == before


def test_fixed_choice_on_the_shared_sample(tmp_path):
    """Pinned: the hash ordering must pick these classes on every machine for seed 0."""
    assert subset(SAMPLE, tmp_path / "ci", "--per-class", "1", "--seed", "0", "--classes", "5") == 0
    picked = sorted(p.name for p in (tmp_path / "ci").iterdir() if p.is_dir())
    assert picked == pick(0, sorted(p.name for p in SAMPLE.iterdir()), 5)
    assert picked == PINNED_SEED0_CLASSES5


def test_symlink_subset(layout, tmp_path):
    assert subset(layout, tmp_path / "ci", "--per-class", "1", "--seed", "0", "--symlink") == 0
    links = list((tmp_path / "ci").glob("n*/*.JPEG"))
    assert len(links) == 20 and all(p.is_symlink() and p.resolve().parent.parent == layout.resolve()
                                    for p in links)


PINNED_SEED0_CLASSES5 = ['n02108915', 'n02408429', 'n02669723', 'n04277352', 'n04344873']
