"""The segmentation head study: input size x head x backend x precision -> one record each.

Per configuration: Latency-all (host uint8 batch -> host result; for variant 1 the host argmax in
numpy is inside it), Latency-model (what the backend reports for its compute alone), the size of
what the engine runs, and the head's cost against variant 1 of the same backend and precision on
the same inputs: pixel agreement and mean IoU for label heads, score error for ReduceMax heads.
A configuration that fails becomes a failure record with its message; the study goes on.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from valsuite.backends import BackendOptions, create_backend
from valsuite.errors import ValsuiteError
from valsuite.heads.kinds import DEFAULT_FUSE_SCALE, LABEL_HEADS, SEGMENTATION_HEADS, HeadSpec
from valsuite.models.segmentation import SegmentationSpec, resolve
from valsuite.options.inductor import InductorOptions
from valsuite.options.precision import PrecisionOptions
from valsuite.results.environment import environment
from valsuite.results.record import latency_stats, new_record
from valsuite.segmentation.metrics import LabelAgreement, ScoreAgreement

log = logging.getLogger(__name__)

STUDY_SIZES = ((384, 384), (384, 576), (576, 576), (576, 768), (768, 1344))
REFERENCE_HEAD = "host-argmax"
_environment = functools.lru_cache(maxsize=1)(environment)   # one machine description per study


@dataclass
class StudyOptions:
    network: str = "lraspp_mobilenet_v3_large"
    weights: str | None = None
    random_weights: bool = False
    sizes: tuple[tuple[int, int], ...] = STUDY_SIZES
    heads: tuple[str, ...] = tuple(SEGMENTATION_HEADS)
    backends: tuple[str, ...] = ("onnxruntime",)
    precisions: tuple[str, ...] = ("fp32", "fp16")
    device: str | None = None       # None: each backend's preferred device here (cuda when it can)
    batch_size: int = 1
    num_images: int = 4              # images per configuration, each timed once
    warmup: int = 2                  # untimed passes over the first batch before timing
    seed: int = 0                    # synthetic images
    fuse_scale: float = DEFAULT_FUSE_SCALE
    dataset: Path | None = None      # a folder of images, resized to each input size (else synthetic)
    weights_dir: Path = Path("weights")
    precision: PrecisionOptions = field(default_factory=PrecisionOptions)   # ONNX fp16/int8 variants
    inductor: InductorOptions = field(default_factory=InductorOptions)

    def check(self) -> "StudyOptions":
        for head in self.heads:
            HeadSpec(head, "segmentation", self.fuse_scale)
        if self.batch_size < 1 or self.num_images < 1 or self.warmup < 0:
            raise ValsuiteError("the segmentation study needs --batch_size >= 1, at least one image "
                                "and a warm-up count >= 0")
        if not self.sizes:
            raise ValsuiteError("--input_sizes is empty")
        return self

    def ordered_heads(self) -> tuple[str, ...]:
        """Variant 1 first: every other head is compared with its maps (it runs even if not asked for)."""
        rest = tuple(h for h in self.heads if h != REFERENCE_HEAD)
        return (REFERENCE_HEAD, *rest)


@dataclass
class Measured:
    latency_all_ms: list = field(default_factory=list)
    latency_model_ms: list = field(default_factory=list)
    results: list = field(default_factory=list)          # host label maps or score maps, per batch
    reference_scores: list = field(default_factory=list)  # variant 1 only: max logit per pixel
    wall_s: float = 0.0


def study_images(opts: StudyOptions, spec: SegmentationSpec) -> tuple[np.ndarray, dict]:
    """uint8 NCHW images at the spec's size (seeded noise, or the dataset's first files) + facts."""
    height, width = spec.input_hw
    if opts.dataset is None:
        rng = np.random.default_rng(opts.seed)
        images = rng.integers(0, 256, size=(opts.num_images, 3, height, width), dtype=np.uint8)
        return images, {"path": None, "synthetic": True, "num_images": opts.num_images, "seed": opts.seed}
    from valsuite.data.preprocess import load_uint8
    from valsuite.fileio import sha256_json
    from valsuite.precision.calibdata import list_images

    paths = list_images(Path(opts.dataset))[: opts.num_images]
    images = np.stack([load_uint8(p, spec.preprocess) for p in paths])
    names = [p.relative_to(opts.dataset).as_posix() for p in paths]
    return images, {"path": str(opts.dataset), "num_images": len(paths), "resized_to": [height, width],
                    "file_list_sha256": sha256_json(names)}


def host_result(outputs, head: str) -> np.ndarray:
    """The host's part of a head: variant 1 takes the argmax here (numpy), the others only unpack."""
    array = outputs.numpy()
    if head == REFERENCE_HEAD:
        return np.argmax(array, axis=1)
    return array[:, 0]


def measure(backend, images: np.ndarray, spec: SegmentationSpec, opts: StudyOptions, head: str) -> Measured:
    import torch

    from valsuite.evaluate.stages import model_input

    pp, device = spec.preprocess, backend.input_device
    batches = [torch.from_numpy(images[i:i + opts.batch_size]) for i in range(0, len(images), opts.batch_size)]
    for _ in range(max(1, opts.warmup)):       # lazy init, autotuning, compilation: never timed
        backend.infer(model_input(batches[0].to(device), pp, device))
    measured = Measured()
    begin = time.perf_counter()
    for batch in batches:
        start = time.perf_counter()
        outputs, model_ms = backend.infer(model_input(batch.to(device), pp, device))
        result = host_result(outputs.to("cpu"), head)
        measured.latency_all_ms.append((time.perf_counter() - start) * 1e3)
        measured.latency_model_ms.append(model_ms)
        measured.results.append(result)
        if head == REFERENCE_HEAD:                 # for the ReduceMax heads' comparison, after the clock
            measured.reference_scores.append(outputs.float().numpy().max(axis=1))
    measured.wall_s = time.perf_counter() - begin
    return measured


