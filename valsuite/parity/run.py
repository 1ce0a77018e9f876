"""Parity mode: how faithfully each engine/precision reproduces torch FP32, over every sample.

The reference (torch FP32) and every candidate are active together and see the same batches, so
outputs are compared batch by batch and never all held in memory. Inputs are seeded random
tensors (standard normal per sample, seeded by (seed, index), so they do not depend on the batch
size) or validation images with the weights' preprocessing. The record is the single source of
the printed tables.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from valsuite.backends import BackendOptions, backend_available, create_backend
from valsuite.errors import ValsuiteError
from valsuite.evaluate.accuracy import TopKAccuracy
from valsuite.parity.candidates import default_candidates
from valsuite.parity.config import REFERENCE, Candidate, CompareConfig, Threshold, check_thresholds
from valsuite.parity.statistics import ParityAccumulator

log = logging.getLogger(__name__)


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
        self.accuracy = TopKAccuracy()
        self.changed: list[tuple[int, int, int]] = []      # (sample index, ref top-1, cand top-1)

    def score(self, logits: np.ndarray, labels: np.ndarray) -> None:
        k = min(5, logits.shape[1])
        self.accuracy.update(np.argsort(-logits, axis=1, kind="stable")[:, :k], labels)


def _activate(cand: Candidate, spec, cfg: CompareConfig, skipped: list[dict]):
    options = dataclasses.replace(cfg.candidate_options.get(cand.name) or BackendOptions(),
                                  weights_dir=Path(cfg.weights_dir), batch_size=cfg.batch_size,
                                  max_batch=cfg.batch_size)
    ok, reason = backend_available(cand.backend, options)
    if not ok:  # this machine cannot run it (e.g. no GPU the TensorRT flavour runs on): listed, others still run
        skipped.append({"candidate": cand.name, "reason": reason})
        print(f"skipped candidate {cand.name}: {reason}")
        return None
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
            from valsuite.parity.localize import localize_candidates

            localize_candidates(cfg, spec, [(e.name, e.backend) for e in scored], record, kept)
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

    ref1, ref5 = reference.accuracy.prec1, reference.accuracy.prec5
    candidates = []
    for entry in scored:
        prec1, prec5 = entry.accuracy.prec1, entry.accuracy.prec5
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
