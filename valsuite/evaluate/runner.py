"""One validation run: ModelSpec + images + backend -> measured run record (written atomically)."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from valsuite.backends import BackendOptions, create_backend
from valsuite.data.loader import ManifestDataset, SyntheticDataset, iterate_batches, make_loader
from valsuite.data.manifest import Manifest, scan_dataset
from valsuite.errors import ValsuiteError
from valsuite.evaluate.timing import TimingOptions, export_times
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
    input_size: tuple[int, int] | None = None   # --input_size HxW; None: the weights' native size
    timing: TimingOptions = field(default_factory=TimingOptions)
    count_flops: bool = True             # GFLOPs/params with torch's FLOP counter (one extra model build)
    profile_layers: int | None = None    # --profile-layers N: the N most expensive layers, separate run
    profile_runs: int = 5
    monitor: bool = True                 # utilisation timeline (NVML on CUDA, psutil on the CPU)
    monitor_interval_s: float = 0.05
    class_list: Path | None = None       # --class-list FILE: a custom class list (recorded as such)


@dataclass
class RunOutcome:
    record: dict
    result: ValidationResult
    manifest: Manifest | None


def resolve_spec(cfg: RunConfig) -> ModelSpec:
    spec = resolve(cfg.network, cfg.weights, cfg.random_weights)
    return spec.at_input_size(*cfg.input_size) if cfg.input_size else spec


def _images(cfg: RunConfig, spec: ModelSpec):
    """(dataset, manifest or None, facts for the record)."""
    if cfg.dataset is None:
        if cfg.num_samples < 1:
            raise ValsuiteError(f"--num_samples must be at least 1, got {cfg.num_samples}")
        data = SyntheticDataset(cfg.num_samples, spec.preprocess, cfg.seed)
        return data, None, {"path": None, "synthetic": True, "num_images": cfg.num_samples, "seed": cfg.seed}
    manifest, facts = evaluation_manifest(cfg.dataset, cfg.exclude, cfg.exclude_reason, cfg.class_list)
    return ManifestDataset(manifest, spec.preprocess), manifest, facts


def evaluation_manifest(dataset: Path, exclude=frozenset(), reason: str | None = None,
                        class_list: Path | None = None) -> tuple[Manifest, dict]:
    """The images a run evaluates (calibration images excluded) and the dataset facts for its record."""
    manifest = scan_dataset(dataset, class_list=class_list)
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
        _reset_cuda_peak(cfg.device)
        with _sampler(cfg) as sampler:
            result = run_validation(backend, batches, len(dataset), spec.preprocess,
                                    cfg.batch_size, cfg.warmup_batches, cfg.progress, stage=stage,
                                    inflight=cfg.inflight, timing=cfg.timing,
                                    head=head_name(cfg))
        torch_peak = _torch_peak_mb(cfg.device)
        info = backend.info()
        profile = layer_profile(cfg, spec, backend) if cfg.profile_layers else None
        if stage is not None and hasattr(stage, "describe"):
            dataset_facts = dataset_facts | {"decode_details": stage.describe()}
    finally:
        backend.deactivate()
    record = make_record(cfg, spec, backend, info, result, dataset_facts, setup_s,
                         input_kind="synthetic" if manifest is None else "dataset")
    finish_timing(cfg, record, result)
    record["utilisation"] = (sampler.summary() if cfg.monitor else {"source": None, "unavailable": "off"}) | torch_peak
    if profile is not None:
        record["layer_profile"] = profile
    return RunOutcome(record, result, manifest)


def head_name(cfg: RunConfig) -> str:
    """The output head the backend returns (valsuite/heads): logits unless --head says otherwise."""
    head = cfg.backend_options.head
    return head.name if head is not None else "logits"


def _sampler(cfg: RunConfig):
    """The utilisation sampler around the measured loop, or a no-op context when it is off."""
    import contextlib

    from valsuite.evaluate.monitor import UtilSampler

    return UtilSampler(cfg.device, cfg.monitor_interval_s) if cfg.monitor else contextlib.nullcontext()


def _reset_cuda_peak(device: str) -> None:
    """NVML sees the whole device, including what torch's caching allocator keeps from earlier
    runs of this process; torch's own peak, reset here, is this run's alone."""
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _torch_peak_mb(device: str) -> dict:
    if device != "cuda":
        return {}
    import torch

    return {"torch_peak_allocated_mb": torch.cuda.max_memory_allocated() / 2**20}


def layer_profile(cfg: RunConfig, spec: ModelSpec, backend) -> dict:
    """A separate profiling run after the timed batches (profilers perturb timing), on one
    seeded batch of the run's size. A backend without a profiler: the record says why, the run
    goes on (its measurements are unaffected)."""
    import torch

    from valsuite.evaluate.layer_profile import profile_table
    from valsuite.evaluate.stages import model_input

    if cfg.profile_layers < 1:
        raise ValsuiteError(f"--profile-layers must be at least 1, got {cfg.profile_layers}")
    images = torch.from_numpy(np.random.default_rng(cfg.seed).integers(
        0, 256, size=(cfg.batch_size, *spec.input_shape), dtype=np.uint8))
    device = backend.input_device
    try:
        times = backend.layer_times(model_input(images.to(device), spec.preprocess, device), cfg.profile_runs)
    except ValsuiteError as exc:
        log.warning("%s: no layer profile: %s", backend.name, exc)
        return {"error": str(exc)}
    summary = times.summary(cfg.profile_layers, cfg.batch_size)
    log.info("layer profile of %s %s:\n%s", spec.network, backend.name, profile_table(summary))
    return summary


def finish_timing(cfg: RunConfig, record: dict, result: ValidationResult) -> None:
    """The stability warning on the console (it is in the record too) and --export-times."""
    warning = record["stability"]["warning"]
    if warning:
        log.warning("%s %s:%s: %s", record["network"], record["backend"], record["precision"], warning)
    if cfg.timing.export_times is not None:
        context = {k: record[k] for k in ("run_id", "network", "backend", "precision", "device", "batch_size",
                                          "input_size")}
        path = export_times(cfg.timing.export_times, result.iterations(), context)
        record["export_times"] = str(path)


def model_cost(cfg: RunConfig, spec: ModelSpec) -> dict:
    """GFLOPs and parameters at the run's input size (a failure leaves None, never stops the run)."""
    if not cfg.count_flops:
        return {"gflops": None, "model_params": None, "flops_counter": "off"}
    from valsuite.models.flops import spec_cost

    cost = spec_cost(spec)
    return {"gflops": cost["gflops"], "model_params": cost["params"], "flops_counter": cost["flops_counter"]}


