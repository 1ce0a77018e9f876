"""One validation run: ModelSpec + images + backend -> measured run record (written atomically)."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from valsuite.backends import BackendOptions, create_backend
from valsuite.data.loader import ManifestDataset, SyntheticDataset, iterate_batches, make_loader
from valsuite.data.manifest import Manifest, scan_dataset
from valsuite.errors import ValsuiteError
from valsuite.evaluate.validate import ValidationResult, run_validation
from valsuite.models import resolve
from valsuite.models.spec import ModelSpec
from valsuite.results.environment import environment
from valsuite.results.record import new_record

log = logging.getLogger(__name__)


@dataclass
class RunConfig:
    network: str
    backend: str = "torch"
    precision: str = "fp32"
    device: str = "cpu"
    batch_size: int = 32
    weights: str | None = None
    random_weights: bool = False
    dataset: Path | None = None          # None: synthetic, seeded input (timing only)
    num_samples: int = 256               # synthetic input size
    seed: int = 0
    workers: int = 2
    warmup_batches: int | None = None
    weights_dir: Path = Path("weights")
    progress: bool = True
    backend_options: BackendOptions = field(default_factory=BackendOptions)   # typed engine options
    exclude: frozenset = frozenset()     # relpaths never evaluated (calibration images)
    exclude_reason: str | None = None
    cache: Path | None = None            # --cache DIR: preprocessed uint8 crops, memory-mapped
    inflight: int = 1                    # batches submitted before the oldest is collected
    decode: str = "cpu"                  # --decode gpu: batched nvJPEG decode + resize on the GPU


@dataclass
class RunOutcome:
    record: dict
    result: ValidationResult
    manifest: Manifest | None


def resolve_spec(cfg: RunConfig) -> ModelSpec:
    return resolve(cfg.network, cfg.weights, cfg.random_weights)


def _images(cfg: RunConfig, spec: ModelSpec):
    """(dataset, manifest or None, facts for the record)."""
    if cfg.dataset is None:
        if cfg.num_samples < 1:
            raise ValsuiteError(f"--num_samples must be at least 1, got {cfg.num_samples}")
        data = SyntheticDataset(cfg.num_samples, spec.preprocess, cfg.seed)
        return data, None, {"path": None, "synthetic": True, "num_images": cfg.num_samples, "seed": cfg.seed}
    manifest, facts = evaluation_manifest(cfg.dataset, cfg.exclude, cfg.exclude_reason)
    return ManifestDataset(manifest, spec.preprocess), manifest, facts


def evaluation_manifest(dataset: Path, exclude=frozenset(), reason: str | None = None) -> tuple[Manifest, dict]:
    """The images a run evaluates (calibration images excluded) and the dataset facts for its record."""
    manifest = scan_dataset(dataset)
    facts = {}
    if exclude:
        before = len(manifest)
        manifest = manifest.without(set(exclude))
        facts = {"excluded_images": before - len(manifest), "excluded_reason": reason}
        if len(manifest) == 0:
            raise ValsuiteError(f"every image of {dataset} was excluded ({reason})")
    return manifest, manifest.describe() | facts


def run_one(cfg: RunConfig, spec: ModelSpec | None = None) -> RunOutcome:
    """Validate one backend/precision/batch size and return its record (not yet written)."""
    if cfg.batch_size < 1:
        raise ValsuiteError(f"--batch_size must be at least 1, got {cfg.batch_size}")
    spec = spec or resolve_spec(cfg)
    dataset, manifest, dataset_facts = prepare_images(cfg, spec)
    backend = create_backend(cfg.backend, spec, cfg.precision, cfg.device, backend_options(cfg))
    start = time.perf_counter()
    backend.activate()
    setup_s = time.perf_counter() - start
    try:
        batches, stage = make_pipeline(cfg, spec, dataset)
        result = run_validation(backend, batches, len(dataset), spec.preprocess,
                                cfg.batch_size, cfg.warmup_batches, cfg.progress, stage=stage,
                                inflight=cfg.inflight)
        info = backend.info()
        if stage is not None and hasattr(stage, "describe"):
            dataset_facts = dataset_facts | {"decode_details": stage.describe()}
    finally:
        backend.deactivate()
    record = make_record(cfg, spec, backend, info, result, dataset_facts, setup_s,
                         input_kind="synthetic" if manifest is None else "dataset")
    return RunOutcome(record, result, manifest)


def backend_options(cfg: RunConfig) -> BackendOptions:
    return dataclasses.replace(cfg.backend_options, weights_dir=Path(cfg.weights_dir), batch_size=cfg.batch_size,
                               max_batch=cfg.batch_size)


def calibration_exclusions(options, dataset: Path | None, precisions: list[str]) -> tuple[frozenset, str | None]:
    """When a run has an int8 row, every row of it (so the table compares like with like) skips the
    calibration images that come from the evaluated folder; the record's dataset facts say so."""
    if dataset is None or "int8" not in precisions:
        return frozenset(), None
    from valsuite.precision import calibration_exclusions as exclusions

    excluded, facts = exclusions(options, scan_dataset(dataset))
    return (frozenset(excluded), facts["excluded_reason"]) if excluded else (frozenset(), None)


