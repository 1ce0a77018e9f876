"""Data group: the images a run sees (a dataset folder, or seeded synthetic/random inputs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.options.base import OptionGroup, option

DEFAULT_DATASET = Path("datasets/val")
SYNTHETIC_SAMPLES = 256


@dataclass
class DataOptions(OptionGroup):
    TITLE = "data"

    dataset: Path | None = option("--dataset", "-d", type=Path,
                                  help=f"ImageNet val folder, DIR/<wnid>/*.JPEG (default with -v: {DEFAULT_DATASET})")
    synthetic: bool = option("--synthetic", default=False, help="seeded random images instead of a dataset")
    num_samples: int | None = option("--num_samples", "--num-samples", type=int,
                                     help=f"number of images/samples used: synthetic images (default: "
                                          f"{SYNTHETIC_SAMPLES}) or --compare's random inputs (default: 500); "
                                          "refused with a dataset folder, where every image is used")
    seed: int = option("--seed", default=0, type=int, help="seed of synthetic/random inputs (default: %(default)s)")
    class_list: Path | None = option("--class-list", type=Path, metavar="FILE",
                                     help="a custom class list, one `folder [name]` per line, class index = line "
                                          "order (default: the 1000 ImageNet wnids; a LOC_synset_mapping.txt in or "
                                          "next to the dataset must be exactly those). Records say custom_classes")

    def validate(self) -> "DataOptions":
        if self.num_samples is not None and self.num_samples < 1:
            raise ValsuiteError(f"--num_samples must be at least 1, got {self.num_samples}")
        if self.synthetic and self.dataset is not None:
            raise ValsuiteError("--synthetic and --dataset exclude each other")
        if self.synthetic and self.class_list is not None:
            raise ValsuiteError("--class-list has no effect with --synthetic (synthetic images have no labels)")
        return self

    def samples(self, default: int = SYNTHETIC_SAMPLES) -> int:
        """How many synthetic/random inputs."""
        return default if self.num_samples is None else self.num_samples

    def folder(self) -> Path | None:
        """The dataset folder (default datasets/val) or None for synthetic input; checked to exist."""
        if self.synthetic:
            return None
        if self.num_samples is not None:
            raise ValsuiteError("--num_samples has no effect with a dataset folder: every image is used",
                                hint="add --synthetic for seeded synthetic images")
        from valsuite.data.manifest import check_dataset_folder

        folder = self.dataset or DEFAULT_DATASET
        check_dataset_folder(folder)   # a missing folder and a file given as the folder say which
        return folder
