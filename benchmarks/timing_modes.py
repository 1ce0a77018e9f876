"""How the timing loop's modes change the numbers: synchronous, --spin-wait, --inflight 2.

    python3 benchmarks/timing_modes.py --out OUT [--network resnet50 --precision fp16 --batch 1 --batches 300]

The same activated model, synthetic batches, three validation loops: (1) synchronous: each batch
is submitted and waited for before the next (the GPU idles while the host prepares the next
batch); (2) the same with spin-wait on the CUDA event that ends each batch (trtexec
--useSpinWait: no sleeping thread to wake); (3) two batches in flight (enqueues overlap, as trtexec
runs by default). Prints Latency-all and Latency-model p50/p99, their CV and the throughput of
each, writes every timed iteration of each mode to OUT/times_<mode>.json (--export-times).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valsuite.backends import BackendOptions, create_backend  # noqa: E402
from valsuite.data.loader import SyntheticDataset, iterate_batches, make_loader  # noqa: E402
from valsuite.evaluate.timing import TimingOptions, export_times  # noqa: E402
from valsuite.evaluate.validate import run_validation  # noqa: E402
from valsuite.models import resolve  # noqa: E402

MODES = {"sync": (TimingOptions(), 1), "spin-wait": (TimingOptions(spin_wait=True), 1), "inflight-2": (TimingOptions(), 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--network", default="resnet50")
    p.add_argument("--backend", default="torch")
    p.add_argument("--precision", default="fp16")
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--batches", type=int, default=300)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    spec = resolve(args.network, random_weights=True)
    loader = make_loader(SyntheticDataset(args.batch * args.batches, spec.preprocess), args.batch, 0,
                         pin_memory=args.device == "cuda")
    batches = list(iterate_batches(loader))
    rows = {}
    options = BackendOptions(batch_size=args.batch, max_batch=args.batch)
    with create_backend(args.backend, spec, args.precision, args.device, options) as backend:
        for mode, (timing, inflight) in MODES.items():
            result = run_validation(backend, batches, len(batches) * args.batch, spec.preprocess, args.batch,
                                    progress=False, inflight=inflight, timing=timing)
            summary = result.summary()
            export_times(args.out / f"times_{mode}.json", result.iterations(), {"mode": mode, "network": args.network})
            rows[mode] = {k: summary[k] for k in ("latency_all_ms", "latency_model_ms", "h2d_ms", "d2h_ms",
                                                   "throughput_img_s", "e2e_throughput_img_s", "stability", "timing")}
            la, lm = summary["latency_all_ms"], summary["latency_model_ms"]
            print(f"{mode:10s} Latency-all p50 {la['p50']:.3f} p99 {la['p99']:.3f} ms (CV {la['cv']:.3f}) | "
                  f"Latency-model p50 {lm['p50']:.3f} p99 {lm['p99']:.3f} ms (CV {lm['cv']:.3f}) | "
                  f"H2D {summary['h2d_ms']['p50'] or 0:.3f} D2H {summary['d2h_ms']['p50'] or 0:.3f} ms | "
                  f"{summary['e2e_throughput_img_s']:.0f} img/s end to end")
    (args.out / "timing_modes.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
