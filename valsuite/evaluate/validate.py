"""The validation loop: every image counted once, accuracy and latency measured apart.

Latency-all: the time from a host uint8 batch to host outputs (copy to the device, normalise,
infer, copy back). Latency-model: what the backend reports for compute alone. The first batches
are warm-up: counted for accuracy, left out of latency.

On CUDA the copy of batch i+1 runs on a copy stream while batch i computes (see stages.py); its
Latency-all is then the copy's own time (CUDA events) plus the wall time from "copy done" to host
outputs, so it still means host batch -> host outputs for that batch, and the sum of Latency-all
over the batches is more than the wall time. Throughput of the whole pipeline, loader included,
is `e2e_throughput_img_s`: timed images over the wall time after warm-up.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from valsuite.data.preprocess import Preprocess
from valsuite.errors import ValsuiteError
from valsuite.evaluate.accuracy import TopKAccuracy
from valsuite.evaluate.timing import TimingOptions, latency_stats, stability

log = logging.getLogger(__name__)


def default_warmup(num_batches: int) -> int:
    """10% of the batches, at least one, but never all of them."""
    if num_batches <= 1:
        return 0
    return min(num_batches - 1, max(1, math.ceil(0.1 * num_batches)))


def resolve_warmup(requested: int | None, num_batches: int) -> int:
    """--warmup N, but at least one batch is always timed: a warm-up that covered every batch
    would leave the latency columns empty without a word, so it is cut to num_batches - 1 (with
    a warning). A single batch is timed (the synthetic pre-warm batch absorbed lazy set-up)."""
    if requested is None:
        return default_warmup(num_batches)
    if requested < 0:
        raise ValsuiteError(f"--warmup must be 0 or more, got {requested}")
    if requested >= num_batches:
        kept = max(0, num_batches - 1)
        log.warning("--warmup %d covers all %d batch(es): timing the last %d batch(es) with %d warm-up",
                    requested, num_batches, num_batches - kept, kept)
        return kept
    return requested


@dataclass
class ValidationResult:
    num_images: int = 0
    accuracy: TopKAccuracy = field(default_factory=TopKAccuracy)
    top1: list = field(default_factory=list)          # per image, manifest order
    indices: list = field(default_factory=list)
    latency_all_ms: list = field(default_factory=list)    # timed batches only
    latency_model_ms: list = field(default_factory=list)
    h2d_ms: list = field(default_factory=list)          # host-to-device copy (None where not separate)
    d2h_ms: list = field(default_factory=list)          # device-to-host copy of the outputs
    timed_batch_sizes: list = field(default_factory=list)
    timing: TimingOptions = field(default_factory=TimingOptions)
    timed_images: int = 0
    warmup_batches: int = 0
    num_batches: int = 0
    wall_s: float = 0.0
    timed_wall_s: float = 0.0                           # wall time of the timed batches, loader waits included
    stage: str = "serial"                               # how batches reached the device (stages.py)
    inflight: int = 1

    @property
    def prec1(self) -> float | None:
        return self.accuracy.prec1

    @property
    def prec5(self) -> float | None:
        return self.accuracy.prec5

    def throughput(self) -> float | None:
        """Images per second over the timed batches, from their Latency-all."""
        total_ms = sum(self.latency_all_ms)
        return 1e3 * self.timed_images / total_ms if total_ms > 0 else None

    def e2e_throughput(self) -> float | None:
        """Images per second of the whole pipeline after warm-up (what a 50,000-image pass sees)."""
        return self.timed_images / self.timed_wall_s if self.timed_wall_s > 0 else None

    def iterations(self) -> list[dict]:
        """Every timed batch, in order (what --export-times writes)."""
        return [{"batch": i, "images": n, "latency_all_ms": a, "latency_model_ms": m, "h2d_ms": h, "d2h_ms": d}
                for i, (n, a, m, h, d) in enumerate(zip(self.timed_batch_sizes, self.latency_all_ms,
                                                        self.latency_model_ms, self.h2d_ms, self.d2h_ms))]

    def summary(self) -> dict:
        pcts = self.timing.percentiles
        model = latency_stats(self.latency_model_ms, pcts)
        return {
            "num_images": self.num_images,
            "prec1": self.prec1,
            "prec5": self.prec5,
            "latency_all_ms": latency_stats(self.latency_all_ms, pcts),
            "latency_model_ms": model,
            # trtexec's three columns; None where the backend cannot separate the copies (CPU)
            "h2d_ms": latency_stats(self.h2d_ms, pcts),
            "d2h_ms": latency_stats(self.d2h_ms, pcts),
            "timing": {"percentiles": list(pcts), "spin_wait": self.timing.spin_wait,
                       "loop": "synchronous per batch" if self.inflight == 1 else
                       f"{self.inflight} batches in flight (enqueues overlap, as trtexec)"},
            "stability": stability(model, self.timing.cv_warn),
            "throughput_img_s": self.throughput(),
            "pipeline_throughput_img_s": self.num_images / self.wall_s if self.wall_s > 0 else None,
            "e2e_throughput_img_s": self.e2e_throughput(),
            "timed_wall_s": self.timed_wall_s,
            "pipeline_stage": self.stage,
            "warmup_batches": self.warmup_batches,
            "timed_batches": len(self.latency_all_ms),
            "num_batches": self.num_batches,
        }


def _score(result: ValidationResult, outputs, labels) -> None:
    import torch

    k = min(5, outputs.shape[1])
    top5 = torch.topk(outputs, k, dim=1).indices
    result.top1.extend(top5[:, 0].tolist())
    result.accuracy.update(top5.cpu().numpy(), labels.cpu().numpy())


def run_validation(backend, batches, num_expected: int, pp: Preprocess, batch_size: int,
                   warmup_batches: int | None = None, progress: bool = True,
                   stage=None, inflight: int = 1, timing: TimingOptions | None = None) -> ValidationResult:
    """Evaluate `backend` on `batches` (iterable of loader.Batch) holding `num_expected` images.

    `stage` turns batches into staged batches on the device (stages.py); by default a serial copy
    on the CPU and an overlapped copy stream on CUDA. `inflight` > 1 keeps that many batches
    submitted before the oldest is collected, so the GPU never waits for the host between batches;
    each batch's Latency-all then includes its wait behind the batches ahead of it.
    """
    from collections import deque

    from valsuite.evaluate.stages import default_stage, model_input

    require_nonempty(num_expected, "the image set")
    if inflight < 1:
        raise ValsuiteError(f"--inflight must be at least 1, got {inflight}")
    num_batches = math.ceil(num_expected / batch_size)
    warmup = resolve_warmup(warmup_batches, num_batches)
    device = backend.input_device
    stage = stage or default_stage(device)
    result = ValidationResult(warmup_batches=warmup, num_batches=num_batches, stage=stage.name,
                              timing=timing or TimingOptions(), inflight=inflight)
    _prewarm(backend, pp, min(batch_size, num_expected), device)
    bar = _progress(num_expected, backend, progress)
    clock = {"start": time.perf_counter()}
    clock["timed_from"] = clock["start"]
    pending: deque = deque()
    for number, staged in enumerate(stage(batches)):
        staged.ready()                       # CUDA: the copy ran during the previous batch
        start = time.perf_counter()
        if number == warmup:
            clock["timed_from"] = start      # conservative: the first timed batch's own start
        submitted = backend.submit(model_input(staged.device_images(), pp, device))
        pending.append((number, staged, start, submitted))
        if len(pending) >= inflight:
            _collect(result, pending.popleft(), warmup, clock, bar)
    while pending:
        _collect(result, pending.popleft(), warmup, clock, bar)
    end_wall = time.perf_counter()
    result.wall_s = end_wall - clock["start"]
    result.timed_wall_s = end_wall - clock["timed_from"] if result.timed_images else 0.0
    if bar is not None:
        bar.close()
    _check_accounting(result, num_expected)
    return result


def _collect(result: ValidationResult, item, warmup: int, clock: dict, bar) -> None:
    """Wait for one submitted batch, time it (Latency-all ends at host outputs) and score it."""
    number, staged, start, submitted = item
    # submit() results need only wait(); spin() and d2h_ms are optional (cuda_launch has both)
    if result.timing.spin_wait and hasattr(submitted, "spin"):
        submitted.spin()                     # busy-wait: no wake-up latency of a sleeping thread
    outputs, model_ms = submitted.wait()
    outputs = outputs.to("cpu")
    elapsed_ms = (time.perf_counter() - start) * 1e3 + staged.pre_ms
    batch = staged.batch
    if number >= warmup:
        result.latency_all_ms.append(elapsed_ms)
        result.latency_model_ms.append(model_ms)
        result.h2d_ms.append(staged.h2d_ms)
        result.d2h_ms.append(getattr(submitted, "d2h_ms", None))
        result.timed_batch_sizes.append(len(batch))
        result.timed_images += len(batch)
    _score(result, outputs.float(), batch.labels)
    result.indices.extend(batch.indices.tolist())
    result.num_images += len(batch)
    if bar is not None:
        bar.update(len(batch))


def _prewarm(backend, pp: Preprocess, batch_size: int, device: str) -> None:
    """One synthetic batch before timing: lazy initialisation never lands in any measurement."""
    import torch

    from valsuite.evaluate.stages import model_input

    images = torch.zeros((batch_size, *pp.input_shape), dtype=torch.uint8)
    backend.infer(model_input(images.to(device), pp, device))


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
