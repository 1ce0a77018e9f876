"""What a parity run compares: its configuration, candidates and --fail-under thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from valsuite.backends import device_for
from valsuite.backends.base import BackendOptions
from valsuite.errors import ValsuiteError
from valsuite.options.run import split_list

REFERENCE = ("torch", "fp32")


def candidate_device(backend: str, device: str | None) -> str:
    """--device when given (ONNX Runtime without its CUDA provider stays on the CPU), else the
    backend's preferred device on this machine."""
    return device_for(backend, None if (backend, device) == ("onnxruntime", "cuda") else device)


@dataclass(frozen=True)
class Candidate:
    backend: str
    precision: str
    device: str
    explicit: bool = True       # asked for by name: failures are errors, not skips
    artifact: Path | None = None   # a user's ONNX (onnxruntime:file=PATH) or engine (tensorrt:engine=PATH)

    @property
    def name(self) -> str:
        if self.artifact is not None:
            from valsuite.external import KINDS

            return f"{self.backend}:{KINDS[self.backend]}={self.artifact.name}"
        return f"{self.backend}:{self.precision}"


@dataclass(frozen=True)
class Threshold:
    metric: str
    value: float
    candidate: str | None = None   # None: every candidate


@dataclass
class CompareConfig:
    network: str
    weights: str | None = None
    random_weights: bool = False
    device: str | None = None                      # None: each backend's preferred device here
    batch_size: int = 32
    rtol: float = 1e-3
    atol: float = 1e-8
    candidates: list[Candidate] | None = None      # None: every backend/precision available
    dataset: Path | None = None                    # None: random inputs
    num_samples: int = 500
    seed: int = 0
    workers: int = 2
    weights_dir: Path = Path("weights")
    fail_under: list[Threshold] = field(default_factory=list)
    localize: bool = False
    localize_samples: int = 4
    localize_top: int = 5
    localize_bad_pct: float = 1.0
    progress: bool = True
    exclude: frozenset = frozenset()               # dataset relpaths left out (calibration images)
    exclude_reason: str | None = None
    skipped: list[dict] = field(default_factory=list)   # default candidates left out, with reasons
    candidate_options: dict[str, BackendOptions] = field(default_factory=dict)   # name -> typed backend options

    @property
    def reference_device(self) -> str:
        return candidate_device(REFERENCE[0], self.device)


# metric -> (path in a candidate entry, needs labelled images)
METRICS = {
    "top1_agreement": (("parity", "top1_agreement_pct"), False),
    "top5_overlap": (("parity", "top5_overlap_pct"), False),
    "isclose": (("parity", "isclose_pct"), False),
    "equality": (("parity", "isclose_pct"), False),
    "prec1": (("prec1",), True),
    "prec5": (("prec5",), True),
    "delta_prec1": (("delta_prec1",), True),
    "delta_prec5": (("delta_prec5",), True),
}


def parse_fail_under(text: str | None) -> list[Threshold]:
    """`top1_agreement=99,onnxruntime:int8:top1_agreement=98` -> thresholds (value < limit fails)."""
    found = []
    for item in split_list(text):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValsuiteError(f"--fail-under item {item!r} needs METRIC=VALUE")
        candidate, _, metric = key.strip().rpartition(":")
        if metric not in METRICS:
            raise ValsuiteError(f"--fail-under: unknown metric {metric!r}", hint=f"choose from {', '.join(METRICS)}")
        try:
            limit = float(value)
        except ValueError as exc:
            raise ValsuiteError(f"--fail-under: {value!r} is not a number (in {item!r})") from exc
        found.append(Threshold(metric, limit, candidate or None))
    return found


def require_measurable(thresholds: list[Threshold], labelled: bool) -> None:
    """Before running: a threshold on accuracy needs labelled images."""
    for th in thresholds:
        if METRICS[th.metric][1] and not labelled:
            raise ValsuiteError(f"--fail-under {th.metric} needs labelled images",
                                hint="add --val_dataset --dataset DIR")


def check_thresholds(record: dict, thresholds: list[Threshold]) -> list[str]:
    """Failure messages (empty when every threshold is met); reads the record only. A threshold on a
    candidate that was not compared (skipped, misspelt) fails: a gate must not pass by omission."""
    failures = []
    names = {c["name"] for c in record["candidates"]}
    for th in thresholds:
        if th.candidate is not None and th.candidate not in names:
            failures.append(f"{th.candidate}: {th.metric} not measured (candidate not compared)")
            continue
        path = METRICS[th.metric][0]
        for cand in record["candidates"]:
            if th.candidate not in (None, cand["name"]):
                continue
            value = cand
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value is None:
                failures.append(f"{cand['name']}: {th.metric} not measured")
            elif value < th.value:
                failures.append(f"{cand['name']}: {th.metric} {value:.4g} < {th.value:g}")
    return failures