def agreement(head: str, measured: Measured, reference: Measured, num_classes: int) -> dict:
    """The head's cost against variant 1 on the same inputs (same backend and precision)."""
    facts = {"reference": f"{REFERENCE_HEAD} (variant 1), same backend, precision and inputs"}
    if head in LABEL_HEADS:
        stats = LabelAgreement(num_classes)
        for ref, cand in zip(reference.results, measured.results):
            stats.update(ref, np.rint(cand).astype(np.int64))
        return facts | stats.summary()
    stats = ScoreAgreement()
    for ref, cand in zip(reference.reference_scores, measured.results):
        stats.update(ref, cand)
    return facts | stats.summary() | {"note": "scores only (ReduceMax): no label map, so no pixel agreement or mIoU"}


@dataclass
class StudyOutcome:
    records: list = field(default_factory=list)
    skipped: list = field(default_factory=list)      # (backend:precision, why) this machine cannot run


def unavailable(opts: StudyOptions, spec: SegmentationSpec, backend_name: str, precision: str) -> str | None:
    """Why this backend/precision cannot run here (checked before any work), or None."""
    from valsuite.backends import backend_available

    ok, why = backend_available(backend_name)
    if not ok:
        return why
    try:
        create_backend(backend_name, spec, precision, device_for(opts, backend_name), _backend_options(opts, HeadSpec(
            REFERENCE_HEAD, "segmentation", opts.fuse_scale)))
    except ValsuiteError as exc:
        return str(exc)
    return None


def run_study(opts: StudyOptions, on_record: Callable[[dict], None] | None = None) -> StudyOutcome:
    """Every configuration of the study; each record is handed to `on_record` as soon as it exists."""
    opts.check()
    outcome = StudyOutcome()
    records = outcome.records
    for size in opts.sizes:
        spec = resolve(opts.network, opts.weights, opts.random_weights, size)
        images, data_facts = study_images(opts, spec)
        for backend_name in opts.backends:
            for precision in opts.precisions:
                why = unavailable(opts, spec, backend_name, precision)
                if why is not None:
                    if (f"{backend_name}:{precision}", why) not in outcome.skipped:
                        log.info("skipped %s:%s: %s", backend_name, precision, why)
                        outcome.skipped.append((f"{backend_name}:{precision}", why))
                    continue
                reference = None
                for head in opts.ordered_heads():
                    record, measured = run_config(opts, spec, images, data_facts, backend_name, precision,
                                                  head, reference)
                    if head == REFERENCE_HEAD:
                        reference = measured
                    if head in opts.heads:
                        records.append(record)
                        if on_record is not None:
                            on_record(record)
    return outcome


def run_config(opts: StudyOptions, spec: SegmentationSpec, images, data_facts: dict, backend_name: str,
               precision: str, head: str, reference: Measured | None) -> tuple[dict, Measured | None]:
    """One record (a failure record when the configuration fails) and its measurement."""
    head_spec = HeadSpec(head, "segmentation", opts.fuse_scale)
    device = device_for(opts, backend_name)
    common = dict(network=spec.network, weights=spec.weights_id, backend=backend_name,
                  precision=precision, device=device, batch_size=opts.batch_size,
                  input_size=list(spec.input_hw), **head_spec.describe(),
                  head_number=list(SEGMENTATION_HEADS).index(head) + 1, dataset=data_facts,
                  environment=_environment())
    try:
        backend = create_backend(backend_name, spec, precision, device, _backend_options(opts, head_spec))
        setup = time.perf_counter()
        backend.activate()
        setup_s = time.perf_counter() - setup
        try:
            measured = measure(backend, images, spec, opts, head)
            info = backend.info()
        finally:
            backend.deactivate()
    except (ValsuiteError, RuntimeError) as exc:   # one failing configuration must not end the study
        log.error("segmentation %s %s %s %s failed: %s", spec.input_hw, backend_name, precision, head, exc)
        return new_record("failure", **common, error=f"{type(exc).__name__}: {exc}".splitlines()[0]), None
    if reference is None and head != REFERENCE_HEAD:
        cost = {"note": "variant 1 failed for this backend and precision: no reference"}
    else:
        cost = agreement(head, measured, reference or measured, spec.num_classes)
    timed = len(images)
    record = new_record(
        "benchmark", **common, input="synthetic" if data_facts.get("synthetic") else "dataset",
        num_images=timed, prec1=None, prec5=None,
        latency_all_ms=latency_stats(measured.latency_all_ms),
        latency_model_ms=latency_stats(measured.latency_model_ms),
        throughput_img_s=1e3 * timed / sum(measured.latency_all_ms) if sum(measured.latency_all_ms) else None,
        model_size_mb=info.model_size_mb, num_layers=info.num_layers, num_params=info.num_params,
        artifact=info.artifact, backend_details=info.details, setup_s=setup_s, warmup_passes=max(1, opts.warmup),
        host_argmax=head == REFERENCE_HEAD, agreement=cost, preprocess=spec.preprocess.describe(),
        published=spec.published, weights_source=spec.source, num_classes=spec.num_classes)
    return record, measured


def device_for(opts: StudyOptions, backend_name: str) -> str:
    if opts.device:
        return opts.device
    from valsuite.backends import backend_class

    return backend_class(backend_name).preferred_device()


def _backend_options(opts: StudyOptions, head: HeadSpec) -> BackendOptions:
    return BackendOptions(weights_dir=Path(opts.weights_dir), batch_size=opts.batch_size, max_batch=opts.batch_size,
                          head=head, precision=opts.precision, inductor=opts.inductor)
