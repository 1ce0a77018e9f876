"""The validation loop: every image counted once, accuracy and latency measured apart.

Latency-all: wall time from a host uint8 batch to host outputs (copy to the device, normalise,
infer, copy back). Latency-model: what the backend reports for compute alone. The first batches
are warm-up: counted for accuracy, left out of latency.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from valsuite.data.preprocess import Preprocess, normalize
from valsuite.errors import ValsuiteError
from valsuite.results.record import latency_stats


def default_warmup(num_batches: int) -> int:
    """10% of the batches, at least one, but never all of them."""
    if num_batches <= 1:
        return 0
    return min(num_batches - 1, max(1, math.ceil(0.1 * num_batches)))


@dataclass
class ValidationResult:
    num_images: int = 0
    correct1: int = 0
    correct5: int = 0
    labelled: int = 0
    top1: list = field(default_factory=list)          # per image, manifest order
    indices: list = field(default_factory=list)
    latency_all_ms: list = field(default_factory=list)    # timed batches only
    latency_model_ms: list = field(default_factory=list)
    timed_images: int = 0
    warmup_batches: int = 0
    num_batches: int = 0
    wall_s: float = 0.0

    @property
    def prec1(self) -> float | None:
        return 100.0 * self.correct1 / self.labelled if self.labelled else None

    @property
    def prec5(self) -> float | None:
        return 100.0 * self.correct5 / self.labelled if self.labelled else None

    def throughput(self) -> float | None:
        """Images per second over the timed batches, from their Latency-all."""
        total_ms = sum(self.latency_all_ms)
        return 1e3 * self.timed_images / total_ms if total_ms > 0 else None

    def summary(self) -> dict:
        return {
            "num_images": self.num_images,
            "prec1": self.prec1,
            "prec5": self.prec5,
            "latency_all_ms": latency_stats(self.latency_all_ms),
            "latency_model_ms": latency_stats(self.latency_model_ms),
            "throughput_img_s": self.throughput(),
            "pipeline_throughput_img_s": self.num_images / self.wall_s if self.wall_s > 0 else None,
            "warmup_batches": self.warmup_batches,
            "timed_batches": len(self.latency_all_ms),
            "num_batches": self.num_batches,
        }


def _score(result: ValidationResult, outputs, labels) -> None:
    import torch

    k = min(5, outputs.shape[1])
    top5 = torch.topk(outputs, k, dim=1).indices
    result.top1.extend(top5[:, 0].tolist())
    mask = labels >= 0
    if bool(mask.any()):
        lab = labels[mask]
        hits = top5[mask] == lab.unsqueeze(1)
        result.correct1 += int(hits[:, 0].sum())
        result.correct5 += int(hits.any(dim=1).sum())
        result.labelled += int(mask.sum())


def run_validation(backend, batches, num_expected: int, pp: Preprocess, batch_size: int,
                   warmup_batches: int | None = None, progress: bool = True) -> ValidationResult:
    """Evaluate `backend` on `batches` (iterable of loader.Batch) holding `num_expected` images."""
    require_nonempty(num_expected, "the image set")
    num_batches = math.ceil(num_expected / batch_size)
    warmup = default_warmup(num_batches) if warmup_batches is None else min(warmup_batches, num_batches)
    result = ValidationResult(warmup_batches=warmup, num_batches=num_batches)
    device = backend.input_device
    _prewarm(backend, pp, min(batch_size, num_expected), device)
    bar = _progress(num_expected, backend, progress)
    start_wall = time.perf_counter()
    for number, batch in enumerate(batches):
        start = time.perf_counter()
        x = normalize(batch.images.to(device, non_blocking=True), pp)
        outputs, model_ms = backend.infer(x)
        outputs = outputs.to("cpu")
        elapsed_ms = (time.perf_counter() - start) * 1e3
        if number >= warmup:
            result.latency_all_ms.append(elapsed_ms)
            result.latency_model_ms.append(model_ms)
            result.timed_images += len(batch)
        _score(result, outputs.float(), batch.labels)
        result.indices.extend(batch.indices.tolist())
        result.num_images += len(batch)
        if bar is not None:
            bar.update(len(batch))
    result.wall_s = time.perf_counter() - start_wall
    if bar is not None:
        bar.close()
    _check_accounting(result, num_expected)
    return result


def _prewarm(backend, pp: Preprocess, batch_size: int, device: str) -> None:
    """One synthetic batch before timing: lazy initialisation never lands in any measurement."""
    import torch

    images = torch.zeros((batch_size, *pp.input_shape), dtype=torch.uint8)
    backend.infer(normalize(images.to(device), pp))


def _check_accounting(result: ValidationResult, num_expected: int) -> None:
    """Every image exactly once: a mismatch is a bug in the pipeline, never silently reported."""
    if result.num_images != num_expected or sorted(result.indices) != list(range(num_expected)):
        raise RuntimeError(f"evaluated {result.num_images} images, expected {num_expected} "
                           f"(each exactly once): the loader lost or repeated images")


def _progress(total: int, backend, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="img", desc=f"{backend.name}:{backend.precision}", leave=False,
                dynamic_ncols=True)


def top1_array(result: ValidationResult) -> np.ndarray:
    """Top-1 predictions in manifest order (for agreement checks between backends)."""
    order = np.argsort(np.asarray(result.indices))
    return np.asarray(result.top1)[order]


def require_nonempty(num: int, what: str) -> None:
    if num < 1:
        raise ValsuiteError(f"nothing to evaluate: {what} is empty")
