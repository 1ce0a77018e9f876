"""Batches of uint8 images for evaluation, with exact accounting.

Workers decode and crop (the host half of preprocessing); the evaluator normalises on the
backend's device. A worker never raises: an unreadable image travels as an error string and the
main process stops the run with one line naming the file (DataLoader would wrap the message in a
worker traceback otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from valsuite.data.manifest import Manifest
from valsuite.data.preprocess import Preprocess, load_uint8
from valsuite.errors import ValsuiteError


@dataclass
class Batch:
    images: "object"          # torch.uint8 tensor (N, 3, H, W)
    labels: "object"          # torch.int64 tensor (N,), -1 when unlabelled
    indices: "object"         # torch.int64 tensor (N,): positions in the manifest / sample list

    def pin_memory(self) -> "Batch":
        """Called by DataLoader(pin_memory=True): page-locked images copy to the GPU asynchronously."""
        return Batch(self.images.pin_memory(), self.labels, self.indices)

    def __len__(self) -> int:
        return int(self.images.shape[0])


class ManifestDataset:
    """Map-style dataset over a Manifest; item = (uint8 CHW array | None, label, index, error)."""

    def __init__(self, manifest: Manifest, pp: Preprocess) -> None:
        self.manifest = manifest
        self.pp = pp

    def __len__(self) -> int:
        return len(self.manifest)

    def __getitem__(self, index: int):
        entry = self.manifest.entries[index]
        try:
            return load_uint8(self.manifest.path(entry), self.pp), entry.label, index, None
        except ValsuiteError as exc:
            return None, entry.label, index, str(exc)


class SyntheticDataset:
    """Seeded random uint8 images (no labels): timing without a dataset, identical on every machine."""

    def __init__(self, num_samples: int, pp: Preprocess, seed: int = 0) -> None:
        self.num_samples = num_samples
        self.pp = pp
        self.seed = seed

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, index])
        image = rng.integers(0, 256, size=self.pp.input_shape, dtype=np.uint8)
        return image, -1, index, None


def collate(items) -> Batch:
    import torch

    for image, _, _, error in items:
        if error is not None:
            raise ValsuiteError(error)
    images = torch.from_numpy(np.stack([item[0] for item in items]))
    labels = torch.tensor([item[1] for item in items], dtype=torch.int64)
    indices = torch.tensor([item[2] for item in items], dtype=torch.int64)
    return Batch(images, labels, indices)


def make_loader(dataset, batch_size: int, workers: int = 2, pin_memory: bool = False):
    """A DataLoader in manifest order that keeps the partial last batch."""
    import torch.utils.data

    if batch_size < 1:
        raise ValsuiteError(f"batch size must be at least 1, got {batch_size}")
    if workers < 0:
        raise ValsuiteError(f"--workers must be 0 or more, got {workers}")
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=False, drop_last=False, num_workers=workers,
        collate_fn=_safe_collate, pin_memory=pin_memory, persistent_workers=False,
        prefetch_factor=4 if workers > 0 else None,
    )


def _safe_collate(items):
    """Collate in the worker; errors become a marker the main process turns into one line."""
    try:
        return collate(items)
    except ValsuiteError as exc:
        return exc


def iterate_batches(loader):
    """Yield Batch objects; raise the first image error as a clean ValsuiteError."""
    for batch in loader:
        if isinstance(batch, ValsuiteError):
            raise ValsuiteError(str(batch))
        yield batch
