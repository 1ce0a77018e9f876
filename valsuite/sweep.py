"""Resumable sweeps: every configuration in its own `python -m valsuite -v` subprocess, one record each.

A crash or out-of-memory kill loses one row, not the sweep: it becomes a "failure" record with
its message. A configuration whose record already exists (same network, weights, backend,
precision, batch size, device, image set, machine and the hash of every other option that shapes
a measurement, e.g. --tf32, --cache, --inflight) is skipped unless forced, so an
interrupted sweep picks up where it stopped. Failures are not "done": a rerun retries them.
Combinations this machine cannot run are listed with the reason, never attempted.
"""

from __future__ import annotations

import dataclasses
import itertools
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from valsuite.errors import ValsuiteError
from valsuite.options.job import JobOptions
from valsuite.options.parity import ParityOptions
from valsuite.options.report import ReportOptions
from valsuite.options.sweep import SweepOptions
from valsuite.results.record import load_records, new_record, read_record, write_record
from valsuite.results.tables import MEASURED_KINDS

TAIL_LINES = 20

# runner(command, timeout_s, environment or None) -> (exit code, captured stderr); a negative code is a signal
Runner = Callable[[list[str], "float | None", "dict | None"], "tuple[int, str]"]


@dataclass(frozen=True)
class Config:
    """One row of the sweep: what is run and what its record will say."""

    network: str          # canonical name, as records store it
    weights: str          # weights id, as records store it
    backend: str
    precision: str
    batch_size: int
    device: str
    input_size: str = ""  # "HxW" off the native size, "" at it (as input_size_tag reads a record)

    @property
    def name(self) -> str:
        size = f" {self.input_size}" if self.input_size else ""
        return f"{self.network}{size} {self.backend} {self.precision} b{self.batch_size} ({self.device})"


def package_entry() -> list[str]:
    return [sys.executable, "-m", "valsuite"]


@dataclass
class Settings:
    """What every configuration shares: every option group (each child gets them all via to_argv)."""

    job: JobOptions = field(default_factory=JobOptions)
    dataset: Path | None = None       # None: seeded synthetic input (timing only)
    force: bool = False
    timeout_s: float | None = None
    entry: list[str] = field(default_factory=package_entry)   # how a child is started

    @property
    def results_dir(self) -> Path:
        return self.job.run.results_dir

    @property
    def num_samples(self) -> int:
        return self.job.data.samples()


@dataclass
class Plan:
    run: list[Config] = field(default_factory=list)
    done: list[Config] = field(default_factory=list)           # a matching record exists
    unavailable: list[tuple[str, str]] = field(default_factory=list)  # (configuration, reason)


def dataset_identity(settings: Settings) -> tuple[str, dict]:
    """(key that records are matched on, facts for failure records)."""
    if settings.dataset is None:
        facts = {"path": None, "synthetic": True, "num_images": settings.num_samples, "seed": settings.job.data.seed}
        return synthetic_key(facts), facts
    from valsuite.data.manifest import scan_dataset

    facts = scan_dataset(settings.dataset, class_list=settings.job.data.class_list).describe()
    return f"sha256:{facts['file_list_sha256']}", facts


def synthetic_key(facts: dict) -> str:
    return f"synthetic:{facts.get('num_images')}:{facts.get('seed')}"


def record_dataset_key(record: dict) -> str | None:
    """The image-set key of a record: the sweep's own note, else the file-list hash or synthetic seed."""
    noted = (record.get("sweep") or {}).get("dataset_key")
    if noted:
        return noted
    data = record.get("dataset") or {}
    if data.get("file_list_sha256"):
        return f"sha256:{data['file_list_sha256']}"
    if data.get("synthetic") or record.get("input") == "synthetic":
        return synthetic_key(data)
    return None


def record_key(record: dict) -> tuple:
    from valsuite.results.render import input_size_tag

    return (record.get("network"), record.get("weights"), record.get("backend"), record.get("precision"),
            record.get("batch_size"), record.get("device"), record_dataset_key(record),
            (record.get("environment") or {}).get("machine"), record.get("options_key"), input_size_tag(record))


