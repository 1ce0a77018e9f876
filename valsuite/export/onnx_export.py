"""Export a ModelSpec to an FP32 ONNX with a dynamic (or fixed) batch axis, check it, cache it.

The sidecar (`<file>.onnx.json`) carries the ONNX sha256 and what made it; a later stage (the
precision step, TensorRT builds) keys its own caches on that sha256 and never reaches back into
the torch model. An ONNX whose sidecar does not match the current request is stale and rebuilt.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np

from valsuite import __version__
from valsuite.errors import ValsuiteError
from valsuite.export.simplify import simplifier_version, simplify_export
from valsuite.fileio import (artifact_lock, publish, read_sidecar, sha256_file, sidecar_stale_reason,
                             temp_path_for, write_sidecar)
from valsuite.models.spec import ModelSpec

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17
# Bump when model-building code changes what an export contains (e.g. EfficientNet-Lite's ReLU6
# fix): every ONNX made before is then stale, since weights and preprocessing alone did not change.
EXPORT_REVISION = 2
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def parse_input_shape(shape: list[int] | tuple[int, ...] | None, spec: ModelSpec) -> tuple[int, int, int, int]:
    """`-1 3 224 224` -> (-1, 3, 224, 224); -1 (or 0) as batch means dynamic. Checked against the spec."""
    if not shape:
        return (-1, *spec.input_shape)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 4:
        raise ValsuiteError(f"--input_shape needs 4 numbers (N C H W), got {len(shape)}")
    batch = -1 if shape[0] in (-1, 0) else shape[0]
    if batch < -1 or (batch != -1 and batch < 1):
        raise ValsuiteError(f"--input_shape batch must be -1 (dynamic) or at least 1, got {shape[0]}")
    if shape[1:] != tuple(spec.input_shape):
        raise ValsuiteError(f"--input_shape {shape[1:]} does not match {spec.network}'s input "
                            f"{tuple(spec.input_shape)} (it comes from the weights' preprocessing)")
    return (batch, *shape[1:])


def onnx_path_for(spec: ModelSpec, weights_dir: Path, input_shape: tuple[int, ...]) -> Path:
    batch = "dyn" if input_shape[0] == -1 else f"b{input_shape[0]}"
    return Path(weights_dir) / f"{spec.artifact_stem}_{batch}.onnx"


def export_facts(spec: ModelSpec, input_shape: tuple[int, ...], opset: int, simplify: bool = True) -> dict:
    """What an export depends on; a sidecar whose facts differ marks the ONNX stale."""
    import onnx
    import torch

    facts = {
        "network": spec.network,
        "weights": spec.weights_id,
        "preprocess": spec.preprocess.describe(),
        "input_shape": list(input_shape),
        "opset": opset,
        "export_revision": EXPORT_REVISION,
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "tools": {"valsuite": __version__, "torch": torch.__version__, "onnx": onnx.__version__},
        "simplifier": simplifier_version() if simplify else None,
    }
    if spec.weights_path and os.path.isfile(spec.weights_path):
        stat = os.stat(spec.weights_path)
        facts["weights_file"] = {"path": spec.weights_path, "size": stat.st_size, "mtime": int(stat.st_mtime)}
    return facts


def stale_reason(onnx_path: Path, facts: dict) -> str | None:
    """Why the cached ONNX cannot be reused, or None when it can."""
    return sidecar_stale_reason(onnx_path, read_sidecar(onnx_path), facts, content_field="sha256")


def _torch_export(module, sample, path: Path, dynamic: bool, opset: int) -> None:
    import torch

    axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic else None
    tmp = temp_path_for(path)   # unique: parallel runs into one folder never share it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but exact and stable
            torch.onnx.export(module, (sample,), str(tmp), opset_version=opset, input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME], dynamic_axes=axes, do_constant_folding=True,
                              dynamo=False)
        publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_against_torch(module, onnx_path: Path, input_shape: tuple[int, ...], seed: int = 0) -> float:
    """Run onnx.checker and compare ONNX Runtime with torch on a random batch; returns max |diff|."""
    import onnx
    import onnxruntime as ort
    import torch

    try:
        onnx.checker.check_model(str(onnx_path))
    except onnx.checker.ValidationError as exc:
        raise ValsuiteError(f"exported ONNX {onnx_path} fails onnx.checker: {exc}") from exc
    batch = 2 if input_shape[0] == -1 else input_shape[0]
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((batch, *input_shape[1:]), dtype=np.float32))
    with torch.no_grad():
        expected = module(x).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {INPUT_NAME: x.numpy()})[0]
    return float(np.max(np.abs(got - expected)))


def export_onnx(spec: ModelSpec, weights_dir: str | Path = "weights", input_shape=None,
                opset: int = DEFAULT_OPSET, force: bool = False, tolerance: float = 1e-3,
                simplify: bool = True) -> Path:
    """The FP32 ONNX for `spec`: reused when its sidecar matches, else exported, simplified and checked."""
    if opset < 17:
        raise ValsuiteError(f"opset {opset} is too old: valsuite exports opset 17 or newer")
    shape = parse_input_shape(input_shape, spec)
    path = onnx_path_for(spec, Path(weights_dir), shape)
    facts = export_facts(spec, shape, opset, simplify)
    with artifact_lock(path):   # a parallel run exporting the same file waits, then reuses it
        reason = "forced" if force else stale_reason(path, facts)
        if reason is None:
            return path
        return _export_checked(spec, path, shape, opset, facts, reason, tolerance, simplify)


def _export_checked(spec: ModelSpec, path: Path, shape: tuple[int, ...], opset: int, facts: dict,
                    reason: str, tolerance: float, simplify: bool = True) -> Path:
    import torch

    module = spec.build()   # missing weights are reported before anything says "exporting"
    log.info("exporting %s to %s (%s)", spec.network, path, reason)
    sample = torch.zeros((2 if shape[0] == -1 else shape[0], *shape[1:]))
    _torch_export(module, sample, path, dynamic=shape[0] == -1, opset=opset)
    simplified = simplify_export(path, shape).facts if simplify else None
    max_diff = check_against_torch(module, path, shape)  # the file every later stage reads
    if not max_diff <= tolerance:
        raise ValsuiteError(f"exported ONNX differs from torch by {max_diff:.3g} (> {tolerance}): {path}")
    write_sidecar(path, facts | {"sha256": sha256_file(path), "max_abs_diff_vs_torch": max_diff,
                                 "size_bytes": path.stat().st_size, "simplify": simplified})
    log.info("exported %s: max |onnxruntime - torch| = %.3g on a random batch", path, max_diff)
    return path
