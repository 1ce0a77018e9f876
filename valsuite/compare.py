"""Parity mode: how faithfully each engine/precision reproduces torch FP32, over every sample.

The reference (torch FP32) and every candidate are active together and see the same batches, so
outputs are compared batch by batch and never all held in memory. Inputs are seeded random
tensors (standard normal per sample, seeded by (seed, index), so they do not depend on the batch
size) or validation images with the weights' preprocessing. The record is the single source of
the printed tables.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from valsuite.backends import (BackendOptions, backend_available, backend_class, backend_names,
                               create_backend)
from valsuite.errors import ValsuiteError
from valsuite.evaluate.parity import ParityAccumulator

log = logging.getLogger(__name__)

REFERENCE = ("torch", "fp32")


@dataclass(frozen=True)
class Candidate:
    backend: str
    precision: str
    device: str
    explicit: bool = True       # asked for by name: failures are errors, not skips

    @property
    def name(self) -> str:
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
    num_samples: int = 5000
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


# -- candidates ---------------------------------------------------------------------------------

def candidate_device(backend: str, device: str | None) -> str:
    """--device when given (ONNX Runtime without its CUDA provider stays on the CPU), else the
    backend's preferred device on this machine."""
    cls = backend_class(backend)
    if device is None:
        return cls.preferred_device()
    if backend == "onnxruntime" and device == "cuda":
        return cls.preferred_device()
    return device


def parse_candidates(text: str, device: str | None) -> list[Candidate]:
    """`onnxruntime:fp32,onnxruntime:int8,tensorrt:fp16` (precision defaults to fp32)."""
    from valsuite.backends import ALIASES
    from valsuite.options.run import split_list

    found = []
    for item in split_list(text):
        backend, _, precision = item.partition(":")
        backend = ALIASES.get(backend.strip().lower(), backend.strip().lower())
        precision = (precision.strip().lower() or "fp32")
        backend_class(backend)  # unknown names are user errors here, before anything runs
        found.append(Candidate(backend, precision, candidate_device(backend, device)))
    if not found:
        raise ValsuiteError("--candidates is empty", hint="e.g. --candidates onnxruntime:fp32,onnxruntime:int8")
    return list(dict.fromkeys(found))


def precision_step_missing() -> str | None:
    """Why FP16/INT8 ONNX variants cannot be made here, or None when the precision step exists."""
    if importlib.util.find_spec("valsuite.precision") is None:
        return "the precision step (valsuite.precision) is not in this build"
    try:
        from valsuite.precision import ensure_precision_onnx  # noqa: F401
    except ImportError as exc:
        return f"the precision step cannot be imported: {exc}"
    return None


def default_candidates(device: str | None) -> tuple[list[Candidate], list[dict]]:
    """Every backend/precision this machine can run, except the reference itself; and the skips."""
    found, skipped = [], []
    reference_device = candidate_device(REFERENCE[0], device)
    missing = precision_step_missing()
    for backend in backend_names():
        try:
            ok, reason = backend_available(backend)
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
            elif backend != "torch" and precision != "fp32" and missing:
                skipped.append({"candidate": cand.name, "reason": missing})
            else:
                found.append(cand)
    return found, skipped


# -- thresholds ---------------------------------------------------------------------------------

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
    from valsuite.options.run import split_list

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


# -- inputs -------------------------------------------------------------------------------------

@dataclass
class InputBatch:
    x: "object"                 # float32 NCHW torch tensor on the host
    labels: np.ndarray          # int64 (N,), -1 when unlabelled
    indices: np.ndarray         # positions in the sample list / manifest


def random_sample(shape: tuple[int, ...], seed: int, index: int) -> np.ndarray:
    """Standard normal tensor for sample `index`: the same whatever the batch size."""
    return np.random.default_rng([seed, index]).standard_normal(shape, dtype=np.float32)


def random_batches(num: int, shape: tuple[int, ...], batch_size: int, seed: int):
    import torch

    for start in range(0, num, batch_size):
        idx = np.arange(start, min(num, start + batch_size))
        x = np.stack([random_sample(shape, seed, int(i)) for i in idx])
        yield InputBatch(torch.from_numpy(x), np.full(len(idx), -1, dtype=np.int64), idx)


def image_batches(manifest, pp, batch_size: int, workers: int):
    from valsuite.data.loader import ManifestDataset, iterate_batches, make_loader
    from valsuite.data.preprocess import normalize

    loader = make_loader(ManifestDataset(manifest, pp), batch_size, workers)
    for batch in iterate_batches(loader):
        yield InputBatch(normalize(batch.images, pp), batch.labels.numpy(), batch.indices.numpy())


