"""The vanilla PyTorch reference: eager module, FP32 (FP16/BF16 on CUDA), optionally in a CUDA graph.

--cuda-graph captures the module at the run's batch size once (after warm-up on a side stream) and
replays it per batch: no per-kernel launch cost, which is what bounds batch-1 latency. A partial
last batch is padded to the captured size and its outputs sliced (the padded rows hold the
previous batch's data and are thrown away; in eval mode rows never mix, so the real rows are
computed exactly as in a full batch). Falling back to eager for that batch would be just as
correct but is not possible for a compiled graph without a recompile, so both backends pad.
"""

from __future__ import annotations

import time

from valsuite.backends.base import Backend, BackendInfo
from valsuite.backends.cuda_launch import LaunchesOnCuda
from valsuite.errors import ValsuiteError


def count_torch(module) -> tuple[int, int, int]:
    """(leaf modules, parameters, bytes of parameters and buffers) of a torch module."""
    leaves = sum(1 for m in module.modules() if not any(True for _ in m.children()))
    params = sum(p.numel() for p in module.parameters())
    nbytes = sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])
    return leaves, params, nbytes


class TorchBackend(LaunchesOnCuda, Backend):
    name = "torch"
    precisions = ("fp32", "fp16", "bf16")
    devices = ("cpu", "cuda")

    def __init__(self, spec, precision="fp32", device="cpu", options=None) -> None:
        super().__init__(spec, precision, device, options)
        if device == "cpu" and precision != "fp32":
            raise ValsuiteError(f"torch {precision} runs on CUDA only here",
                                hint="use --device cuda, or --backend onnxruntime for reduced precision on a CPU")
        if device == "cuda":
            _require_cuda()
        if self.options.cuda_graph and device != "cuda":
            raise ValsuiteError("--cuda-graph needs --device cuda")
        self.graph = None

    @classmethod
    def available(cls, options=None) -> tuple[bool, str]:
        return True, ""

    def _activate(self) -> None:
        import torch

        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.precision]
        from valsuite.heads.torch_heads import wrap_head

        module = self.spec.build()
        self.layers, self.params, self.nbytes = count_torch(module)
        module = wrap_head(module, self.options.head)   # the head runs on the device, inside Latency-model
        # channels-last: the layout oneDNN and cuDNN convolutions are fastest in (2x on this CPU)
        module = module.to(memory_format=torch.channels_last)
        if self.device == "cuda":
            set_tf32(self.options.trt.tf32)  # --tf32
            module = module.to(device="cuda", dtype=self.dtype)
            self.stream = torch.cuda.Stream()
        self.module = module
        if self.options.cuda_graph:
            self.graph = CudaGraphRunner(self.module, self.options.batch_size, self.spec.input_shape, self.dtype)

    def _deactivate(self) -> None:
        self.module = None
        self.graph = None

    def _infer(self, batch):
        import torch

        with torch.inference_mode():
            if self.device == "cpu":
                x = batch.to(torch.float32).contiguous(memory_format=torch.channels_last)
                start = time.perf_counter()
                out = self.module(x)
                model_ms = (time.perf_counter() - start) * 1e3
                return out.float(), model_ms
            return self._infer_cuda(batch)

    def _infer_cuda(self, batch):
        if self.graph is not None:
            return self.graph.infer(batch, self.stream)
        return self._launch(batch).wait()

    def _launch(self, batch):
        import torch

        from valsuite.backends.cuda_launch import launch

        def prepare(x):
            return x.to(dtype=self.dtype, memory_format=torch.channels_last)

        return launch(prepare, self.module, batch.to("cuda", non_blocking=True), self.stream)

    def layer_times(self, batch, runs: int):
        """torch.profiler per leaf module of the eager module (also under --cuda-graph: a graph
        replay has no modules), with the input prepared exactly as in infer()."""
        import torch

        from valsuite.evaluate.layer_profile import profile_torch

        x = batch.to(self.device).to(dtype=self.dtype if self.device == "cuda" else torch.float32)
        return profile_torch(self.module, x.contiguous(memory_format=torch.channels_last), runs)

    def info(self) -> BackendInfo:
        size = self.nbytes / 2**20
        if self.precision in ("fp16", "bf16"):
            size /= 2
        details = {"size_is": "bytes of parameters and buffers in the run precision"}
        if self.device == "cuda":
            import torch

            details["tf32"] = bool(torch.backends.cudnn.allow_tf32)
        if self.graph is not None:
            details |= self.graph.describe()
        return BackendInfo(model_size_mb=size, num_layers=self.layers, num_params=self.params,
                           artifact=self.spec.weights_path, details=details)


class CudaGraphRunner:
    """`fn` captured in a CUDA graph at a fixed batch size; smaller batches are padded, then sliced."""

    def __init__(self, fn, batch_size: int, input_shape, dtype, warmup: int = 3) -> None:
        import torch

        self.batch_size = batch_size
        with torch.inference_mode():
            self.static_in = torch.zeros((batch_size, *input_shape), device="cuda", dtype=dtype)
            self.static_in = self.static_in.contiguous(memory_format=torch.channels_last)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):          # lazy init and autotuning stay out of the graph
                for _ in range(warmup):
                    fn(self.static_in)
            torch.cuda.current_stream().wait_stream(side)
            torch.cuda.synchronize()
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):      # captures on a side stream of its own
                self.static_out = fn(self.static_in)
            torch.cuda.synchronize()

    def infer(self, batch, stream):
        """(host float32 outputs, replay milliseconds) for a batch of at most `batch_size` rows."""
        import torch

        n = int(batch.shape[0])
        if n > self.batch_size:
            raise ValsuiteError(f"batch of {n} is larger than the CUDA graph's {self.batch_size}")
        with torch.inference_mode():
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                self.static_in[:n].copy_(batch, non_blocking=True)   # cast and layout in one kernel
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                self.graph.replay()
                end.record()
                host = self.static_out[:n].float().to("cpu")
            end.synchronize()
        return host, start.elapsed_time(end)

    def describe(self) -> dict:
        return {"cuda_graph": True, "cuda_graph_batch": self.batch_size,
                "cuda_graph_partial_batches": "padded to the captured size, outputs sliced"}


def set_tf32(enabled: bool) -> None:
    """TF32 off by default: torch enables it for cuDNN convolutions, which makes the 'FP32' reference
    differ from a true FP32 engine (measured on the H100: only 29% of EfficientNet-Lite0 logits within
    rtol 1e-3 of ONNX Runtime FP32 with TF32 on). TensorRT FP32 engines are built without TF32 too."""
    import torch

    torch.backends.cudnn.allow_tf32 = enabled
    torch.backends.cuda.matmul.allow_tf32 = enabled


def _require_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        raise ValsuiteError("--device cuda asked for, but no CUDA GPU is visible to torch", hint="use --device cpu")
