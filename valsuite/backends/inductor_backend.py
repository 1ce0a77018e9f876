"""Compiled PyTorch (TorchInductor): torch.compile in the run, or an AOTInductor package on disk.

jit (default): torch.compile(dynamic=False, freezing) compiled once at the run's batch size.
  Why static: a validation run has one batch size plus a partial last batch. A static graph gets
  shape-specialised kernels (and can be put in a CUDA graph); the partial batch is padded to the
  compiled size instead of paying a second compilation (a full compile of ResNet50 costs tens of
  seconds; one padded batch costs one batch of compute). A dynamic-batch compile would serve all
  sizes with one compilation but with kernels that cannot specialise on the batch.
aot: torch.export with a dynamic batch dimension + torch._inductor.aoti_compile_and_package to
  weights/<stem>_<precision>_<device>.pt2 with a sidecar (key: torch version, GPU, precision,
  parameter hash). Here one artifact serves every batch size of a sweep, which is what a cached
  engine is for; a matching package is loaded with aoti_load_package and never recompiled.

peak (CUDA): the settings for the highest model-only throughput: torch.compile with max-autotune
  (GEMM and pointwise autotuning, coordinate-descent tuning), freezing, cuDNN's own algorithm
  search (cudnn.benchmark) for the convolutions, channels-last, FP16/BF16, and the compiled model
  captured in a CUDA graph (our capture, CudaGraphRunner, not inductor's cudagraph trees, whose
  outputs are overwritten by the next replay while --inflight keeps a batch pending). Convolutions
  stay on cuDNN (max_autotune_conv_backends=ATEN): Triton convolution templates would add minutes
  of autotuning to the compile for ResNet50 and rarely beat cuDNN in FP16 channels-last.

The compile (or load) time is measured in activate() and recorded as backend_details.compile_s /
load_s, apart from every latency. FP16/BF16 on CUDA only, as for the torch backend.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

from valsuite.backends.base import Backend, BackendInfo
from valsuite.backends.cuda_launch import LaunchesOnCuda
from valsuite.backends.torch_backend import CudaGraphRunner, _require_cuda, count_torch
from valsuite.errors import ValsuiteError
from valsuite.fileio import artifact_lock, publish, read_sidecar, sha256_file, sidecar_stale_reason, write_sidecar

log = logging.getLogger(__name__)


def _drop_no_cuda_runtime(record: logging.LogRecord) -> bool:
    """torch.utils.cpp_extension warns 'No CUDA runtime is found' on import whenever a CUDA
    toolkit is installed but no GPU is usable; inductor imports it for every CPU compile, so each
    CPU row printed it although nothing is wrong. Only that one message is dropped."""
    return not str(record.msg).startswith("No CUDA runtime is found")


logging.getLogger("torch.utils.cpp_extension").addFilter(_drop_no_cuda_runtime)

AOT_MAX_BATCH = 4096
AOT_FORMAT = 1
MODES = ("jit", "aot", "peak")
PEAK_OPTIONS = {"freezing": True, "max_autotune": True, "coordinate_descent_tuning": True,
                "max_autotune_conv_backends": "ATEN", "triton.cudagraphs": False}


class InductorBackend(LaunchesOnCuda, Backend):
    name = "inductor"
    precisions = ("fp32", "fp16", "bf16")
    devices = ("cpu", "cuda")

    def __init__(self, spec, precision="fp32", device="cpu", options=None) -> None:
        super().__init__(spec, precision, device, options)
        self.mode = self.options.inductor.inductor_mode
        if self.mode not in MODES:
            raise ValsuiteError(f"--inductor-mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if device == "cpu" and precision != "fp32":
            raise ValsuiteError(f"inductor {precision} runs on CUDA only here", hint="use --device cuda")
        if self.options.cuda_graph and device != "cuda":
            raise ValsuiteError("--cuda-graph needs --device cuda")
        if self.mode == "peak" and device != "cuda":
            raise ValsuiteError("--inductor-mode peak is for CUDA (max-autotune and CUDA graphs)",
                                hint="use --device cuda, or --inductor-mode jit on a CPU")
        if self.options.cuda_graph and self.mode == "aot":
            raise ValsuiteError("--cuda-graph with the inductor backend uses torch.compile",
                                hint="use --inductor-mode jit")
        if device == "cuda":
            _require_cuda()
        self.graph = None
        self.details: dict = {}

    @classmethod
    def available(cls, options=None) -> tuple[bool, str]:
        try:
            import torch._inductor  # noqa: F401
        except ImportError as exc:
            return False, f"torch without inductor: {exc}"
        return True, ""

    # -- activation --------------------------------------------------------------------------
    def _activate(self) -> None:
        import torch

        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.precision]
        module = self.spec.build()
        self.layers, self.params, self.nbytes = count_torch(module)
        params_sha = _params_sha256(module) if self.mode == "aot" else None
        module = module.to(device=self.device, dtype=self.dtype, memory_format=torch.channels_last)
        from valsuite.heads.torch_heads import wrap_head

        net = _FloatOutput(wrap_head(module, self.options.head)).eval()   # the head is compiled in
        self.stream = torch.cuda.Stream() if self.device == "cuda" else None
        if self.mode == "jit":
            self.fn, self.static_batch = self._compile_jit(net), self.options.batch_size
        elif self.mode == "peak":
            self.fn, self.static_batch = self._compile_peak(net), self.options.batch_size
        else:
            self.fn, self.static_batch = self._aot(net, params_sha), None
        if self.options.cuda_graph or self.mode == "peak":
            start = time.perf_counter()
            self.graph = CudaGraphRunner(self.fn, self.options.batch_size, self.spec.input_shape, self.dtype)
            self.details["cuda_graph_capture_s"] = round(time.perf_counter() - start, 3)

    def _example(self, batch: int):
        import torch

        x = torch.zeros((batch, *self.spec.input_shape), device=self.device, dtype=self.dtype)
        return x.contiguous(memory_format=torch.channels_last)

    def _compile_jit(self, net):
        import torch

        # weights are constants during inference: let inductor fold them, unless the FX graph cache
        # matters more (--inductor-no-freezing)
        freezing = not self.options.inductor.no_freezing
        fn = torch.compile(net, dynamic=False, options={"freezing": freezing})
        start = time.perf_counter()
        with torch.inference_mode():
            fn(self._example(self.options.batch_size))      # compiles here, once
            _sync(self.device)
        compile_s = time.perf_counter() - start
        self.details.update(mode="jit", dynamic=False, freezing=freezing, compile_s=round(compile_s, 3),
                            compiled_batch=self.options.batch_size,
                            partial_batches="padded to the compiled batch size, outputs sliced")
        log.info("torch.compile of %s at batch %d: %.1f s", self.spec.network, self.options.batch_size, compile_s)
        return fn

    def _compile_peak(self, net):
        import torch

        torch.backends.cudnn.benchmark = True        # cuDNN times its algorithms once per shape
        fn = torch.compile(net, dynamic=False, options=dict(PEAK_OPTIONS))
        start = time.perf_counter()
        with torch.inference_mode():
            fn(self._example(self.options.batch_size))      # compiles and autotunes here, once
            _sync(self.device)
        compile_s = time.perf_counter() - start
        self.details.update(mode="peak", dynamic=False, compile_options=dict(PEAK_OPTIONS), cudnn_benchmark=True,
                            compile_s=round(compile_s, 3), compiled_batch=self.options.batch_size,
                            partial_batches="padded to the compiled batch size, outputs sliced")
        log.info("torch.compile (peak) of %s at batch %d: %.1f s", self.spec.network, self.options.batch_size,
                 compile_s)
        return fn

    def _aot(self, net, params_sha: str):
        import torch

        path = self.package_path()
        key = self._aot_key(params_sha)
        compile_s = 0.0
        with artifact_lock(path):   # parallel runs: the second waits, then loads the same package
            reason = _package_stale(path, read_sidecar(path), key)
            if reason is not None:
                if reason != "missing":
                    log.warning("AOT package %s is stale (%s): recompiling", path, reason)
                compile_s = self._build_package(net, path, key)
        start = time.perf_counter()
        try:
            runner = torch._inductor.aoti_load_package(str(path))
        except Exception as exc:  # a foreign or truncated package must not crash with a traceback
            raise ValsuiteError(f"cannot load AOTInductor package {path}: {exc}".splitlines()[0]) from exc
        load_s = time.perf_counter() - start
        self.package = path
        self.details.update(mode="aot", dynamic=True, max_batch=AOT_MAX_BATCH, package=str(path),
                            package_reused=reason is None, compile_s=round(compile_s, 3),
                            load_s=round(load_s, 3), package_sha256=read_sidecar(path).get("sha256"))
        return runner

    def package_path(self) -> Path:
        head = self.options.head
        tag = "" if head is None or head.is_identity else f"_{head.tag}"
        return Path(self.options.weights_dir) / f"{self.spec.artifact_stem}{tag}_{self.precision}_{self.device}.pt2"

    def _aot_key(self, params_sha: str) -> dict:
        import torch

        head = self.options.head
        gpu = None
        if self.device == "cuda":
            gpu = f"{torch.cuda.get_device_name()} sm{''.join(map(str, torch.cuda.get_device_capability()))}"
        return {"format": AOT_FORMAT, "torch": torch.__version__, "gpu": gpu, "precision": self.precision,
                "device": self.device, "params_sha256": params_sha, "network": self.spec.network,
                "weights": self.spec.weights_id, "input_shape": list(self.spec.input_shape),
                "max_batch": AOT_MAX_BATCH, "channels_last": True,
                "head": None if head is None or head.is_identity else head.describe()}

    def _build_package(self, net, path: Path, key: dict) -> float:
        import torch
        from torch.export import Dim

        start = time.perf_counter()
        path.parent.mkdir(parents=True, exist_ok=True)
        batch = Dim("batch", min=1, max=AOT_MAX_BATCH)
        with torch.inference_mode():
            program = torch.export.export(net, (self._example(2),), dynamic_shapes=({0: batch},))
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".pt2", dir=path.parent)
        os.close(fd)
        try:
            torch._inductor.aoti_compile_and_package(program, package_path=tmp)
            Path(path).with_name(path.name + ".json").unlink(missing_ok=True)
            publish(tmp, path)   # the user's umask, not mkstemp's 0600
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        compile_s = time.perf_counter() - start
        write_sidecar(path, {"key": key, "sha256": sha256_file(path), "compile_s": round(compile_s, 3),
                             "size_bytes": path.stat().st_size})
        log.info("AOTInductor package written: %s (%.1f s)", path, compile_s)
        return compile_s

    def _deactivate(self) -> None:
        self.fn = None
        self.graph = None

    # -- inference ---------------------------------------------------------------------------
    def _infer(self, batch):
        import torch

        with torch.inference_mode():
            if self.device == "cpu":
                n = int(batch.shape[0])
                x = self._pad(batch.to(self.dtype).contiguous(memory_format=torch.channels_last))
                start = time.perf_counter()
                out = self.fn(x)
                model_ms = (time.perf_counter() - start) * 1e3
                return out[:n].float(), model_ms
            if self.graph is not None:
                return self.graph.infer(batch, self.stream)
            return self._infer_cuda(batch)

    def _infer_cuda(self, batch):
        return self._launch(batch).wait()

    def _launch(self, batch):
        import torch

        from valsuite.backends.cuda_launch import launch

        def prepare(x):
            return self._pad(x.to(dtype=self.dtype, memory_format=torch.channels_last))

        return launch(prepare, self.fn, batch.to("cuda", non_blocking=True), self.stream,
                      rows=int(batch.shape[0]))

    def _pad(self, x):
        """Static compile: a smaller batch is padded with zeros to the compiled size (no recompile)."""
        import torch

        n = int(x.shape[0])
        if self.static_batch is None or n == self.static_batch:
            return x
        if n > self.static_batch:
            raise ValsuiteError(f"batch of {n} is larger than the compiled batch size {self.static_batch}")
        padded = torch.zeros((self.static_batch, *x.shape[1:]), dtype=x.dtype, device=x.device)
        padded = padded.contiguous(memory_format=torch.channels_last)
        padded[:n].copy_(x)
        return padded

    def info(self) -> BackendInfo:
        details = dict(self.details)
        if self.graph is not None:
            details |= self.graph.describe()
        if self.mode == "aot":
            size = self.package.stat().st_size / 2**20
            details["size_is"] = "AOTInductor package on disk"
            return BackendInfo(model_size_mb=size, num_layers=self.layers, num_params=self.params,
                               artifact=str(self.package), details=details)
        size = self.nbytes / 2**20 / (2 if self.precision in ("fp16", "bf16") else 1)
        details["size_is"] = "bytes of parameters and buffers in the run precision"
        return BackendInfo(model_size_mb=size, num_layers=self.layers, num_params=self.params,
                           artifact=self.spec.weights_path, details=details)


def _float_output_class():
    import torch

    class FloatOutput(torch.nn.Module):
        """The model with its logits cast to float32 inside the compiled graph (one fused kernel)."""

        def __init__(self, module) -> None:
            super().__init__()
            self.module = module

        def forward(self, x):
            return self.module(x).float()

    return FloatOutput


def _FloatOutput(module):
    return _float_output_class()(module)


def _params_sha256(module) -> str:
    """Hash of every parameter and buffer: a package never outlives the weights it was built from."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _package_stale(path: Path, sidecar: dict | None, key: dict) -> str | None:
    return sidecar_stale_reason(path, sidecar, key, key_field="key", content_field="sha256")


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
