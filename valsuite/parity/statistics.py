"""Parity statistics between a reference's outputs and a candidate's, streamed over batches.

Every sample of every batch counts (the seed study took one sample per batch for its rank table and
so could miss a candidate that breaks a single sample). Means, counts and maxima are exact. Medians
and p99 are exact while the error values fit in `exact_limit` elements (float32 copies of |a-b| and
|a-b|/|b|); beyond that they come from a log-spaced histogram kept in parallel, whose bins are
0.27% wide (relative), and the result says which method was used.

Definitions (a = candidate, b = reference, one row of logits per sample):
- isclose: |a - b| <= atol + rtol * |b|, as numpy.isclose(a, b) (the reference is the scale).
- relative error: |a - b| / |b|; elements with b == 0 are left out of it and counted.
- top-1 agreement: share of samples whose argmax is the same.
- top-5 overlap: |top5(a) ∩ top5(b)| / 5, averaged over samples.
- rank-k disagreement: share of samples whose k-th ranked class differs between a and b.
- rank-k MAE: mean over samples of |b[c] - a[c]| for c = the reference's k-th ranked class.
Ranks are taken by a stable descending sort, so ties resolve to the lower class index in both.
"""

from __future__ import annotations

import math

import numpy as np

NUM_RANKS = 10
TOPK_OVERLAP = 5
DEFAULT_EXACT_LIMIT = 1 << 24          # elements per error kind kept for exact quantiles (64 MiB each)
_BINS_PER_OCTAVE = 256                 # histogram resolution: 2**(1/256) - 1 = 0.27% relative width
_MIN_EXP, _MAX_EXP = -140, 130         # octaves covered: float32 subnormals up to beyond float32 max


class _ErrorStats:
    """Streaming mean/max/quantiles of one non-negative error kind."""

    def __init__(self, exact_limit: int) -> None:
        self.exact_limit = exact_limit
        self.count = 0
        self.total = 0.0
        self.maximum = -math.inf
        self.nonfinite = 0
        self.zeros = 0
        self.hist = np.zeros((_MAX_EXP - _MIN_EXP) * _BINS_PER_OCTAVE, dtype=np.int64)
        self.chunks: list[np.ndarray] | None = []
        self.stored = 0

    def update(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64).ravel()
        finite = np.isfinite(values)
        self.nonfinite += int(values.size - finite.sum())
        values = values[finite]
        if values.size == 0:
            return
        self.count += values.size
        self.total += float(values.sum())
        self.maximum = max(self.maximum, float(values.max()))
        positive = values[values > 0]
        self.zeros += int(values.size - positive.size)
        index = np.floor((np.log2(positive) - _MIN_EXP) * _BINS_PER_OCTAVE).astype(np.int64)
        self.hist += np.bincount(np.clip(index, 0, self.hist.size - 1), minlength=self.hist.size)
        if self.chunks is not None:
            if self.stored + values.size > self.exact_limit:
                self.chunks = None   # too many for exact quantiles: the histogram answers alone
            else:
                self.chunks.append(values.astype(np.float32))
                self.stored += values.size

    def _hist_quantile(self, q: float) -> float:
        """Value at quantile q from zeros + histogram (geometric centre of the bin holding it)."""
        rank = q * (self.count - 1)
        if rank < self.zeros:
            return 0.0
        cumulative = np.cumsum(self.hist) + self.zeros
        bin_index = int(np.searchsorted(cumulative, rank, side="right"))
        return float(2.0 ** (_MIN_EXP + (bin_index + 0.5) / _BINS_PER_OCTAVE))

    def result(self) -> dict:
        if self.count == 0:
            return {"mean": None, "median": None, "p99": None, "max": None, "count": 0,
                    "nonfinite": self.nonfinite, "quantiles": None}
        if self.chunks is not None:
            values = np.concatenate(self.chunks)
            median, p99 = (float(v) for v in np.percentile(values, [50, 99]))
            method = "exact"
        else:
            median, p99 = self._hist_quantile(0.5), self._hist_quantile(0.99)
            method = "histogram (0.27% bins)"
        return {"mean": self.total / self.count, "median": median, "p99": p99,
                "max": self.maximum, "count": self.count, "nonfinite": self.nonfinite,
                "quantiles": method}


def ranked_classes(logits: np.ndarray, k: int) -> np.ndarray:
    """Class indices of the k highest logits per row, best first (stable: ties -> lower index)."""
    order = np.argsort(-logits, axis=1, kind="stable")
    return order[:, :k]


