"""Counting what an ONNX file holds: nodes and initializer elements (the ONNX rows of the tables)."""

from __future__ import annotations

from pathlib import Path

from valsuite.errors import ValsuiteError


def onnx_counts(path: str | Path) -> tuple[int, int]:
    """(graph nodes, initializer elements); Q/DQ and Cast nodes count as nodes, as engines see them."""
    import numpy as np
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ValsuiteError(f"cannot read ONNX {path}: {exc}") from exc
    params = sum(int(np.prod(init.dims)) if init.dims else 1 for init in model.graph.initializer)
    # constants folded into Constant nodes hold weights too
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    params += int(np.prod(attr.t.dims)) if attr.t.dims else 1
    return len(model.graph.node), params
