"""Overhead of the utilisation sampler on throughput (goal: under 1%).

    python3 benchmarks/monitor_overhead.py [--network resnet50 --backend torch --precision fp16
                                            --device cuda --batch 64 --batches 60 --pairs 5]

One activated backend, synthetic batches made once and reused, then `--pairs` pairs of validation
loops, one with the 50 ms sampler running and one without, in alternating order (so clock drift
and thermal state hit both alike). Prints each pair and the ratio of median throughputs
(Latency-all and model-only), sampler on / off: 1.0 means no overhead, 0.99 means 1% slower.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valsuite.backends import create_backend  # noqa: E402
from valsuite.data.loader import SyntheticDataset, iterate_batches, make_loader  # noqa: E402
from valsuite.evaluate.monitor import UtilSampler  # noqa: E402
from valsuite.evaluate.validate import run_validation  # noqa: E402
from valsuite.models import resolve  # noqa: E402


def one_loop(backend, batches, spec, batch: int, device: str, monitored: bool) -> tuple[float, float, int]:
    """(throughput from Latency-all, model-only throughput, samples taken) of one pass."""
    sampler = UtilSampler(device) if monitored else contextlib.nullcontext()
    with sampler:
        result = run_validation(backend, batches, len(batches) * batch, spec.preprocess, batch,
                                warmup_batches=2, progress=False)
    model = 1e3 * result.timed_images / sum(result.latency_model_ms)
    return result.throughput(), model, (sampler.summary().get("samples") or 0) if monitored else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="resnet50")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--precision", default="fp16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args(argv)
    spec = resolve(args.network, random_weights=True)
    loader = make_loader(SyntheticDataset(args.batch * args.batches, spec.preprocess), args.batch, 0,
                         pin_memory=args.device == "cuda")
    batches = list(iterate_batches(loader))
    on, off = [], []
    with create_backend(args.backend, spec, args.precision, args.device) as backend:
        one_loop(backend, batches, spec, args.batch, args.device, False)          # warm everything
        for pair in range(args.pairs):
            order = (False, True) if pair % 2 == 0 else (True, False)
            for monitored in order:
                (on if monitored else off).append(one_loop(backend, batches, spec, args.batch, args.device, monitored))
            print(f"pair {pair}: off {off[-1][0]:,.0f} img/s (model {off[-1][1]:,.0f}), "
                  f"on {on[-1][0]:,.0f} img/s (model {on[-1][1]:,.0f}, {on[-1][2]} samples)")
    ratio = statistics.median(t for t, _, _ in on) / statistics.median(t for t, _, _ in off)
    model_ratio = statistics.median(m for _, m, _ in on) / statistics.median(m for _, m, _ in off)
    print(f"{args.network} {args.backend} {args.precision} {args.device} batch {args.batch}: "
          f"throughput sampler on / off = {ratio:.4f} (Latency-all), {model_ratio:.4f} (model-only); "
          f"goal >= 0.99: {'met' if ratio >= 0.99 else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
