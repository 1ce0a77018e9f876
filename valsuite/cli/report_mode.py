"""main.py --report and --sweep: rendering run records, and running resumable sweeps."""

from __future__ import annotations

import dataclasses

from pathlib import Path

from valsuite.options.base import refuse
from valsuite.outputs import check_writable
from valsuite.options.job import JobOptions
from valsuite.options.run import split_list


def run_report(job: JobOptions) -> int:
    from valsuite.results.report import report

    refuse([f for f in job.given() if f not in ("--results-dir", "--no-progress") + _flags(job.report)],
           "with --report")
    rep = job.report
    check_writable(report_locations(rep))
    report(rep.results or job.run.results_dir, rep.readme, rep.csv, None if rep.no_plots else rep.plots)
    return 0


def report_locations(rep) -> list:
    """What --report writes (README only when named, CSV, plots): checked before rendering."""
    from valsuite.outputs import OutputLocation

    locations = []
    if rep.readme not in (None, "-"):
        locations.append(OutputLocation("--readme", Path(rep.readme), "file"))
    if rep.csv is not None:
        locations.append(OutputLocation("--csv", rep.csv, "file"))
    if not rep.no_plots:
        locations.append(OutputLocation("--plots", rep.plots))
    return locations


def _flags(group) -> tuple[str, ...]:
    return tuple(f.metadata["flags"][0] for f in group.option_fields())


def run_sweep(job: JobOptions) -> int:
    from valsuite.sweep import Settings, sweep

    refuse(job.given("parity"), "with --sweep")
    refuse(["--export-times"] if job.measure.export_times else [],
           "with --sweep (every child would write the same file; each record has its own statistics)")
    refuse([f for f in job.given("report") if f != "--results"], "with --sweep")
    refuse([f for f in job.model.given() if f in ("--network", "--input_size")] +
           [f for f in job.run.given() if f in ("--backend", "-trt", "--precision", "--batch_size", "--output-json")],
           "with --sweep (use --networks, --backends, --precisions, --batch_sizes, --input_sizes)")
    dataset = job.data.folder()
    results_dir = job.report.results or job.run.results_dir
    from valsuite.outputs import OutputLocation

    check_writable([OutputLocation("--results-dir", results_dir), OutputLocation("--weights-dir", job.model.weights_dir)])
    settings = Settings(job=dataclasses.replace(job, run=dataclasses.replace(job.run, results_dir=results_dir)),
                        dataset=dataset, timeout_s=job.sweep.sweep_timeout, force=job.sweep.force)
    sw = job.sweep
    outcomes = sweep(split_list(sw.networks), split_list(sw.backends), split_list(sw.precisions),
                     sw.batch_size_list(), job.run.device, settings, shard=sw.shard_spec(), gpus=sw.gpu_list(),
                     input_sizes=sw.input_size_list())
    return 1 if any(o.failed for o in outcomes) else 0