def prepare_images(cfg: RunConfig, spec: ModelSpec):
    """(dataset, manifest or None, facts): the cache replaces decoding when --cache is given."""
    dataset, manifest, facts = _images(cfg, spec)
    if cfg.decode not in ("cpu", "gpu"):
        raise ValsuiteError(f"--decode must be cpu or gpu, got {cfg.decode!r}")
    if cfg.cache is not None:
        if manifest is None:
            raise ValsuiteError("--cache needs a dataset folder (synthetic input is never cached)")
        if cfg.decode == "gpu":
            raise ValsuiteError("--cache and --decode gpu exclude each other",
                                hint="the cache already holds decoded crops; pick one")
        from valsuite.data.cache import open_cache

        dataset = open_cache(cfg.cache, manifest, spec.preprocess, cfg.workers, cfg.progress)
        facts = facts | {"cache": dataset.info}
    if cfg.decode == "gpu":
        if manifest is None:
            raise ValsuiteError("--decode gpu needs a dataset folder of JPEG files")
        if cfg.device != "cuda":
            raise ValsuiteError("--decode gpu needs --device cuda")
    return dataset, manifest, facts | {"decode": cfg.decode}


def make_pipeline(cfg: RunConfig, spec: ModelSpec, dataset):
    """(iterable of batches, stage): how images get from disk (or cache) to the device."""
    from valsuite.data.cache import CachedDataset, cached_batches

    pin = cfg.device == "cuda"
    if isinstance(dataset, CachedDataset):
        return cached_batches(dataset, cfg.batch_size, threads=cfg.workers, pin_memory=pin), None
    if cfg.decode == "gpu":
        from valsuite.data.gpu_decode import GpuDecodeStage, encoded_loader

        return encoded_loader(dataset.manifest, spec.preprocess, cfg.batch_size, cfg.workers), \
            GpuDecodeStage(spec.preprocess)
    loader = make_loader(dataset, cfg.batch_size, cfg.workers, pin_memory=pin)
    return iterate_batches(loader), None


def make_record(cfg: RunConfig, spec: ModelSpec, backend, info, result: ValidationResult,
                dataset_facts: dict, setup_s: float, input_kind: str, kind: str = "validation",
                **extra) -> dict:
    return new_record(
        kind,
        network=spec.network, weights=spec.weights_id, backend=backend.name, precision=cfg.precision,
        device=cfg.device, batch_size=cfg.batch_size, input=input_kind,
        **result.summary(),
        model_size_mb=info.model_size_mb, num_layers=info.num_layers, num_params=info.num_params,
        artifact=info.artifact, backend_details=info.details, setup_s=setup_s, workers=cfg.workers, inflight=cfg.inflight,
        dataset=dataset_facts, preprocess=spec.preprocess.describe(), published=spec.published,
        weights_source=spec.source, environment=environment(), **extra,
    )
