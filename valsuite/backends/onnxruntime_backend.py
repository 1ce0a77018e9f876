"""ONNX Runtime: runs the exported ONNX (or a precision variant of it); CPU provider, CUDA when present."""

from __future__ import annotations

import time

import numpy as np

from valsuite import artifacts
from valsuite.backends.base import Backend, BackendInfo
from valsuite.errors import ValsuiteError


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    precisions = ("fp32", "fp16", "int8")
    devices = ("cpu", "cuda")

    @classmethod
    def available(cls, options=None) -> tuple[bool, str]:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return False, "onnxruntime is not installed (pip install onnxruntime)"
        return True, ""

    @classmethod
    def preferred_device(cls) -> str:
        import onnxruntime as ort

        return "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"

    def _providers(self) -> list[str]:
        import onnxruntime as ort

        if self.device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ValsuiteError("onnxruntime here has no CUDA provider",
                                    hint="pip install onnxruntime-gpu, or use --device cpu")
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    def _activate(self) -> None:
        import onnxruntime as ort

        self.external = None
        opts = self.options
        if opts.artifact is not None:  # a user's ONNX: layout checked, precision must match the row
            from valsuite.external import external_onnx

            if opts.head is not None and not opts.head.is_identity:   # a head edit of a user's file: not made
                raise ValsuiteError(f"--head {opts.head.name} applies to the suite's own exports, not to "
                                    f"{opts.artifact.name}", hint="drop --head for a file candidate")
            self.external = external_onnx(self.spec, opts.artifact)
            if self.external.precision != self.precision:
                raise ValsuiteError(f"{self.external.path.name} holds a {self.external.precision} graph, but its row "
                                    f"is {self.precision}", hint=f"use precision {self.external.precision} for it")
            self.path = self.external.path
        else:
            self.path = artifacts.onnx_for(self.spec, self.precision, opts.weights_dir, None, opts.precision,
                                           head=opts.head)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=opts, providers=self._providers())
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ValsuiteError(f"onnxruntime cannot load {self.path}: {exc}".splitlines()[0]) from exc
        inputs = self.session.get_inputs()
        self.input_name = inputs[0].name
        self.input_is_fp16 = inputs[0].type == "tensor(float16)"
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _deactivate(self) -> None:
        self.session = None

    def _infer(self, batch):
        import torch

        x = batch.detach().to("cpu").numpy()
        x = x.astype(np.float16 if self.input_is_fp16 else np.float32, copy=False)
        start = time.perf_counter()
        outs = self.session.run(None, {self.input_name: x})
        model_ms = (time.perf_counter() - start) * 1e3
        head = self.options.head
        if head is None or (head.task == "classification" and head.is_identity):
            return torch.from_numpy(np.asarray(outs[0], dtype=np.float32)), model_ms
        if head.task == "segmentation":
            return torch.from_numpy(outs[0]), model_ms   # logits, labels or scores as they come
        from valsuite.heads.outputs import classifier_output

        return classifier_output(dict(zip(self.output_names, outs)), head), model_ms

    def layer_times(self, batch, runs: int):
        """ONNX Runtime's own session profiling, per node, on a second session of the same file."""
        from valsuite.evaluate.layer_profile import profile_onnxruntime

        x = batch.detach().to("cpu").numpy().astype(np.float16 if self.input_is_fp16 else np.float32, copy=False)
        return profile_onnxruntime(self.path, x, self._providers(), runs)

    def info(self) -> BackendInfo:
        from valsuite.fileio import read_sidecar
        from valsuite.onnxinfo import onnx_counts

        nodes, params = onnx_counts(self.path)
        details = {"providers": self.session.get_providers() if self.session else []}
        sidecar = read_sidecar(self.path) or {}
        for key in ("sha256", "precision", "calibration", "qdq_pairs", "kept_fp32"):
            if key in sidecar:
                details[key] = sidecar[key]
        if self.external is not None:  # the exact file evaluated
            details |= {"sha256": self.external.sha256, "external": self.external.describe()}
        return BackendInfo(model_size_mb=self.path.stat().st_size / 2**20, num_layers=nodes,
                           num_params=params, artifact=str(self.path), details=details)