def _manifest(cfg: CompareConfig):
    from valsuite.evaluate.runner import evaluation_manifest

    return evaluation_manifest(cfg.dataset, cfg.exclude, cfg.exclude_reason)


# -- running ------------------------------------------------------------------------------------

class _Scored:
    """One backend's share of the run: its parity accumulator, accuracy counts and top-1 changes."""

    def __init__(self, name: str, backend, rtol: float, atol: float) -> None:
        self.name = name
        self.backend = backend
        self.parity = ParityAccumulator(rtol=rtol, atol=atol)
        self.correct1 = self.correct5 = self.labelled = 0
        self.changed: list[tuple[int, int, int]] = []      # (sample index, ref top-1, cand top-1)

    def score(self, logits: np.ndarray, labels: np.ndarray) -> None:
        mask = labels >= 0
        if mask.any():
            k = min(5, logits.shape[1])
            top = np.argsort(-logits[mask], axis=1, kind="stable")[:, :k]
            hits = top == labels[mask][:, None]
            self.correct1 += int(hits[:, 0].sum())
            self.correct5 += int(hits.any(axis=1).sum())
            self.labelled += int(mask.sum())

    def accuracy(self) -> tuple[float | None, float | None]:
        if not self.labelled:
            return None, None
        return 100.0 * self.correct1 / self.labelled, 100.0 * self.correct5 / self.labelled


def _activate(cand: Candidate, spec, cfg: CompareConfig, skipped: list[dict]):
    options = dataclasses.replace(cfg.candidate_options.get(cand.name) or BackendOptions(),
                                  weights_dir=Path(cfg.weights_dir), batch_size=cfg.batch_size,
                                  max_batch=cfg.batch_size)
    try:
        backend = create_backend(cand.backend, spec, cand.precision, cand.device, options)
        backend.activate()
        return backend
    except ValsuiteError as exc:
        if cand.explicit:
            raise
        skipped.append({"candidate": cand.name, "reason": str(exc)})
        print(f"skipped candidate {cand.name}: {exc}")
        return None


def _outputs(backend, x) -> np.ndarray:
    out, _ = backend.infer(x)
    return out.detach().to("cpu").float().numpy()


