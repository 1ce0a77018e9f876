"""GPU speed benchmark (issue 7): one command, one run, everything written under --out.

    python3 benchmarks/gpu_speed.py --out outputs/gpu_speed [--source DIR_OF_JPEGS] [--quick]

For each configuration (backend:precision:batch[:graph], default the four the targets need) it
measures model-only throughput (input already on the device), end-to-end validation throughput
from the cache and from JPEG files (GPU decode), their ratio, p50/p99 latency, a CPU-decode JPEG
pass and a plain torchvision ImageFolder + DataLoader + PIL pipeline with the same worker count.
It makes its own JPEG set (sources re-encoded at 500x375, quality 90, replicated to --num-images
files in 1000 class folders), writes a run record per measurement (valsuite.results.record), the
tables to OUT/summary.md and OUT/summary.json, and prints the issue's targets marked met/missed.
A step that fails is reported as failed and the run goes on; steps past --budget-s are skipped.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from valsuite.errors import ValsuiteError  # noqa: E402

log = logging.getLogger("gpu_speed")
CEILING_IMG_S = 120_000          # H100 dense FP16 989 TFLOP/s / 8.2 GFLOP per ResNet50 image
DEFAULT_CONFIGS = "torch:fp16:256,inductor:fp16:256,torch:fp16:1,torch:fp16:1:graph"


@dataclass(frozen=True)
class Config:
    backend: str
    precision: str
    batch: int
    graph: bool = False

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.precision}:b{self.batch}" + (":graph" if self.graph else "")


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
        if len(bits) not in (3, 4) or (len(bits) == 4 and bits[3] != "graph"):
            raise ValsuiteError(f"bad config {part!r}", hint="backend:precision:batch[:graph]")
        configs.append(Config(bits[0], bits[1], int(bits[2]), len(bits) == 4))
    return configs


# -- the JPEG set -----------------------------------------------------------------------------

def source_images(source: Path | None, count: int = 60):
    """PIL RGB images: the carried JPEGs, or seeded synthetic photos-like images when none given."""
    import numpy as np
    from PIL import Image

    if source is not None:
        files = sorted(p for p in Path(source).rglob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
        if not files:
            raise ValsuiteError(f"--source {source}: no .JPEG/.jpg/.png files")
        for path in files[:count]:
            with Image.open(path) as img:
                yield path.name, img.convert("RGB")
        return
    for i in range(count):
        rng = np.random.default_rng(i)
        h, w = 375, 500
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack([np.sin(xx / rng.uniform(20, 90) + c) * np.cos(yy / rng.uniform(20, 90) - c)
                         for c in rng.uniform(0, 6, 3)], axis=-1)
        img = (base * 80 + 128 + rng.normal(0, 12, (h, w, 3))).clip(0, 255).astype(np.uint8)
        yield f"synthetic_{i:03d}.png", Image.fromarray(img)


def make_jpeg_set(out: Path, source: Path | None, num_images: int) -> Path:
    """out/jpegs/<wnid>/*.JPEG: variants at ~500x375 q90, hard-linked to num_images files (reused)."""
    from valsuite.data.synsets import builtin_mapping
    from valsuite.fileio import atomic_write_json, read_json

    root = out / "jpegs"
    key = {"num_images": num_images, "source": str(source) if source else "synthetic", "format": 1}
    stamp = out / "jpegs.json"
    if stamp.exists() and read_json(stamp) == key and root.is_dir():
        log.info("JPEG set reused: %s (%d files)", root, num_images)
        return root
    variants = out / "jpeg_variants"
    variants.mkdir(parents=True, exist_ok=True)
    made = []
    for name, img in source_images(source):
        landscape = img.width >= img.height
        img = img.resize((500, 375) if landscape else (375, 500), resample=3)
        path = variants / f"{Path(name).stem}.JPEG"
        img.save(path, format="JPEG", quality=90)
        made.append(path)
    wnids = builtin_mapping().wnids
    per_class = -(-num_images // len(wnids))
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    for k in range(num_images):
        target = root / wnids[k // per_class] / f"img_{k:06d}.JPEG"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(made[k % len(made)], target)
        except OSError:
            shutil.copyfile(made[k % len(made)], target)
    sizes = [p.stat().st_size for p in made]
    atomic_write_json(stamp, key)
    log.info("JPEG set: %d files from %d variants (mean %.0f KB) in %s", num_images, len(made),
             sum(sizes) / len(sizes) / 1024, root)
    return root


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


def subset(manifest, count: int):
    from valsuite.data.manifest import Manifest

    return Manifest(manifest.root, manifest.entries[:count], manifest.mapping, manifest.ignored_files)


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
    start = time.perf_counter()
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
    return {"img_s": seen / (end - t_first) if seen else None, "wall_s": end - start, "latency_ms": lat[1:]}


def decode_agreement(manifest, spec, backend, batch: int, workers: int) -> dict:
    """CPU path vs GPU decode on the same files: pixel differences and top-1 agreement."""
    import numpy as np
    import torch

    from valsuite.data.gpu_decode import GpuDecodeStage, encoded_loader
    from valsuite.data.loader import ManifestDataset, iterate_batches, make_loader
    from valsuite.evaluate.validate import run_validation, top1_array

    pp = spec.preprocess
    cpu_imgs, gpu_imgs = [], []
    for b in iterate_batches(make_loader(ManifestDataset(manifest, pp), batch, workers)):
        cpu_imgs.append(b.images)
    stage = GpuDecodeStage(pp)
    for staged in stage(encoded_loader(manifest, pp, batch, workers)):
        staged.ready()
        gpu_imgs.append(staged.device_images().cpu())
    cpu, gpu = torch.cat(cpu_imgs).int(), torch.cat(gpu_imgs).int()
    diff = (cpu - gpu).abs()
    runs = {}
    for name, batches, st in (
            ("cpu", iterate_batches(make_loader(ManifestDataset(manifest, pp), batch, workers, pin_memory=True)), None),
            ("gpu", encoded_loader(manifest, pp, batch, workers), GpuDecodeStage(pp))):
        runs[name] = run_validation(backend, batches, len(manifest), pp, batch, progress=False, stage=st)
    t_cpu, t_gpu = top1_array(runs["cpu"]), top1_array(runs["gpu"])
    return {"images": len(manifest), "mean_abs_pixel_diff": float(diff.float().mean()),
            "max_abs_pixel_diff": int(diff.max()), "pixels_differing_pct": float((diff > 0).float().mean() * 100),
            "top1_agree_pct": float((t_cpu == t_gpu).mean() * 100), "top1_differ": int((t_cpu != t_gpu).sum()),
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

    def over_budget(self) -> bool:
        return time.perf_counter() - self.t0 > self.args.budget_s

    def step(self, name: str, fn, *a, **kw):
        """Run one step; a failure is logged with its traceback and the run goes on."""
        if self.over_budget():
            self.failures.append(f"{name}: skipped (past --budget-s {self.args.budget_s} s)")
            log.warning("skipped %s: time budget spent", name)
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

    def record(self, cfg: Config, spec, backend, step: str, result=None, extra: dict | None = None,
               dataset=None, lat_all=None, lat_model=None, images=0, img_s=None) -> None:
        from valsuite.results.environment import environment
        from valsuite.results.record import latency_stats, new_record, write_record

        info = backend.info() if backend is not None else None
        summary = result.summary() if result is not None else {
            "num_images": images, "prec1": None, "prec5": None,
            "latency_all_ms": latency_stats(lat_all or []), "latency_model_ms": latency_stats(lat_model or []),
            "throughput_img_s": img_s}
        rec = new_record(
            "benchmark", network=spec.network, weights=spec.weights_id, backend=cfg.backend,
            precision=cfg.precision, device=self.args.device, batch_size=cfg.batch, **summary,
            model_size_mb=info.model_size_mb if info else None, num_layers=info.num_layers if info else None,
            num_params=info.num_params if info else None, backend_details=info.details if info else {},
            dataset=dataset or {}, environment=environment(), workers=self.args.workers,
            benchmark={"step": step, "config": cfg.label, "cuda_graph": cfg.graph, **(extra or {})})
        write_record(rec, results_dir=self.records_dir)


def run(args) -> int:
    import torch

    from valsuite.backends import BackendOptions, create_backend
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

    for cfg in configs:
        options = BackendOptions(weights_dir=bench.out / "weights", batch_size=cfg.batch, max_batch=cfg.batch,
                                 cuda_graph=cfg.graph, extra={"inductor_mode": args.inductor_mode})
        backend = bench.step(f"{cfg.label} activate", _activate, create_backend, cfg, spec, args.device, options)
        if backend is None:
            continue
        try:
            bench.step(f"{cfg.label} model-only", model_only_step, bench, cfg, spec, backend)
            big = cfg.batch >= 32
            count = args.num_images if big else min(args.num_images, args.small_batch_images)
            if cached is not None:
                bench.step(f"{cfg.label} cached", e2e_step, bench, cfg, spec, backend, "cached",
                           subset(manifest, count), cached, 1)
                if args.inflight > 1:
                    bench.step(f"{cfg.label} cached inflight", e2e_step, bench, cfg, spec, backend, "cached",
                               subset(manifest, count), cached)
            if big and args.device == "cuda":
                bench.step(f"{cfg.label} jpeg-gpu-decode", e2e_step, bench, cfg, spec, backend, "jpeg-gpu",
                           subset(manifest, count), None)
        finally:
            backend.deactivate()
            if args.device == "cuda":
                torch.cuda.empty_cache()

    base_cfg = max(configs, key=lambda c: (c.backend == "torch" and not c.graph, c.batch))
    base_cfg = Config("torch", base_cfg.precision, base_cfg.batch)
    options = BackendOptions(weights_dir=bench.out / "weights", batch_size=base_cfg.batch, max_batch=base_cfg.batch)
    backend = bench.step("baseline activate", _activate, create_backend, base_cfg, spec, args.device, options)
    if backend is not None:
        n = min(args.num_images, args.baseline_images)
        bench.step(f"{base_cfg.label} jpeg-cpu-decode", e2e_step, bench, base_cfg, spec, backend, "jpeg-cpu",
                   subset(manifest, n), None)
        bench.step(f"{base_cfg.label} plain-torchvision", plain_step, bench, base_cfg, spec, backend, root, n)
        if args.device == "cuda" and args.agreement_images > 0:
            bench.step("decode agreement (generated set)", agreement_step, bench, base_cfg, spec, backend,
                       subset(manifest, min(args.agreement_images, len(manifest))), "generated")
        if args.agreement_dataset is not None and args.device == "cuda":
            bench.step("decode agreement (given dataset)", agreement_step, bench, base_cfg, spec, backend,
                       scan_dataset(args.agreement_dataset), str(args.agreement_dataset))
        backend.deactivate()
    report(bench, configs, spec)
    return 0


def _activate(create_backend, cfg: Config, spec, device: str, options):
    backend = create_backend(cfg.backend, spec, cfg.precision, device, options)
    start = time.perf_counter()
    backend.activate()
    backend.setup_s = time.perf_counter() - start
    log.info("%s ready in %.1f s %s", cfg.label, backend.setup_s, backend.info().details)
    return backend


def build_cache_step(bench: Bench, spec, manifest):
    from valsuite.data.cache import open_cache

    start = time.perf_counter()
    dataset = open_cache(bench.out / "cache", manifest, spec.preprocess, bench.args.workers, progress=False)
    seconds = time.perf_counter() - start
    built = dataset.info["built"]
    bench.rows.append(Row("-", "cache build (CPU decode, workers)", len(manifest),
                          len(manifest) / seconds if built else None,
                          note="built" if built else "reused (not timed)", extra={"build_s": round(seconds, 2)}))
    return dataset


def model_only_step(bench: Bench, cfg: Config, spec, backend) -> None:
    from valsuite.results.record import latency_stats

    m = model_only(backend, spec, cfg.batch, bench.args.device, bench.args.model_only_s, 20)
    stats_model, stats_all = latency_stats(m["model_ms"]), latency_stats(m["wall_ms"])
    img_s = cfg.batch * 1e3 / stats_model["mean"]
    details = backend.info().details
    bench.rows.append(Row(cfg.label, "model-only", cfg.batch * len(m["model_ms"]), img_s, stats_all["p50"],
                          stats_all["p99"], stats_model["p50"], stats_model["p99"],
                          note=_compile_note(details, backend), extra={"compile_s": details.get("compile_s")}))
    bench.record(cfg, spec, backend, "model-only", lat_all=m["wall_ms"], lat_model=m["model_ms"],
                 images=cfg.batch * len(m["model_ms"]), img_s=img_s,
                 extra={"setup_s": backend.setup_s, "throughput_from": "latency_model_ms mean"})


def _compile_note(details: dict, backend) -> str:
    if "compile_s" in details:
        return f"compile {details['compile_s']:.1f} s"
    return f"setup {backend.setup_s:.1f} s"


def e2e_step(bench: Bench, cfg: Config, spec, backend, kind: str, manifest, cached, inflight: int | None = None) -> None:
    from valsuite.data.cache import CachedDataset, cached_batches
    from valsuite.data.gpu_decode import GpuDecodeStage, encoded_loader
    from valsuite.data.loader import ManifestDataset, iterate_batches, make_loader
    from valsuite.evaluate.validate import run_validation

    args, pp, stage = bench.args, spec.preprocess, None
    cuda = args.device == "cuda"
    if kind == "cached":
        view = CachedDataset(manifest, pp, cached.path, cached.info)
        batches = cached_batches(view, cfg.batch, threads=args.workers, pin_memory=cuda)
    elif kind == "jpeg-gpu":
        batches, stage = encoded_loader(manifest, pp, cfg.batch, args.workers), GpuDecodeStage(pp)
    else:
        batches = iterate_batches(make_loader(ManifestDataset(manifest, pp), cfg.batch, args.workers, pin_memory=cuda))
    inflight = args.inflight if inflight is None else inflight
    result = run_validation(backend, batches, len(manifest), pp, cfg.batch, progress=False, stage=stage,
                            inflight=inflight)
    step = f"e2e {kind}" + (f" inflight{inflight}" if inflight > 1 else "")
    s = result.summary()
    extra = {"decode": stage.describe()} if stage is not None else {}
    bench.rows.append(Row(cfg.label, step, len(manifest), result.e2e_throughput(),
                          s["latency_all_ms"]["p50"], s["latency_all_ms"]["p99"], s["latency_model_ms"]["p50"],
                          s["latency_model_ms"]["p99"], note=s["pipeline_stage"], extra=extra))
    bench.record(cfg, spec, backend, step.replace(" ", "-"), result=result, extra=extra,
                 dataset=manifest.describe() | {"generated": True})


def plain_step(bench: Bench, cfg: Config, spec, backend, root: Path, count: int) -> None:
    from valsuite.results.record import latency_stats

    res = plain_torchvision(root, spec, backend, cfg.batch, bench.args.workers, count, bench.args.device)
    lat = latency_stats(res["latency_ms"])
    bench.rows.append(Row(cfg.label, "plain torchvision (ImageFolder+PIL)", count, res["img_s"], lat["p50"], lat["p99"],
                          note=f"{bench.args.workers} workers"))
    bench.record(cfg, spec, backend, "plain-torchvision", lat_all=res["latency_ms"], images=count, img_s=res["img_s"])


def agreement_step(bench: Bench, cfg: Config, spec, backend, manifest, name: str) -> None:
    res = decode_agreement(manifest, spec, backend, cfg.batch, bench.args.workers)
    bench.rows.append(Row(cfg.label, f"decode agreement: {name}", res["images"],
                          note=(f"top-1 agree {res['top1_agree_pct']:.2f}% ({res['top1_differ']} differ), "
                                f"mean |dpixel| {res['mean_abs_pixel_diff']:.3f}, max {res['max_abs_pixel_diff']}, "
                                f"prec1 cpu {res['prec1_cpu']} gpu {res['prec1_gpu']}"), extra=res))


# -- report -----------------------------------------------------------------------------------

def _find(rows, config: str, step: str):
    for row in rows:
        if row.config == config and row.step == step and row.img_s:
            return row
    return None


def targets(bench: Bench, configs: list[Config]) -> list[list]:
    rows = bench.rows
    prec = "fp16" if any(c.precision == "fp16" for c in configs) else configs[0].precision
    big = max((c.batch for c in configs), default=256)
    eager, ind = f"torch:{prec}:b{big}", f"inductor:{prec}:b{big}"
    out = []

    def add(name, value, goal, met):
        out.append([name, "n/a" if value is None else f"{value:.3f}", goal,
                    "not measured" if value is None else ("met" if met else "missed")])

    mo, ca = _find(rows, eager, "model-only"), _find(rows, eager, "e2e cached")
    add(f"cached e2e / model-only ({eager})", ca.img_s / mo.img_s if ca and mo else None, ">= 0.9",
        bool(ca and mo and ca.img_s / mo.img_s >= 0.9))
    for conf in (eager, ind):
        m2 = _find(rows, conf, "model-only")
        for c2 in (r for r in rows if r.config == conf and r.step.startswith("e2e cached") and r.img_s):
            if m2 and (conf != eager or c2.step != "e2e cached"):
                add(f"{c2.step} / model-only ({conf})", c2.img_s / m2.img_s, ">= 0.9", c2.img_s / m2.img_s >= 0.9)
    jp = next((r for r in rows if r.step.startswith("e2e jpeg-gpu") and r.img_s and r.config in (eager, ind)), None)
    plain = next((r for r in rows if r.step.startswith("plain torchvision") and r.img_s), None)
    add(f"JPEG pass (GPU decode, {jp.config if jp else eager}) / plain torchvision",
        jp.img_s / plain.img_s if jp and plain else None, ">= 4", bool(jp and plain and jp.img_s / plain.img_s >= 4))
    best_jpeg = max((r for r in rows if r.step.startswith("e2e jpeg") and r.img_s), key=lambda r: r.img_s, default=None)
    add(f"best JPEG pass ({best_jpeg.config} {best_jpeg.step}) / plain torchvision" if best_jpeg else
        "best JPEG pass / plain torchvision", best_jpeg.img_s / plain.img_s if best_jpeg and plain else None,
        ">= 4", bool(best_jpeg and plain and best_jpeg.img_s / plain.img_s >= 4))
    mi = _find(rows, ind, "model-only")
    add(f"inductor / eager model-only ({prec} b{big})", mi.img_s / mo.img_s if mi and mo else None, ">= 1.6",
        bool(mi and mo and mi.img_s / mo.img_s >= 1.6))
    e1, g1 = _find(rows, f"torch:{prec}:b1", "model-only"), _find(rows, f"torch:{prec}:b1:graph", "model-only")
    add(f"eager b1 / cuda-graph b1 Latency-model p50", e1.p50_model / g1.p50_model if e1 and g1 else None, ">= 3",
        bool(e1 and g1 and e1.p50_model / g1.p50_model >= 3))
    best = max((r.img_s for r in rows if r.step == "model-only" and r.img_s and f":{prec}:" in r.config), default=None)
    out.append([f"best {prec} model-only img/s / {CEILING_IMG_S:,} (ResNet50 ceiling)",
                "n/a" if best is None else f"{best / CEILING_IMG_S:.3f} ({best:,.0f} img/s)", "report", "reported"])
    return out


def _fmt(value, digits=1):
    return "" if value is None else (f"{value:,.{digits}f}" if isinstance(value, float) else str(value))


def report(bench: Bench, configs: list[Config], spec) -> None:
    from tabulate import tabulate

    from valsuite.results.environment import environment

    headers = ["config", "step", "images", "img/s", "p50 all ms", "p99 all ms", "p50 model ms", "p99 model ms", "note"]
    table = [[r.config, r.step, r.images, _fmt(r.img_s), _fmt(r.p50_all, 2), _fmt(r.p99_all, 2),
              _fmt(r.p50_model, 2), _fmt(r.p99_model, 2), r.note] for r in bench.rows]
    goals = targets(bench, configs)
    env = environment()
    title = (f"{spec.network} ({spec.weights_id} weights), {bench.args.device}, workers {bench.args.workers}, "
             f"{bench.args.num_images} generated JPEGs; {env.get('gpu') or env.get('cpu') or ''}")
    text = "\n\n".join([
        f"# GPU speed: {title}",
        tabulate(table, headers, tablefmt="github"),
        "## Targets",
        tabulate(goals, ["target", "measured", "goal", "status"], tablefmt="github"),
        "## Failures / skipped steps\n\n" + ("\n".join(f"- {f}" for f in bench.failures) or "none"),
        f"total wall time {time.perf_counter() - bench.t0:.0f} s"])
    print("\n" + text)
    (bench.out / "summary.md").write_text(text + "\n", encoding="utf-8")
    from valsuite.fileio import atomic_write_json

    atomic_write_json(bench.out / "summary.json", {
        "title": title, "rows": [r.__dict__ for r in bench.rows], "targets": goals,
        "failures": bench.failures, "args": {k: str(v) for k, v in vars(bench.args).items()}, "environment": env})


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="everything is written under this folder")
    p.add_argument("--source", type=Path, default=None,
                   help="folder of source JPEGs (e.g. 60 carried sample images); default: synthetic images")
    p.add_argument("--num-images", type=int, default=50_000, help="JPEG files to generate (default: %(default)s)")
    p.add_argument("--network", default="resnet50")
    p.add_argument("--weights", default=None, help="default: random weights (speed only)")
    p.add_argument("--configs", default=DEFAULT_CONFIGS, help="backend:precision:batch[:graph],... (default: %(default)s)")
    p.add_argument("--inductor-mode", choices=("jit", "aot"), default="jit")
    p.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    p.add_argument("--inflight", type=int, default=2,
                   help="batches in flight for the end-to-end passes (the cached pass also runs with 1)")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a dry run of the script")
    p.add_argument("--baseline-images", type=int, default=8000,
                   help="images for the CPU-decode and plain torchvision passes (default: %(default)s)")
    p.add_argument("--small-batch-images", type=int, default=1000, help="images for passes at batch < 32")
    p.add_argument("--agreement-images", type=int, default=512, help="files for the CPU vs GPU decode check")
    p.add_argument("--agreement-dataset", type=Path, default=None,
                   help="a DIR/<wnid>/*.JPEG set (e.g. the shared sample) for CPU vs GPU decode top-1 agreement")
    p.add_argument("--model-only-s", type=float, default=3.0, help="seconds of model-only timing per config")
    p.add_argument("--budget-s", type=float, default=450.0, help="skip the steps that would start after this")
    p.add_argument("--quick", action="store_true", help="smoke run: 2,048 images, short timings")
    return p


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.quick:
        args.num_images = min(args.num_images, 2048)
        args.baseline_images = min(args.baseline_images, 1024)
        args.small_batch_images = min(args.small_batch_images, 200)
        args.agreement_images = min(args.agreement_images, 256)
        args.model_only_s = min(args.model_only_s, 1.0)
    try:
        return run(args)
    except ValsuiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
