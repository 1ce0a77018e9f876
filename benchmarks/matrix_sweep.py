"""The benchmark matrix (issue 14): backbones x input sizes x backend/precision, one command.

    python3 benchmarks/matrix_sweep.py --out OUT [--networks a,b --sizes 224x224,384x384
        --targets torch:fp16,inductor:fp16 --device cuda --batch 32 --batches 30 --budget-s 330]

Random weights (speed only: no accuracy at non-native sizes anyway), synthetic seeded input, one
run record per configuration under OUT/records/, GFLOPs and parameters in each, a utilisation
timeline per run, a per-layer profile for the torch runs at the native size (--profile-layers),
then the README section, the CSV and the figures rendered from those records (OUT/report.md,
OUT/plots/). A configuration that fails becomes a failure record and the sweep goes on.

Compilation is the slow part of an inductor sweep (tens of seconds per network and size), and it
must not overlap any timed run. So with --precompile-workers N, N processes first compile every
inductor configuration in parallel (torch.compile without freezing, whose FX graph cache is then
warm); the timed runs, one at a time, hit that cache. Compile times in the records are those of
the timed (cached) runs; the cold compile times are in OUT/precompile.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valsuite.data.preprocess import parse_input_size  # noqa: E402
from valsuite.errors import ValsuiteError  # noqa: E402

log = logging.getLogger("matrix_sweep")
GPU_NETWORKS = ("resnet50,mobilenet_v2,mobilenet_v3_small,mobilenet_v3_large,efficientnet_b0,mnasnet1_0,"
                "regnet_y_400mf,shufflenet_v2_x1_0,vgg16,convnext_tiny")
GPU_SIZES = "224x224,384x576,576x768"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--networks", default=GPU_NETWORKS)
    p.add_argument("--sizes", default=GPU_SIZES, help="HxW list; the native size is written as e.g. 224x224")
    p.add_argument("--targets", default="torch:fp16,inductor:fp16", help="backend:precision list")
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--batches", type=int, default=30, help="batches per run (10%% warm-up)")
    p.add_argument("--profile-layers", type=int, default=15, help="top-N layers of torch runs at the native size; 0: off")
    p.add_argument("--precompile-workers", type=int, default=0)
    p.add_argument("--budget-s", type=float, default=0.0, help="skip configurations that would start later; 0: none")
    p.add_argument("--workers", type=int, default=0, help="loader workers (synthetic input needs none)")
    p.add_argument("--batch1", default="", help="backend:precision also timed at batch 1, native size "
                   "(the p50 next to p99 panel), e.g. torch:fp16")
    return p.parse_args(argv)


def configs(args) -> list[tuple[str, tuple[int, int], str, str, int]]:
    sizes = [parse_input_size(s) for s in args.sizes.split(",") if s]
    targets = [t.split(":") for t in args.targets.split(",") if t]
    nets = [n for n in args.networks.split(",") if n]
    # in --targets order (torch first: no compile), so a budget cut loses inductor rows last
    items = [(net, size, backend, precision, args.batch) for backend, precision in targets
             for net in nets for size in sizes]
    if args.batch1:
        backend, precision = args.batch1.split(":")
        items += [(net, native_size(net), backend, precision, 1) for net in nets]
    return items


def native_size(net: str) -> tuple[int, int]:
    from valsuite.models import resolve

    return tuple(resolve(net, random_weights=True).input_shape[1:])


def run_config(args, net: str, size, backend: str, precision: str, batch: int, weights_dir: Path,
               warm_only: bool = False):
    """One measured run -> record (or, warm_only, just the compile)."""
    from valsuite.backends import BackendOptions
    from valsuite.evaluate.runner import RunConfig, run_one
    from valsuite.models import resolve
    from valsuite.options.inductor import InductorOptions

    spec = resolve(net, random_weights=True)
    # no freezing: the FX graph cache the precompile warmed then serves the timed run
    options = BackendOptions(weights_dir=weights_dir, batch_size=batch, max_batch=batch,
                             inductor=InductorOptions(no_freezing=True))
    native = tuple(spec.input_shape[1:]) == tuple(size)
    cfg = RunConfig(network=net, backend=backend, precision=precision, device=args.device, batch_size=batch,
                    random_weights=True, num_samples=batch * args.batches, workers=args.workers,
                    progress=False, weights_dir=weights_dir, input_size=None if native else tuple(size),
                    backend_options=options,
                    profile_layers=args.profile_layers if (args.profile_layers and native and backend == "torch"
                                                           and batch == args.batch) else None)
    if warm_only:
        from valsuite.backends import create_backend
        from valsuite.evaluate.runner import resolve_spec

        start = time.perf_counter()
        backend_obj = create_backend(backend, resolve_spec(cfg), precision, args.device, options)
        backend_obj.activate()
        backend_obj.deactivate()
        return time.perf_counter() - start
    return run_one(cfg).record


def _warm(args, item, weights_dir):
    logging.basicConfig(level=logging.WARNING)
    try:
        return item, run_config(args, *item, weights_dir, warm_only=True), None
    except Exception as exc:  # reported in precompile.json, the timed run will fail again and say so
        return item, None, f"{type(exc).__name__}: {exc}"


def precompile(args, items, weights_dir: Path, deadline: float | None) -> list[dict]:
    todo = [i for i in items if i[2] == "inductor"]
    if not todo or args.precompile_workers < 1:
        return []
    done = []
    import multiprocessing

    # spawn: a fresh interpreter per worker, no CUDA state inherited from a fork
    with ProcessPoolExecutor(args.precompile_workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_warm, args, item, weights_dir) for item in todo]
        for fut in as_completed(futures):
            item, seconds, error = fut.result()
            done.append({"config": list(map(str, item)), "cold_compile_s": seconds, "error": error})
            log.info("precompiled %s in %s", item, f"{seconds:.1f} s" if seconds else error)
            if deadline and time.perf_counter() > deadline:
                log.warning("precompile past its share of the budget; the rest compiles in the timed runs")
                for f in futures:
                    f.cancel()
                break
    return done


def failure(net, size, backend, precision, batch, args, error: str) -> dict:
    from valsuite.results.environment import environment
    from valsuite.results.record import new_record

    return new_record("failure", network=net, weights="random", backend=backend, precision=precision,
                      device=args.device, batch_size=batch, input_size=list(size), error=error,
                      environment=environment())


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from valsuite.results.record import write_record

    t0 = time.perf_counter()
    out = args.out
    records_dir, weights_dir = out / "records", out / "weights"
    records_dir.mkdir(parents=True, exist_ok=True)
    items = configs(args)
    deadline = t0 + args.budget_s if args.budget_s else None
    warm = precompile(args, items, weights_dir, t0 + 0.45 * args.budget_s if args.budget_s else None)
    (out / "precompile.json").write_text(json.dumps(warm, indent=1))
    done, skipped = 0, []
    for net, size, backend, precision, batch in items:
        if deadline and time.perf_counter() > deadline:
            skipped.append(f"{net} {size[0]}x{size[1]} {backend}:{precision} b{batch}")
            continue
        start = time.perf_counter()
        try:
            record = run_config(args, net, size, backend, precision, batch, weights_dir)
        except (ValsuiteError, RuntimeError, ValueError, TypeError) as exc:
            traceback.print_exc()
            record = failure(net, size, backend, precision, batch, args, f"{type(exc).__name__}: {exc}")
        write_record(record, results_dir=records_dir)
        done += 1
        lat = (record.get("latency_model_ms") or {}).get("p50")
        log.info("%s %dx%d %s:%s b%d: %s (%.1f s)", net, *size, backend, precision, batch,
                 f"Latency-model p50 {lat:.3f} ms, {record.get('gflops') or 0:.2f} GFLOPs" if lat else record.get("error"),
                 time.perf_counter() - start)
    report(out)
    summary = {"configurations": len(items), "run": done, "skipped_for_budget": skipped,
               "wall_s": round(time.perf_counter() - t0, 1)}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


def report(out: Path) -> None:
    """README section, CSV and figures from the records (the same renderer as main.py --report)."""
    try:
        from valsuite.results.readme import BEGIN, END
        from valsuite.results.report import report as render

        os.environ.setdefault("MPLBACKEND", "Agg")
        (out / "report.md").write_text(f"{BEGIN}\n{END}\n")
        render(out / "records", out / "report.md", csv_path=out / "rows.csv", plots_dir=out / "plots")
    except Exception:  # the records are the result; a rendering bug must not lose them
        traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main())
