"""Find the first layers where a candidate ONNX (FP16, INT8 Q/DQ, ...) departs from the FP32 ONNX.

Copies of both graphs get every matched intermediate tensor added as a graph output; both run under
ONNX Runtime on the CPU with graph optimisations off (so nothing is fused away and each tensor is
the value the ONNX graph defines), on a few inputs. Tensors are matched by name:

1. the FP32 tensor's name exists in the candidate (Q/DQ and Cast insertion keep the original
   names of the float tensors: the quantizer adds `X_QuantizeLinear_Output` etc. beside `X`);
2. else the candidate has a node of the same name and op type as the FP32 producer: its output at
   the same position;
3. else a candidate tensor named like the FP32 one plus a cast/dequantize suffix
   (`X_fp16`, `X_cast`, `X_DequantizeLinear_Output`, ...).

Per tensor: share of elements within |a-b| <= atol + rtol*|b| (b = FP32), max/mean |a-b| and the
relative L2 error ||a-b|| / ||b||. A tensor "exceeds" when more than `bad_pct` % of its elements
are outside the tolerance. FP32 graph order is topological (ONNX requires it), so the first
exceeding tensors are where the error starts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from valsuite.errors import ValsuiteError

_SUFFIX = re.compile(r"^[_.:/-]?(fp16|fp32|float16|float|half|cast\w*|output_cast\w*|dequantized|"
                     r"dequantizelinear_output|dq\w*)$", re.IGNORECASE)
_FLOAT_KINDS = "f"  # numpy dtype kinds compared (float16/32/64)


@dataclass
class TensorParity:
    """How one FP32 intermediate tensor compares with its candidate counterpart."""

    position: int              # index of the producing node in the FP32 graph (topological)
    tensor: str                # FP32 tensor name
    node: str                  # FP32 producing node (name, or op#index when unnamed)
    op: str
    candidate_tensor: str
    candidate_node: str
    candidate_op: str
    match: str                 # "name", "node", "suffix"
    isclose_pct: float | None = None
    max_abs: float | None = None
    mean_abs: float | None = None
    rel_l2: float | None = None
    exceeds: bool = False
    rel_l2_added: float | None = None   # rel_l2 minus the worst rel_l2 among the node's inputs
    note: str = ""


@dataclass
class LocalizeResult:
    fp32_onnx: str
    candidate_onnx: str
    num_inputs: int
    rtol: float
    atol: float
    bad_pct: float
    tensors: list[TensorParity] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    def first_exceeding(self, count: int = 5) -> list[TensorParity]:
        return [t for t in self.tensors if t.exceeds][:count]

    def worst(self, count: int = 5, key: str = "rel_l2") -> list[TensorParity]:
        """Largest `rel_l2` (error carried) or `rel_l2_added` (error a node adds itself)."""
        measured = [t for t in self.tensors if getattr(t, key) is not None]
        return sorted(measured, key=lambda t: -getattr(t, key))[:count]

    def to_dict(self, count: int = 10) -> dict:
        return {"fp32_onnx": self.fp32_onnx, "candidate_onnx": self.candidate_onnx,
                "num_inputs": self.num_inputs, "rtol": self.rtol, "atol": self.atol,
                "bad_pct": self.bad_pct, "matched_tensors": len(self.tensors),
                "exceeding_tensors": sum(t.exceeds for t in self.tensors),
                "unmatched_tensors": len(self.unmatched),
                "first_exceeding": [asdict(t) for t in self.first_exceeding(count)],
                "worst_rel_l2": [asdict(t) for t in self.worst(count)],
                "worst_rel_l2_added": [asdict(t) for t in self.worst(count, "rel_l2_added")]}


def _node_label(node, index: int) -> str:
    return node.name or f"{node.op_type}#{index}"


def _producers(graph) -> dict[str, tuple[int, object, int]]:
    """tensor name -> (node index, node, output position) for every node output."""
    found = {}
    for index, node in enumerate(graph.node):
        for pos, name in enumerate(node.output):
            if name:
                found[name] = (index, node, pos)
    return found


def match_tensors(fp32_graph, cand_graph) -> tuple[list[TensorParity], list[str]]:
    """Pair each FP32 node output with a candidate tensor; returns (pairs in FP32 order, unmatched)."""
    cand_prod = _producers(cand_graph)
    cand_by_node = {(n.name, n.op_type): n for n in cand_graph.node if n.name}
    by_prefix: dict[str, list[str]] = {}
    pairs, unmatched = [], []
    for index, node in enumerate(fp32_graph.node):
        for pos, name in enumerate(node.output):
            if not name:
                continue
            target, how = _find_counterpart(name, node, pos, cand_prod, cand_by_node, by_prefix)
            if target is None:
                unmatched.append(name)
                continue
            _, cnode, _ = cand_prod[target]
            cindex = cand_prod[target][0]
            pairs.append(TensorParity(position=index, tensor=name, node=_node_label(node, index),
                                      op=node.op_type, candidate_tensor=target,
                                      candidate_node=_node_label(cnode, cindex),
                                      candidate_op=cnode.op_type, match=how))
    return pairs, unmatched


def _find_counterpart(name, node, pos, cand_prod, cand_by_node, by_prefix):
    if name in cand_prod:
        return name, "name"
    twin = cand_by_node.get((node.name, node.op_type)) if node.name else None
    if twin is not None and pos < len(twin.output) and twin.output[pos]:
        return twin.output[pos], "node"
    suffixed = [t for t in cand_prod if t.startswith(name) and _SUFFIX.match(t[len(name):])]
    if suffixed:
        # prefer a dequantized value (float), then the shortest name
        suffixed.sort(key=lambda t: ("dequant" not in t.lower(), len(t)))
        return suffixed[0], "suffix"
    return None, None


def _exposed_copy(model, names: list[str]) -> bytes:
    """Serialized copy of `model` with `names` added as (untyped) graph outputs."""
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    present = {o.name for o in copy.graph.output}
    for name in names:
        if name not in present:
            copy.graph.output.append(onnx.ValueInfoProto(name=name))
            present.add(name)
    return copy.SerializeToString()


def _session(model_bytes: bytes, threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])


def _feed(session, sample: np.ndarray) -> dict:
    inp = session.get_inputs()[0]
    dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
    return {inp.name: sample.astype(dtype, copy=False)}


class _Acc:
    """Per-tensor running sums over inputs."""

    def __init__(self) -> None:
        self.close = self.elements = 0
        self.max_abs = 0.0
        self.sum_abs = self.sum_sq = self.ref_sq = 0.0
        self.note = ""

    def update(self, ref: np.ndarray, cand: np.ndarray, rtol: float, atol: float) -> None:
        if ref.dtype.kind not in _FLOAT_KINDS or cand.dtype.kind not in _FLOAT_KINDS:
            self.note = f"not compared: dtype {ref.dtype} vs {cand.dtype}"
            return
        if ref.shape != cand.shape:
            self.note = f"not compared: shape {ref.shape} vs {cand.shape}"
            return
        b, a = ref.astype(np.float64), cand.astype(np.float64)
        diff = np.abs(a - b)
        self.close += int(np.count_nonzero(diff <= atol + rtol * np.abs(b)))
        self.elements += b.size
        if b.size:
            self.max_abs = float(np.max([self.max_abs, diff.max()]))  # NaN stays visible
        self.sum_abs += float(diff.sum())
        self.sum_sq += float(np.square(diff).sum())
        self.ref_sq += float(np.square(b).sum())


def localize(fp32_onnx: str | Path, candidate_onnx: str | Path, inputs: np.ndarray,
             rtol: float = 1e-3, atol: float = 1e-8, bad_pct: float = 1.0,
             threads: int | None = None) -> LocalizeResult:
    """Compare every matched intermediate tensor of the two ONNX files on `inputs` (N, C, H, W)."""
    fp32_model, cand_model = _load(fp32_onnx), _load(candidate_onnx)
    pairs, unmatched = match_tensors(fp32_model.graph, cand_model.graph)
    if not pairs:
        raise ValsuiteError(f"no intermediate tensor of {candidate_onnx} could be matched to {fp32_onnx}")
    ref_sess = _session(_exposed_copy(fp32_model, [p.tensor for p in pairs]), threads)
    cand_sess = _session(_exposed_copy(cand_model, [p.candidate_tensor for p in pairs]), threads)
    accs = [_Acc() for _ in pairs]
    for sample in np.asarray(inputs, dtype=np.float32):
        sample = sample[None]
        ref_out = dict(zip((o.name for o in ref_sess.get_outputs()), ref_sess.run(None, _feed(ref_sess, sample))))
        cand_out = dict(zip((o.name for o in cand_sess.get_outputs()), cand_sess.run(None, _feed(cand_sess, sample))))
        for pair, acc in zip(pairs, accs):
            acc.update(np.asarray(ref_out[pair.tensor]), np.asarray(cand_out[pair.candidate_tensor]), rtol, atol)
    for pair, acc in zip(pairs, accs):
        _fill(pair, acc, bad_pct)
    _added_error(pairs, fp32_model.graph)
    return LocalizeResult(str(fp32_onnx), str(candidate_onnx), len(inputs), rtol, atol, bad_pct, pairs, unmatched)


def _fill(pair: TensorParity, acc: _Acc, bad_pct: float) -> None:
    pair.note = acc.note
    if acc.elements == 0:
        return
    pair.isclose_pct = 100.0 * acc.close / acc.elements
    pair.max_abs = acc.max_abs
    pair.mean_abs = acc.sum_abs / acc.elements
    pair.rel_l2 = float(np.sqrt(acc.sum_sq) / max(np.sqrt(acc.ref_sq), 1e-30))
    pair.exceeds = (100.0 - pair.isclose_pct) > bad_pct


def _added_error(pairs: list[TensorParity], graph) -> None:
    """rel_l2_added = a tensor's rel_l2 minus the worst of its producer's inputs (graph inputs and
    weights count as 0): large where a node itself adds error, not where it only passes it on."""
    rel = {p.tensor: p.rel_l2 for p in pairs if p.rel_l2 is not None}
    for pair in pairs:
        if pair.rel_l2 is None:
            continue
        inputs = graph.node[pair.position].input
        carried = max((rel.get(name, 0.0) for name in inputs if name), default=0.0)
        pair.rel_l2_added = pair.rel_l2 - carried


def _load(path: str | Path):
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ValsuiteError(f"ONNX file not found: {path}")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # onnx raises protobuf DecodeError and others for broken files
        raise ValsuiteError(f"cannot read ONNX {path}: {exc}".splitlines()[0]) from exc


def format_localize(result: LocalizeResult, count: int = 5) -> str:
    """Markdown: the first exceeding tensors in topological order, then the worst by rel. L2 error."""
    from tabulate import tabulate

    headers = ("#node", "FP32 node (op)", "tensor", "candidate node (op)", "isclose %", "max |a-b|",
               "mean |a-b|", "rel L2")

    def rows(items, added: bool = False):
        return [[t.position, f"{t.node} ({t.op})", t.tensor, f"{t.candidate_node} ({t.candidate_op})",
                 f"{t.isclose_pct:.2f}", f"{t.max_abs:.3g}", f"{t.mean_abs:.3g}", f"{t.rel_l2:.3g}",
                 *([f"{t.rel_l2_added:+.3g}"] if added else [])]
                for t in items]

    first = result.first_exceeding(count)
    head = (f"localize {Path(result.candidate_onnx).name} vs {Path(result.fp32_onnx).name}: "
            f"{len(result.tensors)} tensors matched, {len(result.unmatched)} unmatched, "
            f"{sum(t.exceeds for t in result.tensors)} exceed rtol={result.rtol:g} atol={result.atol:g} "
            f"(more than {result.bad_pct:g}% of elements outside), {result.num_inputs} inputs")
    parts = [head, ""]
    if first:
        parts += ["First tensors over the tolerance (topological order):", "",
                  tabulate(rows(first), headers=headers, tablefmt="github", disable_numparse=True)]
    else:
        parts.append("No intermediate tensor exceeds the tolerance.")
    parts += ["", "Largest error added by one node (its rel L2 minus its inputs' worst rel L2):", "",
              tabulate(rows(result.worst(count, "rel_l2_added"), added=True), headers=(*headers, "added"),
                       tablefmt="github", disable_numparse=True)]
    return "\n".join(parts)


def candidate_onnx(backend, spec) -> Path | None:
    """The ONNX a candidate runs (ONNX Runtime) or was built from (TensorRT); None for torch."""
    if backend.name == "torch":
        return None
    artifact = backend.info().artifact
    if artifact and str(artifact).endswith(".onnx"):
        return Path(artifact)
    from valsuite.artifacts import onnx_for

    opts = backend.options
    return onnx_for(spec, backend.precision, opts.weights_dir, options=opts.precision)


def localize_candidates(cfg, spec, scored: list[tuple[str, object]], record: dict, inputs: np.ndarray) -> None:
    """--localize: for each (name, active backend) of an ONNX candidate, the nodes where it departs."""
    from valsuite.export.onnx_export import export_onnx

    fp32 = export_onnx(spec, cfg.weights_dir)
    for (name, backend), cand in zip(scored, record["candidates"]):
        path = candidate_onnx(backend, spec)
        if path is None:
            cand["localize"] = {"skipped": "not an ONNX candidate"}
            continue
        if path.resolve() == Path(fp32).resolve():
            cand["localize"] = {"skipped": "the candidate runs the FP32 ONNX itself"}
            continue
        result = localize(fp32, path, inputs, rtol=cfg.rtol, atol=cfg.atol, bad_pct=cfg.localize_bad_pct)
        cand["localize"] = result.to_dict(cfg.localize_top)
        print(f"\n### {name}: where it departs from the FP32 ONNX\n")
        print(format_localize(result, cfg.localize_top))
