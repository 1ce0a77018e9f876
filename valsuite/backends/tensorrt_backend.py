"""TensorRT: runs a serialized engine built by valsuite.tensorrt (build_trt.py or on demand).

Either flavour (TensorRT 10.x/11.x or TensorRT-RTX, valsuite.tensorrt.flavour) runs through this
one backend; the flavour makes the execution context (with the RTX runtime cache) and says
whether it captures CUDA graphs itself. torch owns the CUDA context, the stream and the memory: device buffers are torch CUDA tensors,
their data_ptr() goes to set_tensor_address, and execute_async_v3 runs on a non-default torch
stream between two CUDA events (Latency-model). No pycuda. `import` works without tensorrt.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from valsuite.backends.base import Backend, BackendInfo, BackendOptions
from valsuite.errors import ValsuiteError

log = logging.getLogger(__name__)

# record details copied from the engine's sidecar
_SIDECAR_FACTS = ("flavour", "tensorrt_version", "gpu", "compute_capability_targets", "precision", "profile", "build_options", "onnx_sha256",
                  "engine_size_bytes", "build_time_s", "layer_precisions", "layer_types",
                  "onnx_path")


def torch_dtype(trt, dtype):
    """TensorRT DataType of an I/O tensor -> torch dtype of its buffer."""
    import torch

    table = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16,
             trt.DataType.BF16: torch.bfloat16, trt.DataType.INT32: torch.int32,
             trt.DataType.INT64: torch.int64, trt.DataType.INT8: torch.int8}
    if dtype not in table:
        raise ValsuiteError(f"engine I/O tensor type {dtype} is not supported by valsuite")
    return table[dtype]


class TensorRTBackend(Backend):
    name = "tensorrt"
    precisions = ("fp32", "fp16", "int8")
    devices = ("cuda",)

    def __init__(self, spec, precision: str = "fp32", device: str = "cuda", options=None) -> None:
        if device != "cuda":
            import torch

            hint = ("use --device cuda" if torch.cuda.is_available()
                    else "this machine has no CUDA GPU visible to torch; use --backend torch or onnxruntime")
            raise ValsuiteError(f"the tensorrt backend runs on an NVIDIA GPU only, not on {device}", hint=hint)
        super().__init__(spec, precision, device, options)
        head = self.options.head
        if head is not None and not head.is_identity:   # refused, never silently run as logits
            raise ValsuiteError(f"the tensorrt backend runs the exported output only; head {head.name} is not "
                                f"wired into it yet", hint="the head ONNX files build with TensorRT-RTX "
                                "(tests/heads/test_heads_trt_rtx.py); run heads with onnxruntime, torch or inductor")
        self.runner = None  # the flavour's execution context wrapper, while active
        self.external = None  # an engine given by path (valsuite.external)

    @classmethod
    def available(cls, options: BackendOptions | None = None) -> tuple[bool, str]:
        """Whether the flavour (--trt-flavour) can run engines on this machine: one line naming the GPU
        (or 'no GPU') and the compute capabilities the flavour runs engines on."""
        from valsuite.errors import ValsuiteError
        from valsuite.tensorrt.flavour import runtime_support

        try:
            support = runtime_support(options.trt.trt_flavour if options is not None else "auto")
        except ValsuiteError as exc:
            return False, str(exc)
        return support.ok, "" if support.ok else support.line

    def _flavour_name(self) -> str:
        return self.options.trt.trt_flavour

    # -- activate: engine file -> runtime, context, buffers --------------------------------------
    def _activate(self) -> None:
        from valsuite.tensorrt.flavour import get_flavour, local_gpu
        from valsuite.tensorrt.profile import ProfileShapes

        self.flavour = get_flavour(self._flavour_name())
        trt = self.flavour.import_module()
        self.gpu = local_gpu()
        support = self.flavour.runtime_support(self.gpu)
        if not support.ok:  # before any build: say why this machine cannot run the flavour
            raise ValsuiteError(support.line)
        self.engine_path, self.sidecar = self._engine_file(trt)
        support = self.flavour.runtime_support(self.gpu, self.sidecar)
        if not support.ok:
            raise ValsuiteError(f"{self.engine_path}: {support.line}")
        self._deserialize(trt, self.engine_path)
        # an engine from another tool has no sidecar: its profile comes from the engine itself
        self.shapes = (ProfileShapes.from_dict(self.sidecar["profile"]) if "profile" in self.sidecar
                       else self._engine_profile())
        if self.external is not None:
            from valsuite.external import check_layout

            check_layout(self.spec, self.engine_path, tuple(self.engine.get_tensor_shape(self.input_name)),
                         tuple(self.engine.get_tensor_shape(self.output_name)))
        self.shapes.check_batch(self.options.batch_size)
        self._allocate(trt)

    def _engine_file(self, trt) -> tuple[Path, dict]:
        """A user-given engine (checked, refused when stale) or one built/reused for this run."""
        from valsuite.tensorrt.engines import check_engine_file, ensure_engine

        if self.options.artifact is not None:
            from valsuite.external import external_engine
            from valsuite.fileio import read_sidecar

            path = Path(self.options.artifact)
            self.external = external_engine(self.spec, path)
            if read_sidecar(path) is None:  # another tool's engine: the runtime is the judge
                return path, {}
            return path, check_engine_file(path, self.precision, trt)
        from valsuite.tensorrt.profile import profile_for_run

        opts, build = self.options, self.options.trt
        shapes = profile_for_run((-1, *self.spec.input_shape), opts.batch_size, build.min_batch, build.opt_batch,
                                 build.max_batch)
        options = build.build_options_for(self.flavour, self.precision, shapes, opts.weights_dir)
        return ensure_engine(self.spec, options, opts.weights_dir, precision_options=opts.precision,
                             force=opts.rebuild, verbose=build.trt_verbose, trt=trt)

    def _engine_profile(self):
        """Profile 0 of the engine's input: (min, opt, max) shapes, for engines without a sidecar."""
        from valsuite.tensorrt.profile import ProfileShapes

        shapes = [tuple(s) for s in self.engine.get_tensor_profile_shape(self.input_name, 0)]
        return ProfileShapes(*shapes)

    def _deserialize(self, trt, path: Path) -> None:
        from valsuite.tensorrt.build import make_logger

        self.runtime = trt.Runtime(make_logger(trt))
        self.engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise ValsuiteError(f"TensorRT cannot deserialize {path} (see its log above)")
        self.runner = self.flavour.create_context(trt, self.engine, path, bool(self.options.cuda_graph), self.gpu)
        self.context = self.runner.context
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or not outputs:
            raise ValsuiteError(f"engine {path} has inputs {inputs} and outputs {outputs}; "
                                f"valsuite needs one image input and a logits output")
        self.input_name, self.output_name, self.outputs = inputs[0], outputs[0], outputs

    def _allocate(self, trt) -> None:
        import torch

        self.stream = torch.cuda.Stream()
        self.in_buf = torch.empty(self.shapes.max, dtype=torch_dtype(trt, self.engine.get_tensor_dtype(self.input_name)),
                                  device="cuda")
        self.context.set_input_shape(self.input_name, self.shapes.max)
        out_max = tuple(self.context.get_tensor_shape(self.output_name))
        self.out_buf = torch.empty(out_max, dtype=torch_dtype(trt, self.engine.get_tensor_dtype(self.output_name)),
                                   device="cuda")
        # slices [:n] of contiguous buffers start at the same address: set the addresses once
        self.context.set_tensor_address(self.input_name, self.in_buf.data_ptr())
        self.context.set_tensor_address(self.output_name, self.out_buf.data_ptr())
        self.extra_outputs = {}  # further outputs still need memory; valsuite reads the first
        for name in self.outputs[1:]:
            self.extra_outputs[name] = torch.empty(
                tuple(self.context.get_tensor_shape(name)),
                dtype=torch_dtype(trt, self.engine.get_tensor_dtype(name)), device="cuda")
            self.context.set_tensor_address(name, self.extra_outputs[name].data_ptr())
        self.graphs = {}
        self.current_batch = self.shapes.max[0]

    def _deactivate(self) -> None:
        if self.runner is not None:
            self.runner.save()  # the RTX runtime cache: JIT kernels for the next run
        self.runner = None
        self.graphs = {}
        self.context = None
        self.engine = None
        self.runtime = None
        self.in_buf = self.out_buf = None
        self.extra_outputs = {}

    # -- infer ------------------------------------------------------------------------------------
    def _set_batch(self, n: int):
        """Set the input shape for n images; returns the output view for them."""
        self.shapes.check_batch(n)
        if self.current_batch != n:
            if not self.context.set_input_shape(self.input_name, (n, *self.shapes.sample_shape)):
                raise ValsuiteError(f"TensorRT refused input shape {(n, *self.shapes.sample_shape)}")
            self.current_batch = n
        out_shape = tuple(self.context.get_tensor_shape(self.output_name))
        return self.out_buf.reshape(-1)[:math.prod(out_shape)].view(out_shape)

    def _execute(self) -> None:
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed (see its log)")

    def _graph_for(self, n: int):
        """A CUDA graph of one engine run for batch n, captured after one plain warm-up run."""
        import torch

        if n not in self.graphs:
            self._execute()
            self.stream.synchronize()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=self.stream, capture_error_mode="thread_local"):
                self._execute()
            self.graphs[n] = graph
        return self.graphs[n]

    def _infer(self, batch):
        import torch

        n = int(batch.shape[0])
        out = self._set_batch(n)
        x = batch.to("cuda", non_blocking=True)
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream):
            self.in_buf[:n].copy_(x)
            # TensorRT-RTX captures the graph itself (CudaGraphStrategy); TensorRT proper through torch
            graph = self._graph_for(n) if self.options.cuda_graph and not self.runner.builtin_cuda_graph else None
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record(self.stream)
            if graph is not None:
                graph.replay()
            else:
                self._execute()
            end.record(self.stream)
            host = out.float().to("cpu")
        end.synchronize()
        return host, start.elapsed_time(end)

    def layer_times(self, batch, runs: int):
        """TensorRT's IProfiler per engine layer (trtexec --dumpProfile); never run here (no TensorRT)."""
        from valsuite.evaluate.layer_profile import LayerTimes
        from valsuite.tensorrt.layer_timer import profile_context
        from valsuite.tensorrt.versions import import_tensorrt

        n = int(batch.shape[0])
        self._set_batch(n)
        self.in_buf[:n].copy_(batch.to("cuda"))
        layers = profile_context(import_tensorrt(), self.context, self._execute, self.stream.synchronize, runs)
        return LayerTimes("TensorRT IProfiler (per engine layer)", runs, sum(layers.values()), layers)

    def info(self) -> BackendInfo:
        details = {k: self.sidecar.get(k) for k in _SIDECAR_FACTS if k in self.sidecar}
        if self.external is not None:
            details["external"] = self.external.describe()
        details |= {"engine_path": str(self.engine_path), "cuda_graph": bool(self.options.cuda_graph),
                    "cuda_graph_by": ("runtime" if self.runner.builtin_cuda_graph else "torch")
                    if self.options.cuda_graph else None, "engine_kind": self.shapes.kind,
                    "input_name": self.input_name, "output_name": self.output_name}
        return BackendInfo(model_size_mb=self.engine_path.stat().st_size / 2**20,
                           num_layers=self.sidecar.get("num_layers") or self.engine.num_layers,
                           num_params=None, artifact=str(self.engine_path), details=details)
