"""main.py -v (validation rows) and the default offline job: RunConfigs from typed options, one table."""

from __future__ import annotations

import itertools
import logging

from valsuite.errors import ValsuiteError
from valsuite.options.base import refuse
from valsuite.options.job import JobOptions
from valsuite.options.speed import CUDA_GRAPH_BACKENDS

log = logging.getLogger("valsuite")


def refuse_unused(job: JobOptions, backends: list[str]) -> None:
    """Options that no row of this run reads are errors, never silently ignored."""
    refuse([f for f in job.given("parity") if f != "--candidates"] + job.given("report", "sweep"),
           "without --compare/--report/--sweep")
    refuse(job.given("segmentation"), "without --segmentation")
    refuse_segmentation_network(job)
    if "tensorrt" not in backends:
        refuse([f for f in job.given("trt", "trt_run") if f != "--tf32"], "without a tensorrt row (--backend tensorrt)")
    if "inductor" not in backends:
        refuse(job.given("inductor"), "without an inductor row (--backend inductor)")
    if job.speed.cuda_graph and not set(backends) & set(CUDA_GRAPH_BACKENDS):
        refuse(["--cuda-graph"], f"without a {'/'.join(CUDA_GRAPH_BACKENDS)} row")


def refuse_segmentation_network(job: JobOptions) -> None:
    """A segmentation network has no Prec@1: its study is its own mode."""
    from valsuite.models import is_segmentation

    if is_segmentation(job.model.network):
        raise ValsuiteError(f"{job.model.network} is a segmentation network: validation rows are for classifiers",
                            hint="run its output-head study with --segmentation (docs/heads.md)")


def output_locations(job: JobOptions, backends: list[str]) -> list:
    """Every place this run writes: checked before the first image is read, so that a read-only
    folder or an --output-json that is a folder never costs a whole evaluation."""
    from valsuite.outputs import OutputLocation

    locations = [OutputLocation("--results-dir", job.run.results_dir)]
    if set(backends) - {"torch"}:     # ONNX files, engines, packages
        locations.append(OutputLocation("--weights-dir", job.model.weights_dir))
    if job.run.output_json is not None:
        locations.append(OutputLocation("--output-json", job.run.output_json, "file"))
    if job.speed.cache is not None:
        locations.append(OutputLocation("--cache", job.speed.cache))
    return locations


def runnable_configs(configs: list, spec) -> tuple[list, list[dict]]:
    """Check every backend x precision row before the first one runs: the unsupported ones are
    listed as skipped with the reason (also as rows of the table), the rest run (none left: one
    error listing why). A tensorrt row on a machine its flavour cannot run is one of them."""
    from valsuite.backends.combos import Combination, combination_reason, runnable, skipped_lines
    from valsuite.evaluate.runner import backend_options

    combos = [Combination(c.backend, c.precision, c.device,
                          combination_reason(spec, c.backend, c.precision, c.device, backend_options(c)))
              for c in configs]
    runnable(combos)   # raises when none can run
    for line in skipped_lines(combos):
        print(line, flush=True)
    skipped = [{"kind": "skipped", "backend": c.backend, "precision": c.precision, "device": c.device,
                "reason": c.reason} for c in combos if c.reason is not None]
    return [cfg for cfg, combo in zip(configs, combos) if combo.reason is None], skipped


def run_config(job: JobOptions, backend: str, precision: str, dataset, num_samples: int, exclude=frozenset(),
               reason=None, several: bool = False, artifact=None):
    import dataclasses

    from valsuite.backends import device_for
    from valsuite.evaluate.runner import RunConfig

    measure = job.measure
    options = job.backend_options(backend, dataset)
    if artifact is not None:  # onnxruntime:file=PATH / tensorrt:engine=PATH: the row runs that file
        options = dataclasses.replace(options, artifact=artifact)
    return RunConfig(network=job.model.network, backend=backend, precision=precision,
                     device=device_for(backend, job.run.device), batch_size=job.run.batch_size, weights=job.model.weights,
                     random_weights=job.model.random_weights, dataset=dataset, num_samples=num_samples,
                     seed=job.data.seed, workers=job.run.workers, warmup_batches=job.run.warmup,
                     weights_dir=job.model.weights_dir, progress=not job.run.no_progress, inflight=job.run.inflight,
                     backend_options=options, exclude=exclude, exclude_reason=reason,
                     cache=job.speed.cache, decode=job.speed.decode, input_size=job.model.input_hw(),
                     timing=measure.timing(f"{backend}_{precision}" if several else ""),
                     profile_layers=measure.profile_layers, monitor=not measure.no_monitor,
                     monitor_interval_s=measure.monitor_interval_ms / 1e3, class_list=job.data.class_list)


