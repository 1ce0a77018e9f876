"""TensorRT per-layer times through an IProfiler (trtexec --dumpProfile): one entry per engine layer.

The profiler is attached to the execution context for a separate profiling run only: with it
attached TensorRT times every layer, which slows the whole pass. `enqueue_emits_profile` is turned
off so that `execute_async_v3` stays asynchronous; after each pass the stream is synchronised and
`report_to_profiler()` hands that pass's layer times to the profiler. Checked against the API
manifests of every supported version by valsuite.tensorrt.apicheck (never executed here).
"""

from __future__ import annotations

from collections import defaultdict


def make_layer_timer(trt):
    """An IProfiler subclass instance that sums milliseconds per layer name."""
    profiler_base = trt.IProfiler      # a plain attribute load, so the API check sees it

    class LayerTimer(profiler_base):
        def __init__(self) -> None:
            super().__init__()
            self.times: dict = defaultdict(float)

        def report_layer_time(self, layer_name: str, ms: float) -> None:
            self.times[layer_name] += float(ms)

    return LayerTimer()


def profile_context(trt, context, execute, synchronize, runs: int):
    """Run `execute()` `runs` times with a layer timer attached; returns {layer: summed ms}."""
    timer = make_layer_timer(trt)
    context.profiler = timer
    context.enqueue_emits_profile = False
    execute()                                   # first pass: lazy work stays out of the profile
    synchronize()
    context.report_to_profiler()
    timer.times.clear()
    for _ in range(runs):
        execute()
        synchronize()
        if not context.report_to_profiler():
            raise RuntimeError("TensorRT report_to_profiler() failed")
    return dict(timer.times)
