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
    if "tensorrt" not in backends:
        refuse([f for f in job.given("trt", "trt_run") if f != "--tf32"], "without a tensorrt row (--backend tensorrt)")
    if "inductor" not in backends:
        refuse(job.given("inductor"), "without an inductor row (--backend inductor)")
    if job.speed.cuda_graph and not set(backends) & set(CUDA_GRAPH_BACKENDS):
        refuse(["--cuda-graph"], f"without a {'/'.join(CUDA_GRAPH_BACKENDS)} row")


def run_config(job: JobOptions, backend: str, precision: str, dataset, num_samples: int, exclude=frozenset(),
               reason=None, artifact=None):
    import dataclasses

    from valsuite.backends import device_for
    from valsuite.evaluate.runner import RunConfig

    options = job.backend_options(backend, dataset)
    if artifact is not None:  # onnxruntime:file=PATH / tensorrt:engine=PATH: the row runs that file
        options = dataclasses.replace(options, artifact=artifact)
    return RunConfig(network=job.model.network, backend=backend, precision=precision,
                     device=device_for(backend, job.run.device), batch_size=job.run.batch_size, weights=job.model.weights,
                     random_weights=job.model.random_weights, dataset=dataset, num_samples=num_samples,
                     seed=job.data.seed, workers=job.run.workers, warmup_batches=job.run.warmup,
                     weights_dir=job.model.weights_dir, progress=not job.run.no_progress, inflight=job.run.inflight,
                     backend_options=options, exclude=exclude, exclude_reason=reason,
                     cache=job.speed.cache, decode=job.speed.decode)


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
    from valsuite.backends import backend_available
    from valsuite.evaluate.runner import calibration_exclusions

    wanted = rows(job)
    refuse_unused(job, [b for b, _, _ in wanted])
    dataset = job.data.folder()
    num_samples = job.data.samples()
    exclude, reason = calibration_exclusions(job.backend_options("torch", dataset).precision, dataset,
                                             [p for b, p, a in wanted if a is None])
    configs, skipped = [], []
    for backend, precision, artifact in wanted:
        cfg = run_config(job, backend, precision, dataset, num_samples, exclude, reason, artifact)
        ok, why = backend_available(backend, cfg.backend_options)
        if ok:
            configs.append(cfg)
        else:  # listed as skipped with the reason; the other rows still run
            print(f"skipped {backend}:{precision}: {why}")
            skipped.append({"kind": "skipped", "backend": backend, "precision": precision, "device": cfg.device,
                            "reason": why})
    records = run_configs(configs, job, skip_unsupported=False, skipped=skipped)
    if not records:
        raise ValsuiteError("no row could run on this machine", hint="see the skipped rows above")
    return 0


def default_job(job: JobOptions) -> int:
    """Timing on synthetic input with every backend this machine can run (works offline)."""
    from valsuite.backends import backend_available, backend_names

    refuse(job.given("parity", "report", "sweep"), "without --compare/--report/--sweep")
    refuse([f for f in job.run.given() if f in ("--backend", "-trt", "--precision")],
           "in the default job (it runs every backend at fp32); add -v --synthetic to choose")
    configs, skipped = [], []
    for name in backend_names():
        cfg = run_config(job, name, "fp32", None, job.data.samples())
        ok, reason = backend_available(name, cfg.backend_options)
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


def run_configs(configs, job: JobOptions, skip_unsupported: bool, skipped: list[dict] = ()) -> list[dict]:
    """Run each configuration, store each record, print one seed-style table."""
    from valsuite.evaluate.runner import resolve_spec, run_one
    from valsuite.results.record import write_record
    from valsuite.results.tables import seed_table, table_title

    records = []
    spec = resolve_spec(configs[0]) if configs else None
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
        path = write_record(record, results_dir=job.run.results_dir)
        log.info("record written: %s", path)
        if out is not None:
            target = out if len(configs) == 1 else out.with_name(f"{out.stem}_{cfg.backend}_{cfg.precision}{out.suffix}")
            write_record(record, target)
            log.info("record written: %s", target)
        records.append(record)
    if records:
        print()
        print(table_title(records))
        print()
        print(seed_table(records + list(skipped)))
    return records
