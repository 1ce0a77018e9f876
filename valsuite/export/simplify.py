"""Graph clean-up after export: onnxslim folds what the exporter left to run time.

Why: torch's exporter writes EfficientNet-Lite0's TF-style "same" padding as a chain of Shape,
Slice, Concat, ConstantOfShape, Pad and Reshape nodes per convolution (456 nodes, of which 49
Conv); constant folding turns them into Conv pads (94 nodes). Every later stage (precision
variants, ONNX Runtime, TensorRT) then reads the simpler graph.

Why onnxslim (measured against onnxsim in docs/onnx-simplify.md): pure Python (no compiled
extension to build where a wheel is missing), a slightly smaller graph for dynamic-batch models,
and maintained. The unsimplified export is kept out of the way under `unsimplified/` beside the
ONNX; the sidecar records node counts before and after and the largest output difference on a
random batch, and a simplification that changes outputs beyond the tolerance is not used.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from valsuite.errors import ValsuiteError
from valsuite.fileio import publish, temp_path_for

log = logging.getLogger(__name__)

SIMPLIFIER = "onnxslim"
UNSIMPLIFIED_DIR = "unsimplified"
# ops the report lists before/after (the run-time shape arithmetic the exporter leaves behind)
WATCHED_OPS = ("Shape", "Slice", "Gather", "Concat", "ConstantOfShape", "Pad", "Reshape", "Constant", "Cast")


def simplifier_version() -> str:
    try:
        import onnxslim
    except ImportError as exc:
        raise ValsuiteError(f"onnxslim is not installed ({exc})", hint="pip install -r requirements.txt") from exc
    return f"{SIMPLIFIER}-{onnxslim.__version__}"


def unsimplified_path(onnx_path: Path) -> Path:
    return Path(onnx_path).parent / UNSIMPLIFIED_DIR / Path(onnx_path).name


def op_counts(model) -> dict[str, int]:
    return dict(sorted(Counter(node.op_type for node in model.graph.node).items()))


@dataclass
class SimplifyResult:
    applied: bool
    facts: dict


def max_abs_diff(a_path: Path, b_path: Path, input_shape: tuple[int, ...], seed: int = 0, batch: int = 4) -> float:
    """Largest |output difference| of two ONNX files on one random batch, both in ONNX Runtime CPU."""
    import onnxruntime as ort

    n = batch if input_shape[0] == -1 else input_shape[0]
    x = np.random.default_rng(seed).standard_normal((n, *input_shape[1:]), dtype=np.float32)
    outs = []
    for path in (a_path, b_path):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outs.append(session.run(None, {session.get_inputs()[0].name: x})[0])
    return float(np.max(np.abs(outs[0] - outs[1])))


def simplify_export(onnx_path: Path, input_shape: tuple[int, ...], tolerance: float = 1e-4) -> SimplifyResult:
    """Move the export to unsimplified/, write the onnxslim graph in its place, prove outputs unchanged."""
    import onnx
    import onnxslim

    onnx_path = Path(onnx_path)
    raw = unsimplified_path(onnx_path)
    raw.parent.mkdir(parents=True, exist_ok=True)
    os.replace(onnx_path, raw)
    model = onnx.load(str(raw))
    slim = onnxslim.slim(model)
    facts = {"tool": simplifier_version(), "unsimplified_path": str(raw),
             "nodes_before": len(model.graph.node), "nodes_after": len(slim.graph.node),
             "ops_before": {k: v for k, v in op_counts(model).items() if k in WATCHED_OPS},
             "ops_after": {k: v for k, v in op_counts(slim).items() if k in WATCHED_OPS}}
    tmp = temp_path_for(onnx_path)
    onnx.save(slim, str(tmp))
    diff = max_abs_diff(raw, tmp, input_shape)
    facts["max_abs_diff_vs_unsimplified"] = diff
    if not diff <= tolerance:  # never use a graph that computes something else
        os.unlink(tmp)
        os.replace(raw, onnx_path)
        log.warning("onnxslim changed %s's outputs by %.3g (> %g): keeping the unsimplified export",
                    onnx_path.name, diff, tolerance)
        return SimplifyResult(False, facts | {"applied": False, "reason": f"outputs changed by {diff:.3g}"})
    publish(tmp, onnx_path)
    log.info("simplified %s with %s: %d -> %d nodes, max |diff| %.3g", onnx_path.name, facts["tool"],
             facts["nodes_before"], facts["nodes_after"], diff)
    return SimplifyResult(True, facts | {"applied": True})
