"""`main.py --segmentation`: the output-head study of a segmentation network (docs/heads.md).

Reads the model, data, run, precision, inductor and segmentation groups: every input size x head
x backend x precision becomes one record (stored as it finishes), then one table per backend in
the seed study's layout.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from valsuite.errors import ValsuiteError
from valsuite.options.base import refuse
from valsuite.options.heads import SEGMENTATION_BATCH, SEGMENTATION_IMAGES
from valsuite.options.job import JobOptions

log = logging.getLogger("valsuite")


def refuse_unused(job: JobOptions) -> None:
    refuse([f for f in job.given("sweep") if f != "--input_sizes"], "with --segmentation")
    refuse(job.given("parity", "report", "heads", "trt", "trt_run", "speed"),
           "with --segmentation (its heads are --seg-heads; TensorRT runs no segmentation head yet)")
    refuse([f for f in job.run.given() if f in ("--inflight", "--workers", "--output-json")], "with --segmentation")
    if job.data.dataset is not None and not job.data.dataset.is_dir():
        raise ValsuiteError(f"image folder not found: {job.data.dataset}")


def study_options(job: JobOptions):
    """The typed options of the study, from the job's groups (batch 1 and 4 images unless given)."""
    from valsuite.models import is_segmentation
    from valsuite.segmentation.study import StudyOptions

    if not is_segmentation(job.model.network):
        raise ValsuiteError(f"--segmentation needs a segmentation network, not {job.model.network}",
                            hint="lraspp_mobilenet_v3_large, deeplabv3_mobilenet_v3_large or fcn_resnet50")
    given = job.run.given()
    precision = job.precision
    if job.data.dataset is not None and precision.calib_dataset is None:
        precision = replace(precision, eval_dataset=job.data.dataset)   # the FP16 step's ranges
    seg = job.segmentation
    return StudyOptions(
        network=job.model.network, weights=job.model.weights, random_weights=job.model.random_weights,
        sizes=study_sizes(job), heads=seg.heads(), backends=tuple(job.run.backends()), precisions=tuple(job.run.precisions()),
        device=job.run.device, batch_size=job.run.batch_size if "--batch_size" in given else SEGMENTATION_BATCH,
        num_images=job.data.samples(SEGMENTATION_IMAGES), warmup=2 if job.run.warmup is None else job.run.warmup,
        seed=job.data.seed, fuse_scale=seg.fuse_scale, dataset=job.data.dataset, weights_dir=job.model.weights_dir,
        precision=precision, inductor=job.inductor)


def study_sizes(job: JobOptions) -> tuple[tuple[int, int], ...]:
    """--input_sizes (HxW list), else the seed study's five sizes."""
    from valsuite.heads.kinds import check_size
    from valsuite.segmentation.study import STUDY_SIZES

    given = [size for size in job.sweep.input_size_list() if size is not None]
    return tuple(check_size(size) for size in given) or STUDY_SIZES


def run_segmentation(job: JobOptions) -> int:
    from valsuite.outputs import OutputLocation, check_writable
    from valsuite.results.record import store_record
    from valsuite.results.render import machine_of
    from valsuite.results.segmentation import render_segmentation, segmentation_groups
    from valsuite.segmentation.study import run_study

    refuse_unused(job)
    opts = study_options(job)
    # before the first image: a read-only folder must not cost a whole study
    check_writable([OutputLocation("--results-dir", job.run.results_dir),
                    OutputLocation("--weights-dir", job.model.weights_dir)])

    def store(record: dict) -> None:
        record["options_key"] = job.options_key()
        path = store_record(record, results_dir=job.run.results_dir)   # a late failure falls back, said so
        log.info("record written: %s", path)

    outcome = run_study(opts, store)
    for name, why in outcome.skipped:
        print(f"skipped {name}: {why}")
    for group in segmentation_groups(outcome.records, machine_of):
        print()
        print(render_segmentation(group))
    measured = [r for r in outcome.records if r.get("kind") != "failure"]
    return 0 if measured else 2
