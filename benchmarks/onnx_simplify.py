#!/usr/bin/env python3
"""Does graph simplification change anything but the graph? Unsimplified vs onnxslim (vs onnxsim).

For one network: node counts (Shape/Slice/Pad...), max |output difference| to the unsimplified
export on a random batch, top-1 agreement on a real image folder (the shared ImageNet sample), and
ONNX Runtime CPU latency (median of repeated runs, batch 1 and batch 32, one intra-op thread).
Other simplified files (e.g. onnxsim's, made in another environment) join with --extra LABEL=PATH.

    python benchmarks/onnx_simplify.py --network efficientnet_lite0 --dataset ../shared/imagenet-sample/val \
        --extra onnxsim=/tmp/sim.onnx --output docs/onnx_simplify.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valsuite.data.manifest import scan_dataset  # noqa: E402
from valsuite.data.preprocess import load_uint8  # noqa: E402
from valsuite.export.onnx_export import export_onnx  # noqa: E402
from valsuite.export.simplify import WATCHED_OPS, simplifier_version, unsimplified_path  # noqa: E402
from valsuite.models import resolve  # noqa: E402


def session(path: Path, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def images(dataset: Path, spec) -> tuple[np.ndarray, np.ndarray]:
    """The whole folder, preprocessed exactly as the weights ask (uint8 -> normalised float32)."""
    manifest = scan_dataset(dataset)
    pp = spec.preprocess
    x = np.stack([load_uint8(manifest.path(e), pp) for e in manifest.entries]).astype(np.float32) / 255.0
    mean, std = np.array(pp.mean, np.float32).reshape(1, 3, 1, 1), np.array(pp.std, np.float32).reshape(1, 3, 1, 1)
    return (x - mean) / std, np.array([e.label for e in manifest.entries])


def predict(sess, x: np.ndarray, batch: int = 50) -> np.ndarray:
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i:i + batch]})[0] for i in range(0, len(x), batch)])


def latencies_ms(sessions: dict, x: np.ndarray, repeats: int) -> dict[str, float]:
    """Median ms per session, measured in interleaved rounds so that load from other processes on a
    shared machine falls on every variant alike rather than on whichever ran during a busy spell."""
    times = {label: [] for label in sessions}
    for sess in sessions.values():
        sess.run(None, {sess.get_inputs()[0].name: x})  # warm-up
    for _ in range(repeats):
        for label, sess in sessions.items():
            start = time.perf_counter()
            sess.run(None, {sess.get_inputs()[0].name: x})
            times[label].append((time.perf_counter() - start) * 1e3)
    return {label: round(statistics.median(t), 3) for label, t in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="efficientnet_lite0")
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--extra", action="append", default=[], metavar="LABEL=PATH")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)

    spec = resolve(args.network)
    with tempfile.TemporaryDirectory() as tmp:
        slim = export_onnx(spec, tmp)
        files = {"unsimplified": unsimplified_path(slim), "onnxslim": slim}
        files |= {label: Path(path) for label, path in (e.split("=", 1) for e in args.extra)}
        x, labels = images(args.dataset, spec)
        rng = np.random.default_rng(0)
        noise = rng.standard_normal((8, *spec.input_shape), dtype=np.float32)
        rows, reference, ref_noise, sessions = {}, None, None, {}
        for label, path in files.items():
            sess = sessions[label] = session(path)
            logits = predict(sess, x)
            out_noise = sess.run(None, {sess.get_inputs()[0].name: noise})[0]
            if reference is None:
                reference, ref_noise = logits, out_noise
            import onnx

            ops = Counter(n.op_type for n in onnx.load(str(path)).graph.node)
            top1 = logits.argmax(1)
            rows[label] = {
                "nodes": sum(ops.values()), "ops": {k: ops.get(k, 0) for k in WATCHED_OPS},
                "max_abs_diff_random_batch": float(np.max(np.abs(out_noise - ref_noise))),
                "max_abs_diff_sample": float(np.max(np.abs(logits - reference))),
                "top1_identical": int((top1 == reference.argmax(1)).sum()), "images": len(x),
                "prec1": round(100.0 * float((top1 == labels).mean()), 2),
            }
            print(label, json.dumps(rows[label]), flush=True)
        for key, batch, repeats in (("latency_b1_ms", x[:1], args.repeats), ("latency_b32_ms", x[:32], args.repeats // 4)):
            for label, ms in latencies_ms(sessions, batch, max(5, repeats)).items():
                rows[label][key] = ms
            print(key, {label: rows[label][key] for label in rows}, flush=True)
    import onnxruntime

    result = {"network": args.network, "weights": spec.weights_id, "dataset": str(args.dataset),
              "simplifier": simplifier_version(), "onnxruntime": onnxruntime.__version__, "threads": 1,
              "cpu": platform.processor() or platform.machine(), "rows": rows}
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
