"""CPU target of issue 7: with --cache, the second pass over a dataset is >= 3x faster than the first.

    python benchmarks/cpu_cache.py [--dataset ../shared/imagenet-sample/val] [--backend onnxruntime]

Pass 1 builds the cache (every JPEG decoded once by the loader's workers) and evaluates from it;
pass 2 finds the cache and evaluates straight from the memory map. Both run through run_one, as
main.py -v --cache does. Prints the wall times, their ratio, and checks that every prediction
is the same as without a cache (pass 0). Writes nothing outside --cache-dir (a temporary folder).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    from valsuite.evaluate.runner import RunConfig, run_one
    from valsuite.evaluate.validate import top1_array

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", type=Path, default=REPO.parent / "shared" / "imagenet-sample" / "val")
    p.add_argument("--network", default="efficientnet_lite0")
    p.add_argument("--backend", default="onnxruntime")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--weights-dir", type=Path, default=REPO / "weights")
    p.add_argument("--cache-dir", type=Path, default=None, help="default: a fresh temporary folder")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="valsuite-cache-"))
    try:
        walls, outcomes = {}, {}
        for name, cache in (("no cache", None), ("pass 1 (builds cache)", cache_dir), ("pass 2 (cache)", cache_dir)):
            cfg = RunConfig(network=args.network, backend=args.backend, dataset=args.dataset,
                            batch_size=args.batch_size, workers=args.workers, weights_dir=args.weights_dir,
                            cache=cache, progress=False)
            start = time.perf_counter()
            outcomes[name] = run_one(cfg)
            walls[name] = time.perf_counter() - start
        first, second = walls["pass 1 (builds cache)"], walls["pass 2 (cache)"]
        same = all(np.array_equal(top1_array(o.result), top1_array(outcomes["no cache"].result))
                   for o in outcomes.values())
        for name, wall in walls.items():
            rec = outcomes[name].record
            print(f"{name:24s} wall {wall:7.2f} s   loop {outcomes[name].result.wall_s:7.2f} s   "
                  f"prec1 {rec['prec1']:.2f}   images {rec['num_images']}")
        print(f"second cached pass is {first / second:.2f}x faster than the first (target >= 3): "
              f"{'met' if first / second >= 3 else 'missed'}")
        print(f"predictions identical with and without cache: {same}")
        return 0 if same else 1
    finally:
        if args.cache_dir is None:
            shutil.rmtree(cache_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
