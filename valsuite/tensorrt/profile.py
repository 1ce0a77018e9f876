"""Optimization-profile shapes from `--input_shape` and `--min_batch/--opt_batch/--max_batch`.

A batch of -1 means a dynamic engine with one profile min/opt/max over the batch axis; a fixed
batch gives a static engine whose min = opt = max. The engine accepts exactly the batches the
profile covers, so the backend checks every batch (the partial last one too) against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from valsuite.errors import ValsuiteError

DEFAULT_MIN_BATCH = 1
DEFAULT_OPT_BATCH = 32
DEFAULT_MAX_BATCH = 256


@dataclass(frozen=True)
class ProfileShapes:
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    @property
    def dynamic(self) -> bool:
        return self.min[0] != self.max[0]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The per-image shape (C, H, W)."""
        return tuple(self.opt[1:])

    def covers(self, batch: int) -> bool:
        return self.min[0] <= batch <= self.max[0]

    def check_batch(self, batch: int) -> None:
        """One-line error for a batch the engine cannot run."""
        if not self.covers(batch):
            raise ValsuiteError(
                f"batch size {batch} is outside the TensorRT engine's profile "
                f"(batch {self.min[0]}..{self.max[0]})",
                hint="rebuild the engine with --min_batch/--max_batch covering it, or change --batch_size")

    @property
    def kind(self) -> str:
        """'static' or 'dynamic': what names and report rows say (as the seed study's tables did)."""
        return "dynamic" if self.dynamic else "static"

    def tag(self) -> str:
        """File-name part: 'static-b32' for a static engine, 'dynamic-b1-32-256' for a dynamic one."""
        if not self.dynamic:
            return f"static-b{self.max[0]}"
        return f"dynamic-b{self.min[0]}-{self.opt[0]}-{self.max[0]}"

    def to_dict(self) -> dict:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}

    @classmethod
    def from_dict(cls, data: dict) -> "ProfileShapes":
        return cls(tuple(data["min"]), tuple(data["opt"]), tuple(data["max"]))


def profile_from_args(input_shape: tuple[int, ...], min_batch: int | None = None,
                      opt_batch: int | None = None, max_batch: int | None = None) -> ProfileShapes:
    """(N, C, H, W) with N = -1 (dynamic) or N >= 1 (static), plus batch options -> profile shapes."""
    if len(input_shape) != 4:
        raise ValsuiteError(f"--input_shape needs 4 numbers (N C H W), got {len(input_shape)}")
    n, *chw = (int(v) for v in input_shape)
    if any(v < 1 for v in chw):
        raise ValsuiteError(f"--input_shape C H W must be positive, got {tuple(chw)}")
    if n == -1:
        lo = DEFAULT_MIN_BATCH if min_batch is None else min_batch
        hi = DEFAULT_MAX_BATCH if max_batch is None else max_batch
        opt = opt_batch if opt_batch is not None else min(max(DEFAULT_OPT_BATCH, lo), hi)
        if not 1 <= lo <= opt <= hi:
            raise ValsuiteError(f"batch profile needs 1 <= min <= opt <= max, got min {lo}, opt {opt}, max {hi}")
        return ProfileShapes((lo, *chw), (opt, *chw), (hi, *chw))
    if n < 1:
        raise ValsuiteError(f"--input_shape batch must be -1 (dynamic) or at least 1, got {n}")
    given = {k: v for k, v in (("min", min_batch), ("opt", opt_batch), ("max", max_batch)) if v is not None}
    if any(v != n for v in given.values()):
        raise ValsuiteError(f"--input_shape fixes the batch to {n}, so --{'/--'.join(k + '_batch' for k in given)} "
                            f"cannot differ from it", hint="use -1 as the batch for a dynamic engine")
    shape = (n, *chw)
    return ProfileShapes(shape, shape, shape)


def profile_for_run(input_shape: tuple[int, ...], batch_size: int, min_batch: int | None = None,
                    opt_batch: int | None = None, max_batch: int | None = None) -> ProfileShapes:
    """The profile main.py builds for a run: optimised for its batch size and covering it."""
    if input_shape[0] == -1:
        opt = opt_batch if opt_batch is not None else batch_size
        hi = max_batch if max_batch is not None else max(DEFAULT_MAX_BATCH, batch_size)
        return profile_from_args(input_shape, min_batch, opt, hi)
    return profile_from_args(input_shape, min_batch, opt_batch, max_batch)
