"""The vanilla PyTorch reference: eager module, FP32 (FP16/BF16 on CUDA)."""

from __future__ import annotations

import time

from valsuite.backends.base import Backend, BackendInfo
from valsuite.errors import ValsuiteError


def count_torch(module) -> tuple[int, int, int]:
    """(leaf modules, parameters, bytes of parameters and buffers) of a torch module."""
    leaves = sum(1 for m in module.modules() if not any(True for _ in m.children()))
    params = sum(p.numel() for p in module.parameters())
    nbytes = sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])
    return leaves, params, nbytes


class TorchBackend(Backend):
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

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return True, ""

    def _activate(self) -> None:
        import torch

        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.precision]
        module = self.spec.build()
        self.layers, self.params, self.nbytes = count_torch(module)
        # channels-last: the layout oneDNN and cuDNN convolutions are fastest in (2x on this CPU)
        module = module.to(memory_format=torch.channels_last)
        if self.device == "cuda":
            module = module.to(device="cuda", dtype=self.dtype)
            self.stream = torch.cuda.Stream()
        self.module = module

    def _deactivate(self) -> None:
        self.module = None

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
        import torch

        x = batch.to("cuda", non_blocking=True)
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream):
            x = x.to(dtype=self.dtype, memory_format=torch.channels_last)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = self.module(x)
            end.record()
            host = out.float().to("cpu", non_blocking=False)
        end.synchronize()
        return host, start.elapsed_time(end)

    def info(self) -> BackendInfo:
        size = self.nbytes / 2**20
        if self.precision in ("fp16", "bf16"):
            size /= 2
        return BackendInfo(model_size_mb=size, num_layers=self.layers, num_params=self.params,
                           artifact=self.spec.weights_path,
                           details={"size_is": "bytes of parameters and buffers in the run precision"})


def _require_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        raise ValsuiteError("--device cuda asked for, but no CUDA GPU is visible to torch", hint="use --device cpu")
