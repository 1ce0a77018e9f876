"""How a host batch reaches the device: the part of the pipeline that keeps a GPU busy.

A stage turns the loader's batches into staged batches: `ready()` waits until the images are on
the device, `device_images()` returns them (uint8 NCHW), `pre_ms` is device time spent on them
before `ready()` returned (a copy or a decode that overlapped the previous batch's compute; it
belongs to this batch's Latency-all). Every CUDA path is behind `device == "cuda"`.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from valsuite.data.preprocess import Preprocess, normalize


class SerialStaged:
    """CPU (or the reference): the copy happens inside the timed window, nothing overlaps."""

    pre_ms = 0.0
    h2d_ms = None      # the copy (a no-op on the CPU) is inside the engine call: not separable

    def __init__(self, batch, device: str) -> None:
        self.batch = batch
        self.device = device

    def ready(self) -> None:
        pass

    def device_images(self):
        return self.batch.images.to(self.device, non_blocking=True)


class SerialStage:
    name = "serial"

    def __init__(self, device: str) -> None:
        self.device = device

    def __call__(self, batches: Iterable) -> Iterator[SerialStaged]:
        for batch in batches:
            yield SerialStaged(batch, self.device)


class CudaCopyStaged:
    """A batch whose host-to-device copy was issued on the copy stream, timed with CUDA events."""

    def __init__(self, batch, stream) -> None:
        import torch

        self.batch = batch
        host = batch.images if batch.images.is_pinned() else batch.images.pin_memory()
        self._host = host                       # kept alive until the copy has finished
        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)
        with torch.cuda.stream(stream):
            self._start.record(stream)
            self._images = host.to("cuda", non_blocking=True)
            self._end.record(stream)
        self.pre_ms = 0.0

    def ready(self) -> None:
        import torch

        self._end.synchronize()
        self.pre_ms = self._start.elapsed_time(self._end)
        torch.cuda.current_stream().wait_event(self._end)
        self._images.record_stream(torch.cuda.current_stream())
        self._host = None

    def device_images(self):
        return self._images

    @property
    def h2d_ms(self) -> float:
        """The copy's own device time (CUDA events), trtexec's H2D Latency."""
        return self.pre_ms


class CudaCopyStage:
    """Issue batch i+1's copy before batch i computes: the copy engine overlaps the compute."""

    name = "cuda-copy-stream"

    def __call__(self, batches: Iterable) -> Iterator[CudaCopyStaged]:
        import torch

        stream = torch.cuda.Stream()
        previous = None
        for batch in batches:
            staged = CudaCopyStaged(batch, stream)
            if previous is not None:
                yield previous
            previous = staged
        if previous is not None:
            yield previous


def default_stage(device: str):
    return CudaCopyStage() if device == "cuda" else SerialStage(device)


def model_input(images, pp: Preprocess, device: str):
    """uint8 batch on the device -> normalised float32; channels-last on the GPU (cuDNN's layout)."""
    x = normalize(images, pp)
    if device == "cuda":
        import torch

        x = x.contiguous(memory_format=torch.channels_last)
    return x