def _run_batches(reference: _Scored, scored: list[_Scored], batches, total: int, progress: bool,
                 keep: int = 0) -> np.ndarray:
    """Feed every batch to every backend, checking that each sample is seen exactly once;
    returns the first `keep` inputs (for --localize)."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="sample", desc="compare", leave=False, dynamic_ncols=True)
    seen, kept, indices = 0, [], []
    for batch in batches:
        ref = _outputs(reference.backend, batch.x)
        reference.score(ref, batch.labels)
        for entry in scored:
            out = _outputs(entry.backend, batch.x)
            changed = entry.parity.update(ref, out)
            entry.score(out, batch.labels)
            for pos in np.flatnonzero(changed):
                entry.changed.append((int(batch.indices[pos]), int(ref[pos].argmax()), int(out[pos].argmax())))
        if sum(len(k) for k in kept) < keep:
            kept.append(batch.x.numpy()[:keep - sum(len(k) for k in kept)])
        seen += len(batch.indices)
        indices.append(batch.indices)
        if bar is not None:
            bar.update(len(batch.indices))
    if bar is not None:
        bar.close()
    order = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64)
    if seen != total or not np.array_equal(np.sort(order), np.arange(total)):
        raise RuntimeError(f"compared {seen} samples, expected {total}, each exactly once")
    return np.concatenate(kept) if kept else np.zeros((0,))


def run_compare(cfg: CompareConfig) -> tuple[dict, dict]:
    """Compare every candidate with torch FP32; returns (record, top-1 changes per candidate)."""
    from valsuite.models import resolve

    if cfg.batch_size < 1:
        raise ValsuiteError(f"--batch_size must be at least 1, got {cfg.batch_size}")
    spec = resolve(cfg.network, cfg.weights, cfg.random_weights)
    skipped: list[dict] = list(cfg.skipped)
    candidates = cfg.candidates
    if candidates is None:
        candidates, found_skips = default_candidates(cfg.device)
        skipped += found_skips
        for item in found_skips:
            print(f"skipped candidate {item['candidate']}: {item['reason']}")
    manifest, input_facts = None, None
    if cfg.dataset is not None:
        manifest, input_facts = _manifest(cfg)
        total = len(manifest)
    else:
        if cfg.num_samples < 1:
            raise ValsuiteError(f"--num_samples must be at least 1, got {cfg.num_samples}")
        total = cfg.num_samples
        input_facts = {"path": None, "random": "standard normal per sample, seeded by (seed, index)",
                       "num_images": total, "seed": cfg.seed}
    reference = _Scored("torch:fp32", _activate(Candidate(*REFERENCE, cfg.reference_device), spec, cfg, skipped),
                        cfg.rtol, cfg.atol)
    scored: list[_Scored] = []
    try:
        for cand in candidates:
            backend = _activate(cand, spec, cfg, skipped)
            if backend is not None:
                scored.append(_Scored(cand.name, backend, cfg.rtol, cfg.atol))
        if not scored:
            raise ValsuiteError("no candidate could run", hint="see the skipped candidates above")
        batches = (image_batches(manifest, spec.preprocess, cfg.batch_size, cfg.workers) if manifest
                   else random_batches(total, spec.input_shape, cfg.batch_size, cfg.seed))
        kept = _run_batches(reference, scored, batches, total, cfg.progress,
                            keep=cfg.localize_samples if cfg.localize else 0)
        record = _record(cfg, spec, reference, scored, skipped, input_facts, total)
        if cfg.localize:
            _localize_all(cfg, spec, scored, record, kept)
    finally:
        for entry in (reference, *scored):
            if entry.backend is not None:
                entry.backend.deactivate()
    return record, _changes(scored, manifest)


def _backend_facts(backend) -> dict:
    info = backend.info()
    return {"backend": backend.name, "precision": backend.precision, "device": backend.device,
            "artifact": info.artifact, "model_size_mb": info.model_size_mb, "num_layers": info.num_layers,
            "num_params": info.num_params, "details": info.details}


def _record(cfg, spec, reference: _Scored, scored: list[_Scored], skipped, input_facts, total) -> dict:
    from valsuite.results.environment import environment
    from valsuite.results.record import new_record

    ref1, ref5 = reference.accuracy()
    candidates = []
    for entry in scored:
        prec1, prec5 = entry.accuracy()
        candidates.append({
            "name": entry.name, **_backend_facts(entry.backend), "parity": entry.parity.result(),
            "prec1": prec1, "prec5": prec5,
            "delta_prec1": None if prec1 is None else prec1 - ref1,
            "delta_prec5": None if prec5 is None else prec5 - ref5,
        })
    return new_record(
        "compare", network=spec.network, weights=spec.weights_id, device=cfg.reference_device,
        batch_size=cfg.batch_size, num_images=total, input="dataset" if cfg.dataset else "random",
        dataset=input_facts, rtol=cfg.rtol, atol=cfg.atol,
        reference={"name": reference.name, **_backend_facts(reference.backend), "prec1": ref1, "prec5": ref5},
        candidates=candidates, skipped=skipped, preprocess=spec.preprocess.describe(),
        published=spec.published, weights_source=spec.source, environment=environment(),
    )


def _changes(scored: list[_Scored], manifest) -> dict:
    """Per candidate: the samples whose top-1 differs from the reference's."""
    result = {}
    for entry in scored:
        rows = []
        for index, ref_top1, cand_top1 in entry.changed:
            row = {"index": index, "reference_top1": ref_top1, "candidate_top1": cand_top1}
            if manifest is not None:
                image = manifest.entries[index]
                row |= {"image": image.relpath, "label": image.label}
            rows.append(row)
        result[entry.name] = rows
    return result


# -- --localize ---------------------------------------------------------------------------------

def candidate_onnx(backend, spec, cfg: CompareConfig) -> Path | None:
    """The ONNX a candidate runs (ONNX Runtime) or was built from (TensorRT); None for torch."""
    if backend.name == "torch":
        return None
    artifact = backend.info().artifact
    if artifact and str(artifact).endswith(".onnx"):
        return Path(artifact)
    from valsuite.backends.onnxruntime_backend import model_onnx

    return model_onnx(spec, backend.precision, backend.options)


def _localize_all(cfg: CompareConfig, spec, scored: list[_Scored], record: dict, inputs: np.ndarray) -> None:
    from valsuite.evaluate.localize import format_localize, localize
    from valsuite.export.onnx_export import export_onnx

    fp32 = export_onnx(spec, cfg.weights_dir)
    for entry, cand in zip(scored, record["candidates"]):
        path = candidate_onnx(entry.backend, spec, cfg)
        if path is None:
            cand["localize"] = {"skipped": "not an ONNX candidate"}
            continue
        if path.resolve() == Path(fp32).resolve():
            cand["localize"] = {"skipped": "the candidate runs the FP32 ONNX itself"}
            continue
        result = localize(fp32, path, inputs, rtol=cfg.rtol, atol=cfg.atol, bad_pct=cfg.localize_bad_pct)
        cand["localize"] = result.to_dict(cfg.localize_top)
        print(f"\n### {entry.name}: where it departs from the FP32 ONNX\n")
        print(format_localize(result, cfg.localize_top))


