"""The benchmark matrix: many backbones x input sizes x backends in one compact table per machine.

A sweep over backbones and resolutions makes dozens of two-row groups; as seed tables they would
bury the point (latency does not track GFLOPs, the fastest model at one size is not the fastest at
another). Speed-only groups (synthetic input) of a machine with two or more networks or input sizes
render as one table sorted by network, size, batch, backend and precision instead.
"""

from __future__ import annotations

from tabulate import tabulate

from valsuite.results.tables import MEASURED_KINDS, _num, row_sort_key

MATRIX_HEADERS = ("network", "input", "batch", "backend", "precision", "GFLOPs", "params M",
                  "Latency-model p50 / p99 ms", "img/s (model)", "img/s", "mem peak MB", "stable")


def input_label(record: dict) -> str:
    size = record.get("input_size")
    text = "x".join(str(v) for v in size) if size else "native"
    return text if record.get("native_input_size", True) else f"{text}*"


def in_matrix(group) -> bool:
    """A speed-only group (synthetic input, GFLOPs counted) belongs in the matrix."""
    measured = [r for r in group.records if r.get("kind") in MEASURED_KINDS]
    return bool(measured) and all(r.get("input") == "synthetic" and "gflops" in r for r in measured)


def wants_matrix(groups: list) -> bool:
    """Two or more networks or input sizes among a machine's speed-only groups."""
    members = [g for g in groups if in_matrix(g)]
    return len({g.network for g in members}) > 1 or len({g.input_size for g in members}) > 1


def model_throughput(record: dict) -> float | None:
    """Images per second from Latency-model alone (the engine's compute, no copies, no host)."""
    lat = record.get("latency_model_ms") or {}
    mean, batch = lat.get("mean"), record.get("batch_size")
    return 1e3 * batch / mean if mean and batch else None


def _size_key(record: dict) -> tuple:
    size = record.get("input_size") or (0, 0)
    return (size[0] * size[1], tuple(size))


def matrix_row(record: dict) -> list[str]:
    lat = record.get("latency_model_ms") or {}
    params = record.get("model_params")
    util = record.get("utilisation") or {}
    stable = (record.get("stability") or {}).get("stable")
    return [str(record.get("network")), input_label(record), str(record.get("batch_size")),
            str(record.get("backend")), str(record.get("precision")), _num(record.get("gflops"), 2),
            _num(params / 1e6 if params else None, 1),
            f"{_num(lat.get('p50'), 3)} / {_num(lat.get('p99'), 3)}",
            _num(model_throughput(record), 0), _num(record.get("throughput_img_s"), 0),
            _num(util.get("torch_peak_allocated_mb") or util.get("gpu_mem_peak_mb") or util.get("rss_peak_mb"), 0),
            "-" if stable is None else ("yes" if stable else "no")]


def matrix_table(groups: list) -> str:
    records = [r for g in groups if in_matrix(g) for r in g.records if r.get("kind") in MEASURED_KINDS]
    records.sort(key=lambda r: (str(r.get("network")), _size_key(r), r.get("batch_size") or 0, row_sort_key(r)))
    table = tabulate([matrix_row(r) for r in records], headers=MATRIX_HEADERS, tablefmt="github",
                     disable_numparse=True)
    note = ("`*` not the weights' native size (speed only). GFLOPs: torch.utils.flop_counter, one image, "
            "a multiply-add counts 2. img/s (model): batch / mean Latency-model; img/s: from Latency-all. "
            "mem peak: torch's peak allocation in the run where recorded, else GPU memory used on the whole "
            "device (NVML; it includes what earlier runs of the process left cached), process RSS on the CPU. stable: CV of Latency-model <= 10%.")
    return "\n".join([table, "", note])
