"""Which backend/precision pairs a parity run compares, and on which device each runs."""

from __future__ import annotations

from valsuite.backends import ALIASES, backend_available, backend_class, backend_names
from valsuite.errors import ValsuiteError
from valsuite.options.run import split_list
from valsuite.parity.config import REFERENCE, Candidate, candidate_device


def parse_candidates(text: str, device: str | None) -> list[Candidate]:
    """`onnxruntime:fp32,onnxruntime:int8,tensorrt:fp16` (precision defaults to fp32), and artifacts
    from other tools: `onnxruntime:file=PATH` (an ONNX), `tensorrt:engine=PATH` (an engine), with an
    optional precision between (`tensorrt:int8:engine=PATH`; default: read from the file)."""
    found = []
    for item in split_list(text):
        head, eq, path = item.partition("=")
        backend, _, precision = head.partition(":")
        backend = ALIASES.get(backend.strip().lower(), backend.strip().lower())
        backend_class(backend)  # unknown names are user errors here, before anything runs
        if eq:
            found.append(_external(backend, precision, path.strip(), device))
            continue
        precision = (precision.strip().lower() or "fp32")
        found.append(Candidate(backend, precision, candidate_device(backend, device)))
    if not found:
        raise ValsuiteError("--candidates is empty", hint="e.g. --candidates onnxruntime:fp32,onnxruntime:int8")
    return list(dict.fromkeys(found))


def _external(backend: str, head: str, path: str, device: str | None) -> Candidate:
    """`file=PATH` / `engine=PATH` (head: '[precision:]file'): the precision comes from the file."""
    from pathlib import Path

    from valsuite.external import KINDS, artifact_precision

    *given, kind = head.split(":")
    if backend not in KINDS or kind.strip().lower() != KINDS[backend]:
        raise ValsuiteError(f"--candidates: {backend}:{head}={path} is not a known artifact spelling",
                            hint="onnxruntime:file=PATH (an ONNX) or tensorrt:engine=PATH (an engine)")
    precision = artifact_precision(backend, Path(path), given[0].strip().lower() if given else None)
    return Candidate(backend, precision, candidate_device(backend, device), artifact=Path(path))


def default_candidates(device: str | None, options=None) -> tuple[list[Candidate], list[dict]]:
    """Every backend/precision this machine can run, except the reference itself; and the skips.
    `options`: backend name -> BackendOptions (what decides availability, e.g. the TensorRT flavour)."""
    found, skipped = [], []
    reference_device = candidate_device(REFERENCE[0], device)
    for backend in backend_names():
        try:
            ok, reason = backend_available(backend, (options or {}).get(backend))
            cls = backend_class(backend)
        except ValsuiteError as exc:
            ok, reason, cls = False, str(exc), None
        if not ok:
            skipped.append({"candidate": f"{backend}:*", "reason": reason})
            continue
        run_on = candidate_device(backend, device)
        for precision in cls.precisions:
            cand = Candidate(backend, precision, run_on, explicit=False)
            if (backend, precision) == REFERENCE and run_on == reference_device:
                continue
            if backend == "torch" and run_on == "cpu" and precision != "fp32":
                skipped.append({"candidate": cand.name, "reason": "torch runs fp16/bf16 on CUDA only"})
            elif run_on not in cls.devices:
                skipped.append({"candidate": cand.name, "reason": f"{backend} does not run on {run_on}"})
            else:
                found.append(cand)
    return found, skipped