def config_key(cfg: Config, dataset_key: str, machine: str, options_key: str) -> tuple:
    return (cfg.network, cfg.weights, cfg.backend, cfg.precision, cfg.batch_size, cfg.device, dataset_key, machine,
            options_key, cfg.input_size)


def size_tag(spec, size: tuple[int, int] | None) -> str:
    """'' at the network's native size (also when given explicitly), else 'HxW'."""
    if size is None or spec.at_input_size(*size).native_size:
        return ""
    return f"{size[0]}x{size[1]}"


def unavailable_reason(spec, backend: str, precision: str, device: str, options=None) -> str | None:
    """Why this machine cannot run a combination (None when it can): the same check main.py -v
    makes before its first row (valsuite.backends.combos), with the row's options (e.g. the
    TensorRT flavour); an unknown backend is listed too."""
    from valsuite.backends.combos import combination_reason

    try:
        return combination_reason(spec, backend, precision, device, options)
    except ValsuiteError as exc:
        return str(exc)


def backend_device(backend: str, device: str | None) -> str:
    """--device when given, else where the backend runs by default here (as main.py -v decides)."""
    from valsuite.backends import device_for

    try:
        return device_for(backend, device)
    except ValsuiteError:
        return "cpu"  # an unknown or unbuilt backend: unavailable_reason says why


def make_plan(networks: list[str], backends: list[str], precisions: list[str], batch_sizes: list[int],
              device: str | None, settings: Settings, dataset_key: str, machine: str,
              input_sizes: list[tuple[int, int] | None] = (None,)) -> Plan:
    """Split the cross product into configurations to run, already done, and impossible here."""
    from valsuite.backends import ALIASES
    from valsuite.models import resolve

    from valsuite.backends.base import BackendOptions

    existing = {record_key(r) for r in load_records(settings.results_dir) if r.get("kind") in MEASURED_KINDS}
    # availability depends on the TensorRT flavour the children will use, not the auto default
    row_options = BackendOptions(trt=settings.job.trt)
    plan = Plan()
    for network in networks:
        spec = resolve(network, settings.job.model.weights, settings.job.model.random_weights)
        for backend, precision in itertools.product(backends, precisions):
            backend = ALIASES.get(backend, backend)
            run_on = backend_device(backend, device)
            reason = unavailable_reason(spec, backend, precision, run_on, row_options)
            if reason:
                plan.unavailable.append((f"{spec.network} {backend} {precision} ({run_on})", reason))
                continue
            for batch, size in itertools.product(batch_sizes, dict.fromkeys(size_tag(spec, s) for s in input_sizes)):
                cfg = Config(spec.network, spec.weights_id, backend, precision, batch, run_on, size)
                key = config_key(cfg, dataset_key, machine, settings.job.options_key())
                done = not settings.force and key in existing
                (plan.done if done else plan.run).append(cfg)
    return plan


def child_job(cfg: Config, settings: Settings, output_json: Path, scratch: Path) -> JobOptions:
    """Every option group of the sweep, with this configuration's network/backend/precision/batch/device."""
    job = settings.job
    return dataclasses.replace(
        job, model=dataclasses.replace(job.model, network=cfg.network, input_size=cfg.input_size or None),
        data=dataclasses.replace(job.data, dataset=settings.dataset, synthetic=settings.dataset is None),
        run=dataclasses.replace(job.run, backend=cfg.backend, trt=False, precision=cfg.precision,
                                batch_size=cfg.batch_size, device=cfg.device, no_progress=True,
                                results_dir=scratch, output_json=output_json),
        parity=ParityOptions(), report=ReportOptions(), sweep=SweepOptions())


def command(cfg: Config, settings: Settings, output_json: Path, scratch: Path) -> list[str]:
    """The `-v` command line of one configuration (records go to a scratch folder first)."""
    return [*settings.entry, "-v", *child_job(cfg, settings, output_json, scratch).to_argv()]


