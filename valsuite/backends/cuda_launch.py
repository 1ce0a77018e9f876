"""One forward pass on a backend's CUDA stream, without waiting for it.

Shared by the eager and compiled torch backends. The outputs are copied to page-locked host
memory on the same stream, so `wait()` returns host outputs and Latency-model (CUDA events
around the forward alone). Until `wait()`, the pending object holds the input: the caching
allocator must not hand that memory to another stream while the forward still reads it.
"""

from __future__ import annotations


class PendingCuda:
    def __init__(self, keep, host, start, end, done) -> None:
        self._keep = keep
        self._host = host
        self._start, self._end, self._done = start, end, done

    def spin(self) -> None:
        """Busy-wait until the outputs are on the host (trtexec --useSpinWait): polling the event
        keeps the thread awake, so no scheduler wake-up lands in Latency-all."""
        while not self._done.query():
            pass

    @property
    def d2h_ms(self) -> float:
        """Device time from the end of the forward to the outputs on the host (the float cast of
        the logits and the copy to pinned memory): trtexec's D2H Latency. Valid after wait()."""
        return self._end.elapsed_time(self._done)

    def wait(self):
        """(host float32 outputs, model-only milliseconds), once the copy back has finished."""
        self._done.synchronize()
        self._keep = None
        return self._host, self._start.elapsed_time(self._end)


def launch(prepare, forward, x, stream, rows: int | None = None) -> PendingCuda:
    """prepare(x) (casts, layout), then forward on `stream` after the current stream's work, timed
    alone; rows: keep only the first n outputs (a padded batch)."""
    import torch

    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream), torch.inference_mode():
        start, end, done = (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True),
                            torch.cuda.Event(enable_timing=True))
        prepared = prepare(x)
        start.record(stream)
        out = forward(prepared)
        end.record(stream)
        out = (out if rows is None else out[:rows]).float()
        host = torch.empty(out.shape, dtype=torch.float32, pin_memory=True)
        host.copy_(out, non_blocking=True)
        done.record(stream)
    return PendingCuda((x, prepared, out), host, start, end, done)


class Finished:
    """What a synchronous backend's submit() returns: the result is already there."""

    d2h_ms = None     # a synchronous engine call returns host outputs: the copy is not separable

    def __init__(self, result) -> None:
        self._result = result

    def spin(self) -> None:
        pass

    def wait(self):
        return self._result


class LaunchesOnCuda:
    """Mixin for the torch backends: on CUDA without a captured graph, submit() returns at once
    (the class provides `_launch(batch) -> PendingCuda`); otherwise the synchronous default."""

    def _submit(self, batch):
        if self.device != "cuda" or self.graph is not None:
            return super()._submit(batch)
        return self._launch(batch)
