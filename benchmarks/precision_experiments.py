"""Experiments behind the precision defaults (EfficientNet-Lite0 on ../shared/imagenet-sample).

Split the 600 shared images with a seeded permutation: a calibration pool (first half) and a fixed
evaluation set (second half). Every variant is evaluated with ONNX Runtime CPU on the same
evaluation set and compared with the FP32 ONNX: Prec@1 and top-1 agreement. Results are printed
as a markdown table and written to outputs/precision_experiments.json.

    PYTHONPATH=. python benchmarks/precision_experiments.py [--threads 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from valsuite.data.manifest import scan_dataset
from valsuite.data.preprocess import load_uint8, normalize
from valsuite.export.onnx_export import export_onnx
from valsuite.models import resolve
from valsuite.precision import fp16 as F
from valsuite.precision import graph as G
from valsuite.precision import qdq as Q
from valsuite.precision import stats as S
from valsuite.precision.ranges import amax_for

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "imagenet-sample" / "val"


def session(model_or_path, threads):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    data = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


def top1(model, x, threads, batch=50):
    sess = session(model, threads)
    name = sess.get_inputs()[0].name
    dtype = np.float16 if sess.get_inputs()[0].type == "tensor(float16)" else np.float32
    return np.concatenate([sess.run(None, {name: x[i:i + batch].astype(dtype)})[0].argmax(1)
                           for i in range(0, len(x), batch)])


def load_split(spec, seed=0):
    manifest = scan_dataset(SHARED)
    raw = np.stack([load_uint8(manifest.path(e), spec.preprocess) for e in manifest.entries])
    import torch

    x = normalize(torch.from_numpy(raw), spec.preprocess).numpy()
    labels = np.array([e.label for e in manifest.entries])
    order = np.random.default_rng(seed).permutation(len(x))
    half = len(x) // 2
    return x[order[:half]], x[order[half:]], labels[order[half:]]


def candidate_tensors(model, ops=("Conv", "Gemm", "Add")):
    inits = G.initializer_map(model)
    return sorted({i for n in model.graph.node if n.op_type in ops for i in n.input[:2]
                   if i and i not in inits})


def ort_default_baseline(fp32_path, calib, out_path, **kwargs):
    """onnxruntime.quantization.quantize_static with its defaults (QDQ, per-tensor, MinMax)."""
    from onnxruntime.quantization import CalibrationDataReader, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"input": calib[i:i + 16]} for i in range(0, len(calib), 16)])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(fp32_path), str(out_path), Reader(), **kwargs)
    return out_path


def time_calibration(n: int, threads: int) -> None:
    """Wall time of one int8 calibration (decode + preprocess + ORT + statistics), cache bypassed."""
    import os
    import tempfile

    from valsuite.precision import PrecisionOptions
    from valsuite.precision.calibrate import calibrate

    spec = resolve("efficientnet_lite0")
    fp32_path = export_onnx(spec, "weights")
    with tempfile.TemporaryDirectory() as tmp:
        options = PrecisionOptions(calib_dataset=SHARED, calib_size=n, threads=threads, cache_dir=Path(tmp))
        start = time.perf_counter()
        cal = calibrate(spec, G.load_model(fp32_path), "timing", fp32_path, options, "int8")
        wall = time.perf_counter() - start
    print(json.dumps({"images": cal.facts["num_images"], "method": options.calib_method, "threads": threads,
                      "wall_s": round(wall, 1), "load_average_1min": os.getloadavg()[0]}))


LAYER_STUDY = (("minmax", 0), ("percentile", 99.99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer configurations")
    parser.add_argument("--out", type=Path, default=Path("outputs/precision_experiments.json"))
    parser.add_argument("--time-calibration", type=int, default=0, metavar="N",
                        help="only time calibrating N images of the shared sample with the default method")
    args = parser.parse_args()
    if args.time_calibration:
        return time_calibration(args.time_calibration, args.threads)
    spec = resolve("efficientnet_lite0")
    fp32_path = export_onnx(spec, "weights")
    model = G.load_model(fp32_path)
    pool, x_eval, y_eval = load_split(spec)
    ref = top1(fp32_path, x_eval, args.threads)
    rows = []

    def record(name, variant, **facts):
        pred = top1(variant, x_eval, args.threads)
        row = {"config": name, "prec1": float((pred == y_eval).mean() * 100),
               "agreement": float((pred == ref).mean() * 100), **facts}
        rows.append(row)
        print(json.dumps(row), flush=True)

    record("fp32", fp32_path)
    cands = candidate_tensors(model)
    stats_by_n = {}
    for n in ((300,) if args.quick else (50, 100, 300)):
        start = time.perf_counter()
        stats_by_n[n] = S.collect(model, [pool[i:i + 16] for i in range(0, n, 16)], cands, set(cands), args.threads)
        print(f"stats on {n} images: {time.perf_counter() - start:.1f} s", flush=True)
    fp16 = F.convert_to_fp16(model, S.collect(model, [pool[i:i + 16] for i in range(0, 300, 16)],
                                              G.float_activations(model), set(), args.threads).tensors)
    record("fp16 (fp32 I/O), ORT CPU", fp16.model, kept_fp32=fp16.kept_fp32)
    record("fp16 storage simulated (every tensor rounded to fp16)",
           F.simulate_fp16_storage(model, fp16.kept_fp32))
    base = ort_default_baseline(fp32_path, pool[:300], Path("weights/_exp_ort_default.onnx"))
    record("ORT quantize_static defaults (300 img)", base)
    base = ort_default_baseline(fp32_path, pool[:300], Path("weights/_exp_ort_pc_sym.onnx"),
                                per_channel=True, extra_options={"ActivationSymmetric": True})
    record("ORT quantize_static per-channel, symmetric (300 img)", base)
    methods = [("minmax", 0), ("percentile", 99.9), ("percentile", 99.99), ("percentile", 99.999), ("entropy", 0)]
    gemm = [n.name for n in model.graph.node if n.op_type == "Gemm"]
    stem = [n.name for n in model.graph.node if n.op_type == "Conv"][:1]
    for n, st in stats_by_n.items():
        for method, pct in methods:
            amax = {k: amax_for(v, method, pct) for k, v in st.tensors.items()}
            tag = f"{method}{'' if not pct else f' {pct}'}"
            for ops, excl, label in [(("Conv", "Gemm"), (), "Conv+Gemm"),
                                     (("Conv", "Gemm", "Add"), (), "Conv+Gemm+Add"),
                                     (("Conv", "Gemm"), tuple(gemm), "Conv only (FC fp32)"),
                                     (("Conv", "Gemm"), tuple(gemm + stem), "Conv w/o stem (FC fp32)")]:
                if label != "Conv+Gemm" and (args.quick or n != 300 or (method, pct) not in LAYER_STUDY):
                    continue
                res = Q.insert_qdq(model, amax, ops, excl)
                record(f"int8 {tag}, {n} img, {label}", res.model, method=tag, calib_images=n,
                       layers=label, qdq_pairs=res.qdq_pairs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print("\n| config | Prec@1 | agreement with FP32 |\n|---|---|---|")
    for row in rows:
        print(f"| {row['config']} | {row['prec1']:.2f} | {row['agreement']:.2f} |")


if __name__ == "__main__":
    main()