def subprocess_runner(cmd: list[str], timeout_s: float | None, env: dict | None = None) -> tuple[int, str]:
    """Run a child, its stdout passed through, its stderr captured for the failure message."""
    try:
        done = subprocess.run(cmd, stdout=None, stderr=subprocess.PIPE, text=True, errors="replace",
                              timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired as exc:
        tail = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return 124, tail + f"\ntimed out after {timeout_s:g} s"
    if done.stderr:
        sys.stderr.write(user_lines(done.stderr[-4000:]))
    return done.returncode, done.stderr or ""


SCRATCH_PREFIX = "valsuite-sweep-"


def user_lines(text: str) -> str:
    """A child's stderr without the lines about its scratch folder (the record moves on anyway)."""
    kept = [line for line in text.splitlines(keepends=True) if SCRATCH_PREFIX not in line]
    return "".join(kept)


def sweep_job(job: JobOptions, precisions: list[str], dataset: Path | None) -> JobOptions:
    """Every child of a sweep with an int8 row leaves the calibration images out (--calib-exclude),
    so every row of the sweep is measured on the same images and lands in one table."""
    if dataset is None or "int8" not in precisions:
        return job
    return dataclasses.replace(job, precision=dataclasses.replace(job.precision, calib_exclude=True))


def failure_message(returncode: int, stderr: str) -> str:
    """One line: the signal that killed the child, or the last line it wrote to stderr."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else "no message on stderr"
    return f"exit code {returncode}: {last}"


@dataclass
class Outcome:
    config: Config
    record: dict
    path: Path

    @property
    def failed(self) -> bool:
        return self.record.get("kind") == "failure"


def run_config(cfg: Config, settings: Settings, dataset_key: str, dataset_facts: dict, env: dict,
               runner: Runner = subprocess_runner, child_env: dict | None = None, gpu: str | None = None) -> Outcome:
    """Run one configuration in a child process and store its record, or a failure record.

    child_env/gpu: with --gpus, the child's environment pins it to one GPU; the record notes which."""
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as scratch:
        output = Path(scratch) / "record.json"
        cmd = command(cfg, settings, output, Path(scratch) / "results")
        returncode, stderr = runner(cmd, settings.timeout_s, child_env)
        record, problem = None, None
        if returncode == 0:
            try:
                record = read_record(output)
            except ValsuiteError as exc:
                problem = f"finished without a usable record: {exc}"
        else:
            problem = failure_message(returncode, stderr)
    if record is None:
        size = [int(v) for v in cfg.input_size.split("x")] if cfg.input_size else None
        record = new_record("failure", network=cfg.network, weights=cfg.weights, backend=cfg.backend,
                            precision=cfg.precision, device=cfg.device, batch_size=cfg.batch_size,
                            input_size=size, native_input_size=not cfg.input_size,
                            dataset=dataset_facts, environment=env, error=problem, returncode=returncode,
                            stderr_tail="\n".join(stderr.splitlines()[-TAIL_LINES:]))
    record.setdefault("options_key", settings.job.options_key())
    record["sweep"] = {"dataset_key": dataset_key, "command": cmd[len(settings.entry):]}
    if gpu is not None:
        record["sweep"]["gpu"] = gpu               # the physical GPU of a --gpus run (the child saw cuda:0)
    return Outcome(cfg, record, write_record(record, results_dir=settings.results_dir))


def config_sort_key(cfg: Config) -> str:
    """The canonical key --shard sorts on: the same on every machine that plans the same sweep."""
    return f"{cfg.network}|{cfg.weights}|{cfg.backend}|{cfg.precision}|{cfg.batch_size:08d}|{cfg.device}"


def shard_plan(plan: Plan, shard) -> Plan:
    """This machine's slice. Membership is computed over every runnable configuration, done or not,
    so a slice never depends on which records this machine happens to have."""
    from valsuite.sharding import shard_items

    mine = set(shard_items(plan.run + plan.done, shard, key=config_sort_key))
    return Plan([c for c in plan.run if c in mine], [c for c in plan.done if c in mine], plan.unavailable)


def print_plan(plan: Plan) -> None:
    for name, reason in plan.unavailable:
        print(f"skipped {name}: {reason}")
    for cfg in plan.done:
        print(f"skipped {cfg.name}: a matching record exists (use --force to rerun)")
    print(f"sweep: {len(plan.run)} to run, {len(plan.done)} already recorded, "
          f"{len(plan.unavailable)} combinations not runnable here")


def sweep(networks: list[str], backends: list[str], precisions: list[str], batch_sizes: list[int],
          device: str | None, settings: Settings, runner: Runner = subprocess_runner, shard=None,
          gpus: list[str] | None = None,
          input_sizes: list[tuple[int, int] | None] = (None,)) -> list[Outcome]:
    """Plan, then run every remaining configuration; returns what ran (failures included).

    device None lets each backend pick its own (the GPU where it can use one), like main.py -v.
    shard: run only this slice (sharding.Shard). gpus: physical GPU ids; CUDA configurations then
    run in parallel, one child per GPU, the others one at a time after them.
    """
    from valsuite.results.environment import environment

    if not (networks and backends and precisions and batch_sizes):
        raise ValsuiteError("--sweep needs --networks, --backends, --precisions and --batch_sizes")
    if any(b < 1 for b in batch_sizes):
        raise ValsuiteError(f"batch sizes must be at least 1, got {batch_sizes}")
    env = environment()
    settings = dataclasses.replace(settings, job=sweep_job(settings.job, precisions, settings.dataset))
    dataset_key, dataset_facts = dataset_identity(settings)
    plan = make_plan(networks, backends, precisions, batch_sizes, device, settings, dataset_key, env["machine"],
                     input_sizes)
    if shard is not None:
        plan = shard_plan(plan, shard)
        print(f"shard {shard}: {len(plan.run) + len(plan.done)} configurations of this sweep are this machine's")
    print_plan(plan)
    progress = _Progress(len(plan.run))

    def one(cfg: Config, child_env: dict | None = None, gpu: str | None = None) -> Outcome:
        progress.started(cfg, gpu)                         # no silence while a child runs
        start = time.perf_counter()
        outcome = run_config(cfg, settings, dataset_key, dataset_facts, env, runner, child_env, gpu)
        progress.report(cfg, outcome, time.perf_counter() - start, gpu)
        return outcome

    outcomes = _run_all(plan.run, one, gpus)
    failed = [o for o in outcomes if o.failed]
    print(f"sweep done: {len(outcomes) - len(failed)} ok, {len(failed)} failed, {len(plan.done)} already recorded, "
          f"{len(plan.unavailable)} not runnable here; records in {settings.results_dir}")
    return outcomes


def _run_all(configs: list[Config], one, gpus: list[str] | None) -> list[Outcome]:
    """Serially, or the CUDA configurations one child per GPU and the rest after them; plan order kept."""
    if not gpus:
        return [one(cfg) for cfg in configs]
    from valsuite.sharding import run_on_gpus

    on_gpu = [cfg for cfg in configs if cfg.device == "cuda"]
    done = dict(zip(on_gpu, run_on_gpus(on_gpu, gpus, one)))
    done.update((cfg, one(cfg)) for cfg in configs if cfg.device != "cuda")
    return [done[cfg] for cfg in configs]


class _Progress:
    """`[i/n] name: ok (s)` lines; thread-safe, for the --gpus workers."""

    def __init__(self, total: int) -> None:
        import threading

        self.total, self.count, self.begun, self.lock = total, 0, 0, threading.Lock()

    def started(self, cfg: Config, gpu: str | None) -> None:
        where = f" [GPU {gpu}]" if gpu is not None else ""
        with self.lock:
            self.begun += 1
            print(f"[{self.begun}/{self.total}] {cfg.name}{where}: running", flush=True)

    def report(self, cfg: Config, outcome: Outcome, seconds: float, gpu: str | None) -> None:
        status = f"FAILED: {outcome.record['error']}" if outcome.failed else "ok"
        where = f" [GPU {gpu}]" if gpu is not None else ""
        with self.lock:
            self.count += 1
            print(f"[{self.count}/{self.total}] {cfg.name}{where}: {status} ({seconds:.1f} s)", flush=True)