def accuracy_fields(spec: ModelSpec, summary: dict, backend=None) -> dict:
    """Accuracy only at the weights' native size: at any other, a note instead of a number.
    An engine that computes no outputs (the null backend's tied zeros) ranks nothing either."""
    if backend is not None and not backend.computes_outputs:
        return {"prec1": None, "prec5": None,
                "accuracy_note": f"accuracy not reported: the {backend.name} backend computes no outputs "
                                 "(it measures the harness)"}
    if spec.native_size:
        return {}
    h, w = spec.input_shape[1:]
    note = (f"accuracy not reported: input {h}x{w} is not the size the weights were trained and "
            f"evaluated at ({spec.native_preprocess.crop_size}x{spec.native_preprocess.crop_size}); "
            "this run measures speed")
    return {"prec1": None, "prec5": None, "accuracy_note": note,
            "measured_prec1_off_native": summary.get("prec1")}


def backend_options(cfg: RunConfig) -> BackendOptions:
    return dataclasses.replace(cfg.backend_options, weights_dir=Path(cfg.weights_dir), batch_size=cfg.batch_size,
                               max_batch=cfg.batch_size)


def calibration_exclusions(options, dataset: Path | None, precisions: list[str],
                           class_list: Path | None = None) -> tuple[frozenset, str | None]:
    """When a run (or a sweep) has an int8 row, every row of it (so the table compares like with
    like) skips the calibration images that come from the evaluated folder; the record's dataset
    facts say so. A sweep's non-int8 children pass "int8" in `precisions` for the same reason."""
    if dataset is None or "int8" not in precisions:
        return frozenset(), None
    from valsuite.precision import calibration_exclusions as exclusions

    excluded, facts = exclusions(options, scan_dataset(dataset, class_list=class_list))
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
    summary = result.summary()
    return new_record(
        kind,
        network=spec.network, weights=spec.weights_id, backend=backend.name, precision=cfg.precision,
        device=cfg.device, batch_size=cfg.batch_size, input=input_kind,
        **(summary | accuracy_fields(spec, summary, backend)),
        input_size=list(spec.input_shape[1:]), native_input_size=spec.native_size,
        model_config=dict(spec.model_config), **model_cost(cfg, spec),
        model_size_mb=info.model_size_mb, num_layers=info.num_layers, num_params=info.num_params,
        artifact=info.artifact, backend_details=info.details, setup_s=setup_s, workers=cfg.workers, inflight=cfg.inflight,
        dataset=dataset_facts, preprocess=spec.preprocess.describe(), published=spec.published,
        weights_source=spec.source, environment=environment(), **extra,
    )
