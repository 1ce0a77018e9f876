"""The null backend: returns zeros and computes nothing, so a run measures the harness alone.

After MLPerf's null SUT. Everything around the engine still runs: reading, decoding (CPU workers
or nvJPEG), the cache, pinned copies, normalisation on the device, scoring. Its end-to-end img/s
is the pipeline's own ceiling; a real engine whose model-only throughput is far below it is never
limited by the harness. On CUDA, infer() waits for the work already queued on the stream (the
input's normalisation), so a batch counts only once it has really reached the device.
"""

from __future__ import annotations

import time

from valsuite.backends.base import Backend, BackendInfo


class NullBackend(Backend):
    name = "null"
    precisions = ("fp32", "fp16", "bf16", "int8")     # nothing is computed: every precision is the same
    devices = ("cpu", "cuda")
    computes_outputs = False

    @classmethod
    def available(cls, options=None) -> tuple[bool, str]:
        return True, ""

    def _activate(self) -> None:
        import torch

        self._zeros = torch.zeros((1, self.spec.num_classes), dtype=torch.float32)

    def _infer(self, batch):
        start = time.perf_counter()
        if batch.is_cuda:
            import torch

            torch.cuda.current_stream(batch.device).synchronize()
        outputs = self._zeros.expand(int(batch.shape[0]), -1)
        return outputs, (time.perf_counter() - start) * 1e3

    def info(self) -> BackendInfo:
        return BackendInfo(model_size_mb=0.0, num_layers=0, num_params=0, artifact=None,
                           details={"null": "returns zeros, computes nothing: measures the harness"})
