"""The segmentation head study in stages with a time budget: what one short GPU lease can measure.

    python benchmarks/segmentation_heads_gpu.py --out DIR [--budget-s 170]

The same library call as `main.py --segmentation` (valsuite.segmentation.study.run_study), split
into stages so that a lease that ends early still returns every record finished before it:
1. torch (eager) on CUDA: every input size x every head x fp32/fp16;
2. inductor (torch.compile, one compile per size/head/precision): 384x576 first (the seed's
   size), then 768x1344, fp16 then fp32; each compile takes seconds to tens of seconds, so this
   stage stops starting new sizes once the budget is spent.
Each record is written to DIR as soon as it exists.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    from valsuite.results.record import write_record
    from valsuite.segmentation.study import STUDY_SIZES, StudyOptions, run_study

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--budget-s", type=float, default=170.0)
    parser.add_argument("--num-images", type=int, default=16)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    start = time.perf_counter()

    def save(record: dict) -> None:
        write_record(record, results_dir=args.out)
        lat = record.get("latency_all_ms") or {}
        print(f"{time.perf_counter() - start:6.1f}s {record['backend']} {record['precision']} "
              f"{record['input_size']} {record['head']}: {record.get('error') or lat.get('mean')}", flush=True)

    base = StudyOptions(random_weights=True, device="cuda", num_images=args.num_images, warmup=3,
                        precisions=("fp32", "fp16"), weights_dir=Path("weights"))
    run_study(replace(base, backends=("torch",), sizes=STUDY_SIZES), save)
    for size in ((384, 576), (768, 1344)):
        if time.perf_counter() - start > args.budget_s:
            print(f"budget spent: inductor {size} not run")
            continue
        run_study(replace(base, backends=("inductor",), sizes=(size,), precisions=("fp16", "fp32")), save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
