"""One validation run: ModelSpec + images + backend -> measured run record (written atomically)."""

from __future__ import annotations

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
    backend_options: dict = field(default_factory=dict)   # engine-specific extras
    exclude: frozenset = frozenset()     # relpaths never evaluated (calibration images)
    exclude_reason: str | None = None


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
            raise ValsuiteError(f"--num-samples must be at least 1, got {cfg.num_samples}")
        data = SyntheticDataset(cfg.num_samples, spec.preprocess, cfg.seed)
        return data, None, {"path": None, "synthetic": True, "num_images": cfg.num_samples, "seed": cfg.seed}
    manifest = scan_dataset(cfg.dataset)
    facts = {}
    if cfg.exclude:
        before = len(manifest)
        manifest = manifest.without(set(cfg.exclude))
        facts = {"excluded_images": before - len(manifest), "excluded_reason": cfg.exclude_reason}
        if len(manifest) == 0:
            raise ValsuiteError(f"every image of {cfg.dataset} was excluded ({cfg.exclude_reason})")
    return ManifestDataset(manifest, spec.preprocess), manifest, manifest.describe() | facts


def run_one(cfg: RunConfig, spec: ModelSpec | None = None) -> RunOutcome:
    """Validate one backend/precision/batch size and return its record (not yet written)."""
    if cfg.batch_size < 1:
        raise ValsuiteError(f"--batch_size must be at least 1, got {cfg.batch_size}")
    spec = spec or resolve_spec(cfg)
    dataset, manifest, dataset_facts = _images(cfg, spec)
    options = BackendOptions(weights_dir=Path(cfg.weights_dir), batch_size=cfg.batch_size,
                             max_batch=cfg.batch_size, extra=dict(cfg.backend_options),
                             artifact=cfg.backend_options.get("artifact"),
                             cuda_graph=bool(cfg.backend_options.get("cuda_graph", False)))
    backend = create_backend(cfg.backend, spec, cfg.precision, cfg.device, options)
    start = time.perf_counter()
    backend.activate()
    setup_s = time.perf_counter() - start
    try:
        loader = make_loader(dataset, cfg.batch_size, cfg.workers, pin_memory=cfg.device == "cuda")
        result = run_validation(backend, iterate_batches(loader), len(dataset), spec.preprocess,
                                cfg.batch_size, cfg.warmup_batches, cfg.progress)
        info = backend.info()
    finally:
        backend.deactivate()
    record = new_record(
        "validation",
        network=spec.network, weights=spec.weights_id, backend=backend.name, precision=cfg.precision,
        device=cfg.device, batch_size=cfg.batch_size, input="synthetic" if manifest is None else "dataset",
        **result.summary(),
        model_size_mb=info.model_size_mb, num_layers=info.num_layers, num_params=info.num_params,
        artifact=info.artifact, backend_details=info.details, setup_s=setup_s, workers=cfg.workers,
        dataset=dataset_facts, preprocess=spec.preprocess.describe(), published=spec.published,
        weights_source=spec.source, environment=environment(),
    )
    return RunOutcome(record, result, manifest)
