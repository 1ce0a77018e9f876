"""Shared fixtures: the read-only ImageNet sample beside the repo, and small image folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE_VAL = SHARED / "imagenet-sample" / "val"


@pytest.fixture(scope="session")
def sample_val() -> Path:
    if not SAMPLE_VAL.is_dir():
        pytest.skip(f"the shared ImageNet sample is not at {SAMPLE_VAL} (CI has it beside the repo)")
    return SAMPLE_VAL


def write_image(path: Path, size=(40, 30), mode="RGB", seed=0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "CMYK": 4, "L": 1}[mode]
    data = rng.integers(0, 256, size=(size[1], size[0], channels), dtype=np.uint8)
    img = Image.fromarray(data.squeeze(-1) if channels == 1 else data, mode=mode)
    img.save(path, format="JPEG", quality=90)
    return path


@pytest.fixture
def tiny_dataset(tmp_path) -> Path:
    """7 images in 3 real wnid folders (first, middle and last ImageNet classes)."""
    root = tmp_path / "val"
    layout = {"n01440764": 3, "n04285008": 2, "n15075141": 2}
    seed = 0
    for wnid, count in layout.items():
        for i in range(count):
            write_image(root / wnid / f"{wnid}_{i}.JPEG", seed=seed)
            seed += 1
    return root


@pytest.fixture
def copy_sample(tmp_path, sample_val):
    """Copy k sample classes into a writable folder."""

    def _copy(k: int) -> Path:
        root = tmp_path / "val"
        for class_dir in sorted(sample_val.iterdir())[:k]:
            shutil.copytree(class_dir, root / class_dir.name)
        return root

    return _copy
