"""Agreement of a head's label map with variant 1's, and of its scores with variant 1's max logit.

No segmentation labels are needed: variant 1 (logits upsampled, argmax on the host) is the
reference, and a confusion matrix between its labels and the candidate's gives pixel agreement
(share of pixels with the same class) and mean IoU (per class present in either map:
|both| / |either|, averaged over those classes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LabelAgreement:
    num_classes: int
    confusion: np.ndarray = field(init=False)   # rows: reference class, columns: candidate class

    def __post_init__(self) -> None:
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, reference: np.ndarray, candidate: np.ndarray) -> None:
        """Add one batch of label maps (same shape, integer classes in [0, num_classes))."""
        if reference.shape != candidate.shape:
            raise ValueError(f"label maps differ in shape: {reference.shape} vs {candidate.shape}")
        ref = reference.astype(np.int64, copy=False).ravel()
        cand = candidate.astype(np.int64, copy=False).ravel()
        if ref.size and (min(ref.min(), cand.min()) < 0 or max(ref.max(), cand.max()) >= self.num_classes):
            raise ValueError(f"a label outside 0..{self.num_classes - 1}")
        counts = np.bincount(ref * self.num_classes + cand, minlength=self.num_classes ** 2)
        self.confusion += counts.reshape(self.num_classes, self.num_classes)

    @property
    def pixels(self) -> int:
        return int(self.confusion.sum())

    def pixel_agreement_pct(self) -> float | None:
        return 100.0 * float(np.trace(self.confusion)) / self.pixels if self.pixels else None

    def iou_per_class(self) -> dict[int, float]:
        """IoU of every class present in either map (absent classes have no IoU, not 0 or 1)."""
        both = np.diag(self.confusion).astype(np.float64)
        either = self.confusion.sum(axis=0) + self.confusion.sum(axis=1) - both
        return {c: float(both[c] / either[c]) for c in range(self.num_classes) if either[c] > 0}

    def miou_pct(self) -> float | None:
        ious = self.iou_per_class()
        return 100.0 * float(np.mean(list(ious.values()))) if ious else None

    def summary(self) -> dict:
        return {"pixel_agreement_pct": self.pixel_agreement_pct(), "miou_pct": self.miou_pct(),
                "pixels": self.pixels, "classes_present": len(self.iou_per_class())}


@dataclass
class ScoreAgreement:
    """|candidate score - reference max logit| over all pixels (the ReduceMax heads have no labels)."""

    total: float = 0.0
    maximum: float = 0.0
    pixels: int = 0

    def update(self, reference: np.ndarray, candidate: np.ndarray) -> None:
        diff = np.abs(reference.astype(np.float64) - candidate.astype(np.float64))
        self.total += float(diff.sum())
        self.maximum = max(self.maximum, float(diff.max()) if diff.size else 0.0)
        self.pixels += diff.size

    def summary(self) -> dict:
        return {"score_abs_err_mean": self.total / self.pixels if self.pixels else None,
                "score_abs_err_max": self.maximum if self.pixels else None, "pixels": self.pixels}