def rows(job: JobOptions) -> list[tuple]:
    """(backend, precision, artifact) per row: --backend x --precision, or --candidates (which may name
    other tools' files: onnxruntime:file=PATH, tensorrt:engine=PATH)."""
    from valsuite.backends import ALIASES

    if not job.parity.candidates:
        return [(ALIASES.get(b, b), p, None) for b, p in itertools.product(job.run.backends(), job.run.precisions())]
    from valsuite.parity import parse_candidates

    refuse([f for f in job.run.given() if f in ("--backend", "-trt", "--precision")],
           "with --candidates (it names the rows)")
    return [(c.backend, c.precision, c.artifact) for c in parse_candidates(job.parity.candidates, job.run.device)]


def validate(job: JobOptions) -> int:
    from valsuite.evaluate.runner import calibration_exclusions

    wanted = rows(job)
    backends = list(dict.fromkeys(b for b, _, _ in wanted))
    refuse_unused(job, backends)
    dataset = job.data.folder()
    from valsuite.outputs import check_writable

    check_writable(output_locations(job, backends))
    if job.precision.calib_exclude and dataset is None:
        refuse(["--calib-exclude"], "without a dataset folder")
    num_samples = job.data.samples()
    precisions = [p for _, p, artifact in wanted if artifact is None]  # another tool's file calibrates nothing here
    excluding = precisions + ["int8"] if job.precision.calib_exclude else precisions
    exclude, reason = calibration_exclusions(job.backend_options("torch", dataset).precision, dataset, excluding,
                                             job.data.class_list)
    configs = [run_config(job, b, p, dataset, num_samples, exclude, reason, several=len(wanted) > 1, artifact=a)
               for b, p, a in wanted]
    records = run_configs(configs, job, skip_unsupported=False)
    return 0 if records else 2


def default_job(job: JobOptions) -> int:
    """Timing on synthetic input with every backend this machine can run (works offline)."""
    from valsuite.backends import backend_available, backend_names

    refuse(job.given("parity", "report", "sweep", "segmentation"), "without --compare/--report/--sweep/--segmentation")
    refuse_segmentation_network(job)
    refuse([f for f in job.run.given() if f in ("--backend", "-trt", "--precision")],
           "in the default job (it runs every backend at fp32); add -v --synthetic to choose")
    refuse([f for f in job.given("data", "precision") if f in ("--class-list", "--calib-exclude")],
           "in the default job (synthetic input, no dataset)")
    from valsuite.outputs import check_writable

    check_writable(output_locations(job, backend_names()))
    configs, skipped = [], []
    for name in backend_names():
        cfg = run_config(job, name, "fp32", None, job.data.samples(), several=True)
        ok, reason = backend_available(name, cfg.backend_options)   # the TensorRT flavour decides, e.g.
        if not ok:
            print(f"skipped backend {name}: {reason}")
            skipped.append({"kind": "skipped", "backend": name, "precision": "fp32", "device": cfg.device,
                            "reason": reason})
            continue
        configs.append(cfg)
    run_configs(configs, job, skip_unsupported=True, skipped=skipped)
    print("\nNo accuracy: this default job times seeded synthetic images. For Prec@1/Prec@5 pass an "
          "ImageNet val folder: python main.py -v --dataset DIR (DIR/<wnid>/*.JPEG; "
          "python format_dataset.py arranges the official files into that layout).")
    return 0


def run_configs(configs, job: JobOptions, skip_unsupported: bool, skipped: list[dict] | None = None) -> list[dict]:
    """Run each configuration, store each record, print one seed-style table (skipped rows listed in it)."""
    from valsuite.evaluate.runner import resolve_spec, run_one
    from valsuite.results.record import store_record
    from valsuite.results.tables import seed_table, table_title

    records = []
    spec = resolve_spec(configs[0]) if configs else None
    skipped = list(skipped or [])
    if not skip_unsupported and configs:
        configs, refused = runnable_configs(configs, spec)
        skipped += refused
    out = job.run.output_json
    for cfg in configs:
        try:
            outcome = run_one(cfg, spec)
        except ValsuiteError as exc:
            if not skip_unsupported:
                raise
            print(f"skipped {cfg.backend}:{cfg.precision}: {exc}")
            continue
        record = outcome.record
        record["options_key"] = job.options_key()   # what a sweep matches records on
        # store_record: a location that fails at the end gets the record written elsewhere, said so
        path = store_record(record, results_dir=job.run.results_dir)
        log.info("record written: %s", path)
        if out is not None:
            target = out if len(configs) == 1 else out.with_name(f"{out.stem}_{cfg.backend}_{cfg.precision}{out.suffix}")
            log.info("record written: %s", store_record(record, target))
        records.append(record)
    if records:
        print()
        print(table_title(records))
        print()
        print(seed_table(records + skipped))
        for note in sorted({r["prec5_note"] for r in records if r.get("prec5_note")}):
            print(f"\nPrec@5 of the argmax head: {note}.")
    return records
