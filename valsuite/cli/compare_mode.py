"""`main.py --compare`: parity of every engine/precision against torch FP32 (see docs/parity.md).

Reads the model, data, run, precision, TensorRT, speed (--cuda-graph), inductor and parity groups.
"""

from __future__ import annotations

from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.options.base import refuse
from valsuite.options.job import JobOptions
from valsuite.options.parity import DEFAULT_SAMPLES


def _inputs(job: JobOptions) -> tuple[Path | None, int]:
    """(image folder or None for random inputs, number of random inputs)."""
    if not job.parity.wants_images:
        if job.data.dataset is not None and job.parity.inputs is None:
            raise ValsuiteError("--dataset given without --val_dataset: say which inputs to compare on",
                                hint="--val_dataset for the images, or --inputs random")
        return None, job.data.samples(DEFAULT_SAMPLES)
    return job.data.folder(), DEFAULT_SAMPLES


def refuse_unused(job: JobOptions) -> None:
    refuse(job.given("report", "sweep", "measure", "segmentation"), "with --compare")
    refuse(["--input_size"] if job.model.input_size else [], "with --compare (parity runs at the weights' native size)")
    refuse(job.given("heads"), "with --compare: parity compares the logits head only (topk and argmax return "
                               "class indices, which have no element-wise error; their Prec@1/Prec@5 rows come "
                               "from -v --head)")
    refuse([f for f in job.run.given() if f in ("--backend", "-trt", "--precision", "--inflight", "--warmup")],
           "with --compare (name backends and precisions with --candidates)")
    refuse([f for f in job.speed.given() if f != "--cuda-graph"], "with --compare")
    refuse([f for f in job.given("data", "precision") if f in ("--class-list", "--calib-exclude")], "with --compare")
    if job.data.synthetic:
        refuse(["--synthetic"], "with --compare (random inputs are its default)")


def config_from_options(job: JobOptions):
    from valsuite.parity import CompareConfig, default_candidates, parse_candidates, parse_fail_under
    from valsuite.evaluate.runner import calibration_exclusions

    refuse_unused(job)
    device = job.run.device   # None: each backend's preferred device here
    dataset, num_samples = _inputs(job)
    par = job.parity
    cfg = CompareConfig(
        network=job.model.network, weights=job.model.weights, random_weights=job.model.random_weights,
        device=device, batch_size=job.run.batch_size, rtol=par.rtol, atol=par.atol,
        candidates=parse_candidates(par.candidates, device) if par.candidates else None,
        dataset=dataset, num_samples=num_samples, seed=job.data.seed, workers=job.run.workers,
        weights_dir=job.model.weights_dir, fail_under=parse_fail_under(par.fail_under), localize=par.localize,
        localize_samples=par.localize_samples, localize_top=par.localize_top,
        localize_bad_pct=par.localize_bad_pct, progress=not job.run.no_progress)
    # with random inputs, --dataset is only the default calibration source of int8 candidates
    calib_source = dataset or job.data.dataset
    if cfg.candidates is None:
        from valsuite.backends import backend_names

        options = {b: job.backend_options(b, calib_source) for b in backend_names()}
        cfg.candidates, cfg.skipped = default_candidates(device, options)
        for item in cfg.skipped:
            print(f"skipped candidate {item['candidate']}: {item['reason']}")
    if calib_source is None and job.precision.calib_dataset is None:
        cfg.candidates = int8_needs_images(cfg.candidates, cfg.skipped)
    calibrates = any(c.precision == "int8" and c.artifact is None for c in cfg.candidates)
    if dataset is None and job.data.dataset is not None and not calibrates:
        refuse(["--dataset"], "with --inputs random and no int8 candidate (it only calibrates)")
    cfg.candidate_options = {c.name: candidate_options(job, c, calib_source) for c in cfg.candidates}
    # calibration images of an int8 candidate are never evaluated, by any candidate
    precision = job.backend_options("torch", dataset).precision
    # (a file from another tool was calibrated elsewhere: it excludes nothing)
    cfg.exclude, cfg.exclude_reason = calibration_exclusions(precision, dataset,
                                                             [c.precision for c in cfg.candidates if c.artifact is None])
    return cfg


def candidate_options(job: JobOptions, cand, calib_source):
    """A candidate's typed backend options; an artifact candidate (file=/engine=) runs its own file."""
    import dataclasses

    options = job.backend_options(cand.backend, calib_source)
    return dataclasses.replace(options, artifact=cand.artifact) if cand.artifact is not None else options


def int8_needs_images(candidates: list, skipped: list[dict]) -> list:
    """Without any image folder, int8 candidates cannot calibrate: said before any candidate is
    built (an explicitly named one is an error, a default one a skip with its reason). FP16 needs
    no images: its range check runs on seeded synthetic images."""
    reason = "int8 calibration needs images (pass --calib-dataset DIR or --dataset DIR)"
    calibrated_here = [c for c in candidates if c.precision == "int8" and c.artifact is None]  # not a given file
    for cand in calibrated_here:
        if cand.explicit:
            raise ValsuiteError(f"candidate {cand.name}: {reason}")
        skipped.append({"candidate": cand.name, "reason": reason})
        print(f"skipped candidate {cand.name}: {reason}")
    return [c for c in candidates if c not in calibrated_here]


def run_compare_mode(job: JobOptions) -> int:
    from valsuite.parity import finish, render_tables, require_measurable, run_compare, write_outputs

    cfg = config_from_options(job)
    require_measurable(cfg.fail_under, labelled=cfg.dataset is not None)
    record, changes = run_compare(cfg)
    code = finish(record, cfg.fail_under)
    paths = write_outputs(record, changes, job.run.output_json, job.run.results_dir)
    print()
    print(render_tables(record))
    print()
    for path in paths:
        print(f"written: {path}")
    for failure in record["fail_under"]["failures"]:
        print(f"FAIL under threshold: {failure}")
    return code
