"""From |x| statistics to an int8 range (amax): minmax, percentile, entropy (TensorRT's KL method)."""

from __future__ import annotations

import numpy as np

from valsuite.precision.stats import NUM_BINS, SHIFT, TensorStats, bin_lower_edges

_EDGES: np.ndarray | None = None
ENTROPY_BINS = 2048
QUANT_LEVELS = 128


def _edges() -> np.ndarray:
    global _EDGES
    if _EDGES is None:
        lower = bin_lower_edges()
        _EDGES = np.append(lower, np.inf)
    return _EDGES


def percentile_amax(stats: TensorStats, percentile: float) -> float:
    """Smallest |x| below which `percentile`% of values lie (interpolated inside the log bin)."""
    hist = stats.hist
    total = int(hist.sum())
    if total == 0 or stats.absmax == 0.0:
        return stats.absmax
    target = total * percentile / 100.0
    cum = np.cumsum(hist)
    k = int(np.searchsorted(cum, target, side="left"))
    edges = _edges()
    lo, hi = edges[k], min(edges[k + 1], stats.absmax)
    before = cum[k - 1] if k > 0 else 0
    frac = (target - before) / max(hist[k], 1)
    return float(min(stats.absmax, lo + frac * max(hi - lo, 0.0)))


def linear_histogram(stats: TensorStats, bins: int = ENTROPY_BINS) -> np.ndarray:
    """Re-bin the log histogram onto `bins` equal bins over [0, absmax], spreading each log bin
    uniformly over the value interval it covers."""
    hist = stats.hist
    nz = np.nonzero(hist)[0]
    edges = _edges()
    lo = edges[nz]
    hi = np.minimum(edges[nz + 1], stats.absmax)
    hi = np.maximum(hi, lo)
    counts = hist[nz].astype(np.float64)
    cum = np.cumsum(counts)
    grid = np.arange(bins + 1, dtype=np.float64) * (stats.absmax / bins)
    # cumulative count at each linear edge: whole log bins below it plus a share of the one it cuts
    k = np.searchsorted(lo, grid, side="right") - 1
    kk = np.maximum(k, 0)
    width = hi[kk] - lo[kk]
    share = np.where(width > 0, np.clip((grid - lo[kk]) / np.where(width > 0, width, 1.0), 0.0, 1.0), 1.0)
    cdf = np.where(k >= 0, cum[kk] - counts[kk] + counts[kk] * share, 0.0)
    cdf[-1] = cum[-1]
    return np.diff(cdf)


def entropy_amax(stats: TensorStats) -> float:
    """TensorRT's entropy calibration: the clip threshold whose 128-level quantisation loses the
    least information (KL divergence) about the |x| distribution."""
    if stats.absmax == 0.0 or stats.hist is None:
        return stats.absmax
    hist = linear_histogram(stats)
    width = stats.absmax / ENTROPY_BINS
    best_i, best_kl = ENTROPY_BINS, np.inf
    for i in range(QUANT_LEVELS, ENTROPY_BINS + 1, 16):
        kl = _kl_for_threshold(hist, i)
        if kl < best_kl:
            best_kl, best_i = kl, i
    return float(min(stats.absmax, best_i * width))


def _kl_for_threshold(hist: np.ndarray, i: int) -> float:
    p = hist[:i].copy()
    p[i - 1] += hist[i:].sum()
    nonzero = p > 0
    # merge the i reference bins into 128 levels, then expand back over the nonzero bins
    groups = np.minimum((np.arange(i) * QUANT_LEVELS) // i, QUANT_LEVELS - 1)
    level_sum = np.bincount(groups, weights=hist[:i], minlength=QUANT_LEVELS)
    level_nz = np.bincount(groups, weights=nonzero, minlength=QUANT_LEVELS)
    q = np.where(nonzero, level_sum[groups] / np.maximum(level_nz[groups], 1), 0.0)
    p_sum, q_sum = p.sum(), q.sum()
    if p_sum == 0 or q_sum == 0:
        return np.inf
    p, q = p / p_sum, q / q_sum
    mask = p > 0
    q_safe = np.where(q > 0, q, 1e-12)
    return float(np.sum(p[mask] * np.log(p[mask] / q_safe[mask])))


def amax_for(stats: TensorStats, method: str, percentile: float) -> float:
    if method == "minmax" or stats.hist is None:
        return stats.absmax
    if method == "percentile":
        return percentile_amax(stats, percentile)
    if method == "entropy":
        return entropy_amax(stats)
    raise ValueError(f"unknown calibration method {method}")
