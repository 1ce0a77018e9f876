"""Which backend x precision x device rows of a run can run here, checked before the first row.

A run over `--backend onnxruntime,tensorrt --precision fp32,bf16` used to stop at the first
unsupported row after earlier rows had run, losing their table. Every combination is checked up
front instead: the supported ones run, the others are listed as skipped with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from valsuite.backends import BackendOptions, backend_available, backend_class
from valsuite.errors import ValsuiteError


@dataclass(frozen=True)
class Combination:
    backend: str
    precision: str
    device: str
    reason: str | None = None        # None: supported here

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.precision} on {self.device}"


def combination_reason(spec, backend: str, precision: str, device: str,
                       options: BackendOptions | None = None) -> str | None:
    """Why this row cannot run here (engine missing, precision or device not supported, option
    conflicts), or None. An unknown backend name is a typo, not a combination: it raises.
    Constructing a backend is cheap: the model is built and the engine loaded on activate()."""
    cls = backend_class(backend)
    ok, why = backend_available(backend, options)   # options: e.g. the TensorRT flavour it would run
    if not ok:
        return f"backend {backend} is not available here: {why}"
    try:
        cls(spec, precision=precision, device=device, options=options or BackendOptions())
    except ValsuiteError as exc:
        return str(exc)
    return None


def check_combinations(spec, rows: Iterable[tuple[str, str, str]],
                       options: BackendOptions | None = None) -> list[Combination]:
    """Every (backend, precision, device) row with its reason (None when it can run)."""
    return [Combination(b, p, d, combination_reason(spec, b, p, d, options)) for b, p, d in rows]


def runnable(combos: list[Combination]) -> list[Combination]:
    """The supported rows; a user error when none is, listing why each was refused."""
    ok = [c for c in combos if c.reason is None]
    if not ok:
        reasons = "; ".join(f"{c.label}: {c.reason}" for c in combos)
        raise ValsuiteError(f"no requested backend/precision combination can run here: {reasons}")
    return ok


def skipped_lines(combos: list[Combination]) -> list[str]:
    """One 'skipped B:P on D: reason' line per unsupported row, for the user before the first run."""
    return [f"skipped {c.label}: {c.reason}" for c in combos if c.reason is not None]
