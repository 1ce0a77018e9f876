"""GPU speed benchmark (issues 7 and 16): one command, one run, everything written under --out.

    python3 benchmarks/gpu_speed.py --out OUT --source DIR_OF_JPEGS [--agreement-dataset DIR]
    python3 benchmarks/gpu_speed.py --render OUT/records          # the README section, from records

It hard-links the --source JPEGs (real files, as they are: many sizes) to --num-images files in
1000 class folders and measures, each as a run record (kind "benchmark"):
- per configuration (backend:precision:batch[:graph|:peak]): model-only throughput (input on the
  device, Latency-model), compile time, and the cached end-to-end pass (--inflight 2);
- with the --jpeg-config backend: the JPEG pass with GPU decode (--read-threads file-reading
  threads), the suite's CPU-decode pass (--workers processes) and the plain torchvision
  ImageFolder + DataLoader + PIL pipeline (--read-threads workers);
- the null backend (returns zeros, computes nothing): the harness's own ceiling on cached and
  JPEG input, on the GPU and on the CPU;
- CPU vs GPU decode on a labelled set with real weights (--agreement-dataset): pixel
  differences, top-1 identical share, Prec@1 of each;
- the CPU target (ONNX Runtime, EfficientNet-Lite0, --agreement-dataset): cached e2e / model-only;
- a sweep on 1 GPU and on 2 GPUs (one pinned process per GPU), when two GPUs are visible.
Then it prints every target met or missed with its number (stdout, OUT/summary.md, OUT/summary.json).
A failing step is listed (traceback in OUT/failures.log) and the run goes on; steps that would
start after --budget-s are skipped and listed.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from valsuite.errors import ValsuiteError  # noqa: E402

log = logging.getLogger("gpu_speed")
CEILING_IMG_S = 120_000          # H100/H200 dense FP16 989 TFLOP/s / 8.2 GFLOP per ResNet50 image
DEFAULT_CONFIGS = "torch:fp16:256,inductor:fp16:256:peak,torch:bf16:256,inductor:bf16:256:peak"
MODES = ("", "graph", "peak")


@dataclass(frozen=True)
class Config:
    backend: str
    precision: str
    batch: int
    mode: str = ""               # "graph": --cuda-graph; "peak": inductor's peak mode

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.precision}:b{self.batch}" + (f":{self.mode}" if self.mode else "")


@dataclass
class Row:
    config: str
    step: str
    images: int = 0
    img_s: float | None = None
    p50_all: float | None = None
    p99_all: float | None = None
    p50_model: float | None = None
    p99_model: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


def parse_configs(text: str) -> list[Config]:
    configs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        bits = part.split(":")
        if len(bits) not in (3, 4) or (len(bits) == 4 and bits[3] not in MODES[1:]):
            raise ValsuiteError(f"bad config {part!r}", hint="backend:precision:batch[:graph|:peak]")
        configs.append(Config(bits[0], bits[1], int(bits[2]), bits[3] if len(bits) == 4 else ""))
    return configs


# -- the JPEG set -----------------------------------------------------------------------------

def synthetic_images(count: int = 60):
    """Seeded photo-like RGB images, for a run without --source."""
    import numpy as np
    from PIL import Image

    for i in range(count):
        rng = np.random.default_rng(i)
        h, w = (375, 500) if i % 3 else (500, 333)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack([np.sin(xx / rng.uniform(20, 90) + c) * np.cos(yy / rng.uniform(20, 90) - c)
                         for c in rng.uniform(0, 6, 3)], axis=-1)
        img = (base * 80 + 128 + rng.normal(0, 12, (h, w, 3))).clip(0, 255).astype(np.uint8)
        yield f"synthetic_{i:03d}", Image.fromarray(img)


def source_files(out: Path, source: Path | None) -> list[Path]:
    """The --source JPEGs as they are (real sizes, modes, encodings), or generated ones."""
    if source is not None:
        files = sorted(p for p in Path(source).rglob("*") if p.suffix.lower() in (".jpeg", ".jpg"))
        if not files:
            raise ValsuiteError(f"--source {source}: no .JPEG/.jpg files")
        return files
    folder = out / "jpeg_variants"
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name, img in synthetic_images():
        path = folder / f"{name}.JPEG"
        img.save(path, format="JPEG", quality=90)
        made.append(path)
    return made


def make_jpeg_set(out: Path, source: Path | None, num_images: int) -> Path:
    """out/jpegs/<wnid>/*.JPEG: the source files hard-linked (or copied) to num_images files."""
    import shutil

    from valsuite.data.synsets import builtin_mapping
    from valsuite.fileio import atomic_write_json, read_json

    root = out / "jpegs"
    files = source_files(out, source)
    key = {"num_images": num_images, "source": [str(f) for f in files], "format": 2}
    stamp = out / "jpegs.json"
    if stamp.exists() and read_json(stamp) == key and root.is_dir():
        return root
    shutil.rmtree(root, ignore_errors=True)
    wnids = builtin_mapping().wnids
    per_class = -(-num_images // len(wnids))
    for k in range(num_images):
        target = root / wnids[k // per_class] / f"img_{k:06d}.JPEG"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(files[k % len(files)], target)
        except OSError:
            shutil.copyfile(files[k % len(files)], target)
    sizes = [f.stat().st_size for f in files]
    atomic_write_json(stamp, key)
    log.info("JPEG set: %d files from %d sources (mean %.0f KB) in %s", num_images, len(files),
             sum(sizes) / len(sizes) / 1024, root)
    return root


def subset(manifest, count: int):
    from valsuite.data.manifest import Manifest

    return Manifest(manifest.root, manifest.entries[:count], manifest.mapping, manifest.ignored_files)


# -- measurements -----------------------------------------------------------------------------

def model_only(backend, spec, batch: int, device: str, min_s: float, min_iters: int) -> dict:
    """Input already on the device: per-call model ms (and wall ms to host outputs)."""
    import torch

    from valsuite.evaluate.stages import model_input

    images = torch.randint(0, 256, (batch, *spec.input_shape), dtype=torch.uint8, device=device)
    x = model_input(images, spec.preprocess, device)
    for _ in range(5):
        backend.infer(x)
    model_ms, wall_ms = [], []
    start = time.perf_counter()
    while len(model_ms) < min_iters or time.perf_counter() - start < min_s:
        t0 = time.perf_counter()
        _, ms = backend.infer(x)
        wall_ms.append((time.perf_counter() - t0) * 1e3)
        model_ms.append(ms)
    return {"model_ms": model_ms, "wall_ms": wall_ms}


def plain_torchvision(root: Path, spec, backend, batch: int, workers: int, count: int, device: str) -> dict:
    """The comparison: ImageFolder + DataLoader + PIL transforms, model on the GPU, nothing else."""
    import torch
    import torchvision
    from torchvision import transforms as T

    pp = spec.preprocess
    interp = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC,
              "nearest": T.InterpolationMode.NEAREST}[pp.interpolation]
    tf = T.Compose([T.Resize(pp.resize_size, interpolation=interp), T.CenterCrop(pp.crop_size),
                    T.ToTensor(), T.Normalize(pp.mean, pp.std)])
    data = torch.utils.data.Subset(torchvision.datasets.ImageFolder(str(root), transform=tf), range(count))
    loader = torch.utils.data.DataLoader(data, batch_size=batch, num_workers=workers, shuffle=False)
    seen, t_first, lat = 0, None, []
    for number, (x, _) in enumerate(loader):
        t0 = time.perf_counter()
        out, _ = backend.infer(x.to(device))
        out.argmax(1)
        lat.append((time.perf_counter() - t0) * 1e3)
        if number == 0:
            t_first = time.perf_counter()
        else:
            seen += x.shape[0]
    end = time.perf_counter()
    return {"img_s": seen / (end - t_first) if seen else None, "latency_ms": lat[1:]}


def decode_agreement(manifest, spec, backend, batch: int, threads: int) -> dict:
    """CPU path vs GPU decode on the same files: pixel differences, top-1 agreement, Prec@1 of each."""
    import torch

    from valsuite.data.gpu_decode import GpuDecodeStage, encoded_loader
    from valsuite.data.loader import ManifestDataset, iterate_batches, make_loader
    from valsuite.evaluate.validate import run_validation, top1_array

    pp = spec.preprocess
    cpu = torch.cat([b.images for b in iterate_batches(make_loader(ManifestDataset(manifest, pp), batch, 4))])
    stage, gpu = GpuDecodeStage(pp), []
    for staged in stage(encoded_loader(manifest, pp, batch, threads)):
        staged.ready()
        gpu.append(staged.device_images().cpu())
    diff = (cpu.int() - torch.cat(gpu).int()).abs()
    runs = {}
    for name, batches, st in (
            ("cpu", iterate_batches(make_loader(ManifestDataset(manifest, pp), batch, 4, pin_memory=True)), None),
            ("gpu", encoded_loader(manifest, pp, batch, threads), GpuDecodeStage(pp))):
        runs[name] = run_validation(backend, batches, len(manifest), pp, batch, progress=False, stage=st)
    t_cpu, t_gpu = top1_array(runs["cpu"]), top1_array(runs["gpu"])
    return {"images": len(manifest), "mean_abs_pixel_diff": float(diff.float().mean()),
            "max_abs_pixel_diff": int(diff.max()), "pixels_differing_pct": float((diff > 0).float().mean() * 100),
            "top1_identical_pct": float((t_cpu == t_gpu).mean() * 100), "top1_differ": int((t_cpu != t_gpu).sum()),
            "prec1_cpu": runs["cpu"].prec1, "prec1_gpu": runs["gpu"].prec1, "decode": stage.describe()}


# -- the run ----------------------------------------------------------------------------------

class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.out = Path(args.out)
        self.rows: list[Row] = []
        self.failures: list[str] = []
        self.t0 = time.perf_counter()
        self.records_dir = self.out / "records"
        self.facts = {"num_images": args.num_images, "workers": args.workers, "read_threads": args.read_threads,
                      "source": str(args.source) if args.source else "synthetic", "device": args.device,
                      "network": args.network, "jpeg_config": args.jpeg_config}

    def step(self, name: str, fn, *a, **kw):
        """Run one step; a failure is logged with its traceback and the run goes on."""
        if time.perf_counter() - self.t0 > self.args.budget_s:
            self.failures.append(f"{name}: skipped (past --budget-s {self.args.budget_s:g} s)")
            return None
        log.info("== %s (t=%.0f s)", name, time.perf_counter() - self.t0)
        try:
            return fn(*a, **kw)
        except Exception as exc:  # a benchmark reports failures instead of losing the run
            self.failures.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            with open(self.out / "failures.log", "a", encoding="utf-8") as handle:
                handle.write(f"== {name}\n{traceback.format_exc()}\n")
            log.error("step %s failed: %s (traceback in failures.log)", name, exc)
            return None

    def add(self, row: Row, spec, cfg: Config | None = None, backend=None, result=None, device=None, **kw) -> None:
        """Keep the row and write it as a run record (the README section is rendered from these)."""
        from valsuite.results.environment import environment
        from valsuite.results.record import latency_stats, new_record, write_record

        self.rows.append(row)
        info = backend.info() if backend is not None else None
        summary = result.summary() if result is not None else {
            "num_images": row.images, "prec1": None, "prec5": None, "latency_all_ms": latency_stats(kw.get("lat_all") or []),
            "latency_model_ms": latency_stats(kw.get("lat_model") or []), "throughput_img_s": row.img_s}
        rec = new_record(
            "benchmark", network=spec.network, weights=spec.weights_id, backend=cfg.backend if cfg else "-",
            precision=cfg.precision if cfg else "-", device=device or self.args.device,
            batch_size=cfg.batch if cfg else None, **summary,
            model_size_mb=info.model_size_mb if info else None, num_layers=info.num_layers if info else None,
            num_params=info.num_params if info else None, backend_details=info.details if info else {},
            dataset=kw.get("dataset") or {}, environment=environment(), workers=self.args.workers,
            benchmark={"step": row.step, "config": row.config, "seq": len(self.rows), "row": asdict(row),
                       "facts": self.facts})
        write_record(rec, results_dir=self.records_dir)


def _options(cfg: Config, bench: Bench):
    from valsuite.backends import BackendOptions
    from valsuite.options.inductor import InductorOptions

    mode = "peak" if cfg.mode == "peak" else bench.args.inductor_mode
    return BackendOptions(weights_dir=bench.out / "weights", batch_size=cfg.batch, max_batch=cfg.batch,
                          cuda_graph=cfg.mode == "graph", inductor=InductorOptions(inductor_mode=mode))


def _activate(cfg: Config, spec, device: str, options):
    from valsuite.backends import create_backend

    backend = create_backend(cfg.backend, spec, cfg.precision, device, options)
    start = time.perf_counter()
    backend.activate()
    backend.setup_s = time.perf_counter() - start
    log.info("%s ready in %.1f s %s", cfg.label, backend.setup_s, backend.info().details)
    return backend


def run(args) -> int:
    import torch

    from valsuite.data.manifest import scan_dataset
    from valsuite.models import resolve

    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValsuiteError("no CUDA GPU visible to torch", hint="this benchmark is for the GPU machine; --device cpu for a dry run")
    bench = Bench(args)
    bench.out.mkdir(parents=True, exist_ok=True)
    spec = resolve(args.network, args.weights, args.weights is None)
    configs = parse_configs(args.configs)
    root = make_jpeg_set(bench.out, args.source, args.num_images)
    manifest = scan_dataset(root)
    cached = bench.step("cache build", build_cache_step, bench, spec, manifest)
    null_steps(bench, spec, manifest, cached)            # cheap and needed by the targets: first
    if args.agreement_dataset is not None:
        extra_steps(bench, args)
    for cfg in configs:
        backend = bench.step(f"{cfg.label} activate", _activate, cfg, spec, args.device, _options(cfg, bench))
        if backend is None:
            continue
        try:
            bench.step(f"{cfg.label} model-only", model_only_step, bench, cfg, spec, backend)
            if cached is not None:
                bench.step(f"{cfg.label} cached", e2e_step, bench, cfg, spec, backend, "cached", manifest, cached)
            if cfg.label == args.jpeg_config:
                jpeg_steps(bench, cfg, spec, backend, manifest, root)
        finally:
            backend.deactivate()
            if args.device == "cuda":
                torch.cuda.empty_cache()
    if args.device == "cuda":
        bench.step("sweep on 1 and 2 GPUs", sweep_step, bench)
    report(bench.rows, bench.failures, bench.facts, bench.out, time.perf_counter() - bench.t0)
    return 0


def jpeg_steps(bench: Bench, cfg: Config, spec, backend, manifest, root: Path) -> None:
    """The three JPEG pipelines with one model: GPU decode, CPU decode in workers, plain torchvision."""
    args = bench.args
    n = min(len(manifest), args.baseline_images)
    if args.device == "cuda":
        bench.step(f"{cfg.label} jpeg-gpu", e2e_step, bench, cfg, spec, backend, "jpeg-gpu", manifest, None)
    bench.step(f"{cfg.label} jpeg-cpu", e2e_step, bench, cfg, spec, backend, "jpeg-cpu", subset(manifest, n), None)
    bench.step(f"{cfg.label} plain-torchvision", plain_step, bench, cfg, spec, backend, root,
               min(n, args.plain_images))


def null_steps(bench: Bench, spec, manifest, cached) -> None:
    """The harness alone: the null backend on cached and JPEG input, on the GPU and on the CPU."""
    args = bench.args
    n = min(len(manifest), args.baseline_images)
    for device in (["cuda", "cpu"] if args.device == "cuda" else ["cpu"]):
        cfg = Config("null", "fp32", args.null_batch)
        backend = bench.step(f"null ({device}) activate", _activate, cfg, spec, device, _options(cfg, bench))
        if backend is None:
            continue
        if cached is not None:
            bench.step(f"null ({device}) cached", e2e_step, bench, cfg, spec, backend, "cached", manifest, cached,
                       device=device)
        if device == "cuda":
            bench.step("null (cuda) jpeg-gpu", e2e_step, bench, cfg, spec, backend, "jpeg-gpu", manifest, None,
                       device=device)
        bench.step(f"null ({device}) jpeg-cpu", e2e_step, bench, cfg, spec, backend, "jpeg-cpu", subset(manifest, n),
                   None, device=device)
        backend.deactivate()


def extra_steps(bench: Bench, args) -> None:
    """On the labelled set: CPU vs GPU decode with real weights, and the CPU target."""
    from valsuite.data.manifest import scan_dataset
    from valsuite.models import resolve

    labelled = scan_dataset(args.agreement_dataset)
    spec = bench.step("agreement model", resolve, args.agreement_network, None, False)
    if spec is None:
        return
    if args.device == "cuda":
        cfg = Config("torch", "fp32", 50)
        backend = bench.step("agreement activate", _activate, cfg, spec, "cuda", _options(cfg, bench))
        if backend is not None:
            bench.step("decode agreement", agreement_step, bench, cfg, spec, backend, labelled)
            backend.deactivate()
    bench.step("cpu target", cpu_target_step, bench, spec, labelled)


def build_cache_step(bench: Bench, spec, manifest):
    from valsuite.data.cache import open_cache

    start = time.perf_counter()
    dataset = open_cache(bench.out / "cache", manifest, spec.preprocess, bench.args.workers, progress=False)
    seconds = time.perf_counter() - start
    built = dataset.info["built"]
    bench.add(Row("-", f"cache build (CPU decode, {bench.args.workers} workers)", len(manifest),
                  len(manifest) / seconds if built else None, note="built" if built else "reused (not timed)",
                  extra={"kind": "cache-build"}), spec)
    return dataset


def model_only_step(bench: Bench, cfg: Config, spec, backend) -> None:
    from valsuite.results.record import latency_stats

    m = model_only(backend, spec, cfg.batch, bench.args.device, bench.args.model_only_s, 20)
    stats_model, stats_all = latency_stats(m["model_ms"]), latency_stats(m["wall_ms"])
    img_s = cfg.batch * 1e3 / stats_model["mean"]
    details = backend.info().details
    compile_s = details.get("compile_s")
    note = f"compile {compile_s:.1f} s" if compile_s is not None else f"setup {backend.setup_s:.1f} s"
    row = Row(cfg.label, "model-only", cfg.batch * len(m["model_ms"]), img_s, stats_all["p50"], stats_all["p99"],
              stats_model["p50"], stats_model["p99"], note=note,
              extra={"compile_s": compile_s, "setup_s": round(backend.setup_s, 2), "precision": cfg.precision,
                     "backend": cfg.backend, "mode": cfg.mode})
    bench.add(row, spec, cfg, backend, lat_all=m["wall_ms"], lat_model=m["model_ms"])


def e2e_step(bench: Bench, cfg: Config, spec, backend, kind: str, manifest, cached, device: str | None = None) -> None:
    from valsuite.data.cache import CachedDataset, cached_batches
    from valsuite.data.gpu_decode import GpuDecodeStage, encoded_loader
    from valsuite.data.loader import ManifestDataset, iterate_batches, make_loader
    from valsuite.evaluate.validate import run_validation

    args, pp, stage = bench.args, spec.preprocess, None
    device = device or args.device
    cuda = device == "cuda"
    if kind == "cached":
        view = CachedDataset(manifest, pp, cached.path, cached.info)
        batches, how = cached_batches(view, cfg.batch, threads=args.workers, pin_memory=cuda), f"{args.workers} threads"
    elif kind == "jpeg-gpu":
        batches, stage = encoded_loader(manifest, pp, cfg.batch, args.read_threads), GpuDecodeStage(pp)
        how = f"{args.read_threads} read threads"
    else:
        loader = make_loader(ManifestDataset(manifest, pp), cfg.batch, args.workers, pin_memory=cuda)
        batches, how = iterate_batches(loader), f"{args.workers} workers"
    result = run_validation(backend, batches, len(manifest), pp, cfg.batch, progress=False, stage=stage,
                            inflight=args.inflight)
    s = result.summary()
    label = cfg.label if cfg.backend != "null" else f"null ({device})"
    extra = {"decode": stage.describe()} if stage is not None else {}
    row = Row(label, f"e2e {kind} ({how})", len(manifest), result.e2e_throughput(), s["latency_all_ms"]["p50"],
              s["latency_all_ms"]["p99"], s["latency_model_ms"]["p50"], s["latency_model_ms"]["p99"],
              note=s["pipeline_stage"], extra=extra | {"kind": kind, "inflight": args.inflight})
    bench.add(row, spec, cfg, backend, result=result, device=device, dataset=manifest.describe() | {"generated": True})


def plain_step(bench: Bench, cfg: Config, spec, backend, root: Path, count: int) -> None:
    from valsuite.results.record import latency_stats

    workers = bench.args.read_threads
    res = plain_torchvision(root, spec, backend, cfg.batch, workers, count, bench.args.device)
    lat = latency_stats(res["latency_ms"])
    row = Row(cfg.label, f"plain torchvision (ImageFolder+PIL, {workers} workers)", count, res["img_s"],
              lat["p50"], lat["p99"], note=f"{workers} workers", extra={"kind": "plain"})
    bench.add(row, spec, cfg, backend, lat_all=res["latency_ms"])


def agreement_step(bench: Bench, cfg: Config, spec, backend, manifest) -> None:
    res = decode_agreement(manifest, spec, backend, cfg.batch, bench.args.read_threads)
    note = (f"top-1 identical {res['top1_identical_pct']:.2f}% ({res['top1_differ']} differ); Prec@1 CPU decode "
            f"{res['prec1_cpu']:.2f}, GPU decode {res['prec1_gpu']:.2f}; mean |dpixel| "
            f"{res['mean_abs_pixel_diff']:.3f}, max {res['max_abs_pixel_diff']}")
    row = Row(f"{spec.network} torch:fp32", f"decode agreement: {manifest.root.name}", res["images"], note=note,
              extra=res | {"kind": "agreement"})
    bench.add(row, spec, cfg, backend, dataset=manifest.describe())


def cpu_target_step(bench: Bench, spec, manifest) -> None:
    """benchmarks/cpu_speed.py's measurement on this machine's CPU (ONNX Runtime, all cores)."""
    import importlib.util
    import shutil
    import tempfile

    import torch

    from valsuite.backends import BackendOptions, create_backend
    from valsuite.data.cache import open_cache

    loaded = importlib.util.spec_from_file_location("cpu_speed", REPO / "benchmarks" / "cpu_speed.py")
    cpu_speed = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(cpu_speed)
    folder = Path(tempfile.mkdtemp(prefix="cpu-target-", dir=bench.out))
    torch_threads = torch.get_num_threads()
    try:
        cached = open_cache(folder, manifest, spec.preprocess, bench.args.workers, progress=False)
        opts = BackendOptions(weights_dir=bench.out / "weights", batch_size=50)     # ONNX Runtime: every core
        cfg = Config("onnxruntime", "fp32", 50)
        torch.set_num_threads(1)            # as cpu_speed.py: normalisation is tiny, the cores are the engine's
        with create_backend("onnxruntime", spec, "fp32", "cpu", opts) as ort:
            img_s, result = cpu_speed.e2e(ort, cached, spec.preprocess, 50, threads=1)
            in_pass = result.timed_images * 1e3 / sum(result.latency_model_ms)
            row = Row(f"{spec.network} onnxruntime:fp32:b50 (cpu)", "cpu target: cached e2e / model-only",
                      len(manifest), img_s, note=f"ratio {img_s / in_pass:.3f} (model-only {in_pass:.1f} img/s)",
                      extra={"kind": "cpu-target", "ratio": img_s / in_pass, "model_only_img_s": in_pass,
                             "cores": os.cpu_count()})
            bench.add(row, spec, cfg, ort, result=result, device="cpu", dataset=manifest.describe())
    finally:
        torch.set_num_threads(torch_threads)
        shutil.rmtree(folder, ignore_errors=True)


SWEEP_CHILD = r"""
import sys, time, torch, torchvision
precision, batch = sys.argv[1], int(sys.argv[2])
dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
m = torchvision.models.resnet50().eval().to("cuda", dtype).to(memory_format=torch.channels_last)
x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=dtype).contiguous(memory_format=torch.channels_last)
with torch.inference_mode():
    for _ in range(60):
        m(x)
torch.cuda.synchronize()
print(torch.cuda.get_device_name())
"""


def sweep_step(bench: Bench) -> None:
    """8 configurations as child processes: one GPU after the other, then one pinned process per GPU."""
    import torch

    from valsuite.models import resolve
    from valsuite.sharding import run_on_gpus, visible_gpus

    spec = resolve(bench.args.network, None, True)
    gpus = visible_gpus(torch.cuda.device_count())
    if len(gpus) < 2:
        bench.add(Row("-", "sweep: 2 GPUs vs 1", note=f"not run: {len(gpus)} GPU visible (no 2-GPU machine lent)",
                      extra={"kind": "sweep", "gpus": len(gpus)}), spec)
        return
    jobs = [(p, b) for p in ("fp16", "bf16") for b in (32, 64, 128, 256)]

    def child(job, env, gpu):
        subprocess.run([sys.executable, "-c", SWEEP_CHILD, job[0], str(job[1])], env=env, check=True,
                       capture_output=True)

    walls = {}
    for used in (gpus[:1], gpus[:2]):
        start = time.perf_counter()
        run_on_gpus(jobs, used, child)
        walls[len(used)] = time.perf_counter() - start
    speedup = walls[1] / walls[2]
    bench.add(Row("-", "sweep: 2 GPUs vs 1", len(jobs), note=f"speed-up {speedup:.2f} ({walls[1]:.1f} s vs {walls[2]:.1f} s)",
                  extra={"kind": "sweep", "gpus": 2, "speedup": speedup, "wall_1gpu_s": walls[1],
                         "wall_2gpu_s": walls[2]}), spec)


# -- report (from rows, which are also rebuilt from records by --render) -----------------------

def _find(rows, config: str, kind: str):
    return next((r for r in rows if r.config == config and r.extra.get("kind", r.step) == kind and r.img_s), None)


def _ratio(a, b):
    return a.img_s / b.img_s if a is not None and b is not None and b.img_s else None


def targets(rows: list[Row], facts: dict) -> list[list]:
    out = []

    def add(name, value, goal, threshold, fmt="{:.3f}"):
        status = "not measured" if value is None else ("met" if value >= threshold else "missed")
        out.append([name, "n/a" if value is None else fmt.format(value), goal, status])

    jc = facts.get("jpeg_config", "")
    gpu, cpu, plain = _find(rows, jc, "jpeg-gpu"), _find(rows, jc, "jpeg-cpu"), _find(rows, jc, "plain")
    add(f"JPEG pass, GPU decode ({facts.get('read_threads')} read threads, {jc}) / plain torchvision "
        f"({facts.get('read_threads')} workers)", _ratio(gpu, plain), ">= 4", 4)
    add(f"JPEG pass, GPU decode / the suite's CPU-decode pass ({facts.get('workers')} workers)",
        _ratio(gpu, cpu), ">= 1", 1)
    model = [r for r in rows if r.step == "model-only" and r.img_s]
    best16 = max((r for r in model if r.extra.get("precision") == "fp16"), key=lambda r: r.img_s, default=None)
    add(f"best FP16 model-only ({best16.config if best16 else '-'}) / {CEILING_IMG_S:,} img/s",
        best16.img_s / CEILING_IMG_S if best16 else None, ">= 0.30", 0.30)
    best = max(model, key=lambda r: r.img_s, default=None)
    null_cached = _find(rows, "null (cuda)", "cached") or _find(rows, "null (cpu)", "cached")
    add(f"null-backend cached pipeline / best model-only ({best.config if best else '-'})",
        _ratio(null_cached, best), ">= 5", 5)
    sweep = next((r for r in rows if r.extra.get("kind") == "sweep"), None)
    speed = sweep.extra.get("speedup") if sweep else None
    out.append(["sweep of 8 configurations, 2 GPUs / 1 GPU (wall time)", "n/a" if speed is None else f"{speed:.3f}",
                ">= 1.8", ("met" if speed >= 1.8 else "missed") if speed is not None else
                (f"not run: {sweep.note.split(': ', 1)[-1]}" if sweep else "not measured")])
    ct = next((r for r in rows if r.extra.get("kind") == "cpu-target"), None)
    cores = f"{ct.extra['cores']} cores of this machine" if ct and ct.extra.get("cores") else "this machine"
    add(f"CPU ({cores}): cached e2e / model-only (ONNX Runtime, EfficientNet-Lite0)",
        ct.extra["ratio"] if ct else None, ">= 0.9", 0.9)
    return out


def ceiling_table(rows: list[Row]) -> list[list]:
    """Model-only throughput of each backend/precision as a share of the ResNet50 FP16 ceiling."""
    table = []
    for r in rows:
        if r.step == "model-only" and r.img_s:
            compile_s = r.extra.get("compile_s")
            table.append([r.config, f"{r.img_s:,.0f}", f"{r.img_s / CEILING_IMG_S:.3f}",
                          "" if compile_s is None else f"{compile_s:.1f}"])
    return table


def _fmt(value, digits=1):
    return "" if value is None else (f"{value:,.{digits}f}" if isinstance(value, float) else str(value))


def section(rows: list[Row], failures: list[str], facts: dict, gpu: str, wall_s: float | None = None,
            name: str = "") -> str:
    from tabulate import tabulate

    headers = ["config", "step", "images", "img/s", "p50 all ms", "p99 all ms", "p50 model ms", "p99 model ms", "note"]
    table = [[r.config, r.step, r.images, _fmt(r.img_s), _fmt(r.p50_all, 2), _fmt(r.p99_all, 2),
              _fmt(r.p50_model, 2), _fmt(r.p99_model, 2), r.note] for r in rows]
    title = (f"{facts.get('network')} (random weights), {facts.get('num_images')} JPEGs "
             f"({facts.get('source')}), workers {facts.get('workers')}, read threads {facts.get('read_threads')}; {gpu}")
    parts = [f"#### GPU speed{', ' + name if name else ''}: {title}", tabulate(table, headers, tablefmt="github"),
             "#### Targets", tabulate(targets(rows, facts), ["target", "measured", "goal", "status"], tablefmt="github"),
             f"#### Model-only throughput / {CEILING_IMG_S:,} img/s (ResNet50 FP16 compute ceiling)",
             tabulate(ceiling_table(rows), ["config", "img/s", "fraction", "compile s"], tablefmt="github"),
             "#### Failures / skipped steps\n\n" + ("\n".join(f"- {f}" for f in failures) or "none")]
    if wall_s is not None:
        parts.append(f"total wall time {wall_s:.0f} s")
    return "\n\n".join(parts)


def report(rows, failures, facts, out: Path, wall_s: float) -> None:
    from valsuite.fileio import atomic_write_json
    from valsuite.results.environment import environment

    env = environment()
    text = section(rows, failures, facts, env.get("gpu") or env.get("cpu") or "", wall_s)
    print("\n" + text)
    (out / "summary.md").write_text(text + "\n", encoding="utf-8")
    (out / "records" / "failures.txt").write_text("".join(f + "\n" for f in failures), encoding="utf-8")
    atomic_write_json(out / "summary.json", {"rows": [asdict(r) for r in rows], "targets": targets(rows, facts),
                                             "failures": failures, "facts": facts, "environment": env})


def render(records_dir: Path) -> str:
    """The section again, from the run records alone (what the README shows)."""
    from valsuite.results.record import load_records

    records = sorted((r for r in load_records(records_dir) if r.get("kind") == "benchmark"
                      and "row" in (r.get("benchmark") or {})), key=lambda r: r["benchmark"]["seq"])
    if not records:
        raise ValsuiteError(f"no benchmark records in {records_dir}")
    rows = [Row(**r["benchmark"]["row"]) for r in records]
    facts = records[0]["benchmark"]["facts"]
    env = next((r["environment"] for r in records if (r.get("environment") or {}).get("gpu")), records[0]["environment"])
    notes = Path(records_dir) / "failures.txt"          # what the run listed as failed or skipped
    failures = notes.read_text(encoding="utf-8").splitlines() if notes.is_file() else []
    return section(rows, [f for f in failures if f.strip()], facts, env.get("gpu") or env.get("cpu") or "",
                   name=Path(records_dir).name)


BEGIN, END = "<!-- valsuite:gpu-speed:begin -->", "<!-- valsuite:gpu-speed:end -->"


def write_readme_section(readme: Path, text: str) -> None:
    """Replace the text between the GPU-speed markers of the README (nothing else changes)."""
    from valsuite.fileio import atomic_write_text

    content = readme.read_text(encoding="utf-8")
    if content.count(BEGIN) != 1 or content.count(END) != 1 or content.index(BEGIN) > content.index(END):
        raise ValsuiteError(f"{readme} needs exactly one {BEGIN} ... {END} pair")
    head, rest = content.split(BEGIN)
    tail = rest.split(END)[1]
    note = "<!-- generated by `python benchmarks/gpu_speed.py --render RECORDS --readme README.md`: edit the records or the renderer -->"
    atomic_write_text(readme, f"{head}{BEGIN}\n{note}\n\n{text}\n{END}{tail}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, help="everything is written under this folder")
    p.add_argument("--render", type=Path, nargs="+", default=None, metavar="RECORDS_DIR",
                   help="print the summary section rendered from each run's records (one section per run), and stop")
    p.add_argument("--readme", type=Path, default=None, help="with --render: write the section into this README")
    p.add_argument("--source", type=Path, default=None, help="folder of real JPEGs, used as they are")
    p.add_argument("--num-images", type=int, default=20_000, help="JPEG files in the set (default: %(default)s)")
    p.add_argument("--network", default="resnet50")
    p.add_argument("--weights", default=None, help="default: random weights (speed only)")
    p.add_argument("--configs", default=DEFAULT_CONFIGS, help="backend:precision:batch[:graph|:peak],...")
    p.add_argument("--jpeg-config", default="inductor:fp16:b256:peak",
                   help="the configuration (label) the three JPEG pipelines run with (default: %(default)s)")
    p.add_argument("--inductor-mode", choices=("jit", "aot"), default="jit", help="for inductor configs without :peak")
    p.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1),
                   help="CPU-decode worker processes and cache reader threads")
    p.add_argument("--read-threads", type=int, default=4,
                   help="file-reading threads of the GPU-decode pass, and the plain torchvision pipeline's workers")
    p.add_argument("--inflight", type=int, default=2, help="batches in flight for the end-to-end passes")
    p.add_argument("--null-batch", type=int, default=256)
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a dry run of the script")
    p.add_argument("--baseline-images", type=int, default=8000, help="images for the CPU-decode passes")
    p.add_argument("--plain-images", type=int, default=3000, help="images for the plain torchvision pipeline")
    p.add_argument("--agreement-dataset", type=Path, default=None,
                   help="a labelled DIR/<wnid>/*.JPEG set (the shared sample): decode agreement and the CPU target")
    p.add_argument("--agreement-network", default="efficientnet_lite0", help="real weights for the agreement")
    p.add_argument("--model-only-s", type=float, default=2.0, help="seconds of model-only timing per config")
    p.add_argument("--budget-s", type=float, default=420.0, help="skip the steps that would start after this")
    return p


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        if args.render is not None:
            text = "\n\n".join(render(folder) for folder in args.render)
            if args.readme is not None:
                write_readme_section(args.readme, text)
            else:
                print(text)
            return 0
        if args.out is None:
            raise ValsuiteError("--out is required (or --render RECORDS_DIR)")
        return run(args)
    except ValsuiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