class ParityAccumulator:
    """Feed (reference, candidate) output batches; `result()` gives the statistics of all of them."""

    def __init__(self, rtol: float = 1e-3, atol: float = 1e-8, num_ranks: int = NUM_RANKS,
                 exact_limit: int = DEFAULT_EXACT_LIMIT) -> None:
        self.rtol, self.atol = float(rtol), float(atol)
        self.num_ranks = num_ranks
        self.samples = 0
        self.elements = 0
        self.close = 0
        self.abs_err = _ErrorStats(exact_limit)
        self.rel_err = _ErrorStats(exact_limit)
        self.rel_zero_ref = 0
        self.top1_same = 0
        self.top5_shared = 0
        self.rank_differs: np.ndarray | None = None
        self.rank_abs_sum: np.ndarray | None = None

    def update(self, reference, candidate) -> np.ndarray:
        """Add one batch (N, classes) of each; returns a bool mask of samples whose top-1 changed."""
        ref = np.asarray(reference, dtype=np.float64)
        cand = np.asarray(candidate, dtype=np.float64)
        if ref.shape != cand.shape or ref.ndim != 2:
            raise ValueError(f"reference {ref.shape} and candidate {cand.shape} must be the same (N, classes)")
        self._update_elements(ref, cand)
        return self._update_ranks(ref, cand)

    def _update_elements(self, ref: np.ndarray, cand: np.ndarray) -> None:
        diff = np.abs(cand - ref)
        scale = np.abs(ref)
        self.close += int(np.count_nonzero(diff <= self.atol + self.rtol * scale))
        self.elements += ref.size
        self.abs_err.update(diff)
        nonzero = scale != 0
        self.rel_zero_ref += int(ref.size - np.count_nonzero(nonzero))
        self.rel_err.update(diff[nonzero] / scale[nonzero])

    def _update_ranks(self, ref: np.ndarray, cand: np.ndarray) -> np.ndarray:
        n, classes = ref.shape
        ranks = min(max(self.num_ranks, TOPK_OVERLAP), classes)
        ref_top = ranked_classes(ref, ranks)
        cand_top = ranked_classes(cand, ranks)
        shown = min(self.num_ranks, classes)
        if self.rank_differs is None:
            self.rank_differs = np.zeros(shown, dtype=np.int64)
            self.rank_abs_sum = np.zeros(shown, dtype=np.float64)
        self.rank_differs += np.count_nonzero(ref_top[:, :shown] != cand_top[:, :shown], axis=0)
        rows = np.arange(n)[:, None]
        self.rank_abs_sum += np.abs(ref[rows, ref_top[:, :shown]] - cand[rows, ref_top[:, :shown]]).sum(axis=0)
        changed = ref_top[:, 0] != cand_top[:, 0]
        self.top1_same += int(n - np.count_nonzero(changed))
        k = min(TOPK_OVERLAP, classes)
        shared = (ref_top[:, :k, None] == cand_top[:, None, :k]).any(axis=2).sum(axis=1)
        self.top5_shared += int(shared.sum())
        self.samples += n
        return changed

    def result(self) -> dict:
        """Plain JSON-able statistics; percentages are 0..100."""
        if self.samples == 0:
            raise ValueError("no samples were compared")
        k = min(TOPK_OVERLAP, len(self.rank_differs) if self.rank_differs is not None else TOPK_OVERLAP)
        ranks = [{"rank": i + 1,
                  "disagreement_pct": 100.0 * float(self.rank_differs[i]) / self.samples,
                  "mae": float(self.rank_abs_sum[i]) / self.samples}
                 for i in range(len(self.rank_differs))]
        return {
            "num_samples": self.samples,
            "num_elements": self.elements,
            "rtol": self.rtol,
            "atol": self.atol,
            "isclose_pct": 100.0 * self.close / self.elements,
            "abs_error": self.abs_err.result(),
            "rel_error": self.rel_err.result() | {"excluded_zero_reference": self.rel_zero_ref},
            "top1_agreement_pct": 100.0 * self.top1_same / self.samples,
            "top1_changed": self.samples - self.top1_same,
            "top5_overlap_pct": 100.0 * self.top5_shared / (k * self.samples),
            "ranks": ranks,
        }


def compare_outputs(reference, candidate, rtol: float = 1e-3, atol: float = 1e-8,
                    batch_size: int | None = None) -> dict:
    """Statistics of two whole output arrays (tests, small cases); batches them like a run would."""
    acc = ParityAccumulator(rtol=rtol, atol=atol)
    ref, cand = np.asarray(reference), np.asarray(candidate)
    step = batch_size or max(1, len(ref))
    for start in range(0, len(ref), step):
        acc.update(ref[start:start + step], cand[start:start + step])
    return acc.result()