# -- tables (from the record only) ---------------------------------------------------------------

def _f(value, digits: int = 2, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _g(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def _stats(err: dict) -> str:
    return " / ".join(_g(err.get(k)) for k in ("mean", "median", "p99", "max"))


def equality_table(record: dict) -> str:
    """The seed's "equality (%)" table, with the error distribution beside it."""
    from tabulate import tabulate

    headers = ("candidate", f"equality (%) rtol={record['rtol']:g} atol={record['atol']:g}",
               "abs err mean / median / p99 / max", "rel err mean / median / p99 / max")
    rows = [[c["name"], _f(c["parity"]["isclose_pct"], 3), _stats(c["parity"]["abs_error"]),
             _stats(c["parity"]["rel_error"])] for c in record["candidates"]]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def decision_table(record: dict) -> str:
    from tabulate import tabulate

    ref = record["reference"]
    labelled = ref.get("prec1") is not None
    headers = ["candidate", "top-1 agreement (%)", "top-1 changed", "top-5 overlap (%)"]
    if labelled:
        headers += ["Prec@1 ref / cand (Δ)", "Prec@5 ref / cand (Δ)"]
    rows = []
    for c in record["candidates"]:
        p = c["parity"]
        row = [c["name"], _f(p["top1_agreement_pct"], 3), f"{p['top1_changed']} / {p['num_samples']}",
               _f(p["top5_overlap_pct"], 3)]
        if labelled:
            row += [f"{_f(ref['prec1'])} / {_f(c['prec1'])} ({_f(c['delta_prec1'], signed=True)})",
                    f"{_f(ref['prec5'])} / {_f(c['prec5'])} ({_f(c['delta_prec5'], signed=True)})"]
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def rank_table(record: dict) -> str:
    """The seed's "TOP 10 MAE / disagreement" table: one row per rank, over all samples."""
    from tabulate import tabulate

    cands = record["candidates"]
    depth = max((len(c["parity"]["ranks"]) for c in cands), default=0)
    headers = ["rank", *(f"{c['name']} MAE / disagreement (%)" for c in cands)]
    rows = []
    for i in range(depth):
        row = [str(i + 1)]
        for c in cands:
            ranks = c["parity"]["ranks"]
            row.append(f"{ranks[i]['mae']:.3g} / {ranks[i]['disagreement_pct']:.2f}" if i < len(ranks) else "-")
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def render_tables(record: dict) -> str:
    source = (f"{record['num_images']} random inputs (seed {record['dataset'].get('seed')})"
              if record["input"] == "random" else f"{record['num_images']} images from {record['dataset']['path']}")
    ref = record["reference"]
    title = (f"Parity of {record['network']} ({record['weights']}) against {ref['name']} on {ref['device']}, "
             f"{source}, batch {record['batch_size']}")
    parts = [title, "", "equality (%)", "", equality_table(record), "", "decisions", "",
             decision_table(record), "", "TOP 10 MAE / disagreement", "", rank_table(record)]
    if record.get("skipped"):
        parts += ["", "skipped: " + "; ".join(f"{s['candidate']} ({s['reason']})" for s in record["skipped"])]
    return "\n".join(parts)


# -- outputs ------------------------------------------------------------------------------------

def changes_path_for(record_path: Path) -> Path:
    return record_path.with_name(f"{record_path.stem}_top1_changed.json")


def write_outputs(record: dict, changes: dict, output_json: Path | None,
                  results_dir: Path) -> list[Path]:
    """The record under results_dir (and at --output-json), each with its top-1 change list beside it."""
    from valsuite.fileio import atomic_write_json
    from valsuite.results.record import record_filename, write_record

    targets = [Path(results_dir) / record_filename(record)]
    if output_json is not None:
        targets.append(Path(output_json))
    written = []
    for target in targets:
        changed = changes_path_for(target)
        record["top1_changed_file"] = changed.name
        atomic_write_json(changed, {"run_id": record["run_id"], "reference": record["reference"]["name"],
                                    "candidates": changes})
        written += [write_record(record, target), changed]
    return written


def finish(record: dict, thresholds: list[Threshold]) -> int:
    """Exit code: 1 when a --fail-under threshold is missed, else 0; failures go in the record."""
    failures = check_thresholds(record, thresholds)
    record["fail_under"] = {"thresholds": [t.__dict__ for t in thresholds], "failures": failures}
    return 1 if failures else 0
