"""Top-1/top-5 counting, shared by validation and parity: one rule for what a hit is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TopKAccuracy:
    correct1: int = 0
    correct5: int = 0
    labelled: int = 0      # images with a label (-1 marks an unlabelled image)

    def update(self, top: np.ndarray, labels: np.ndarray) -> None:
        """top: (N, k<=5) class indices, best first; labels: (N,) ints, -1 when unknown."""
        top, labels = np.asarray(top), np.asarray(labels)
        mask = labels >= 0
        if mask.any():
            hits = top[mask] == labels[mask][:, None]
            self.correct1 += int(hits[:, 0].sum())
            self.correct5 += int(hits.any(axis=1).sum())
            self.labelled += int(mask.sum())

    @property
    def prec1(self) -> float | None:
        return 100.0 * self.correct1 / self.labelled if self.labelled else None

    @property
    def prec5(self) -> float | None:
        return 100.0 * self.correct5 / self.labelled if self.labelled else None
