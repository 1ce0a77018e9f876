"""The README results section, rendered from run records only.

Deterministic by construction: records are grouped and sorted by their content (never by file
order or the clock), the newest record of each row wins, and nothing time-dependent is printed,
so the same records give byte-identical markdown. Backends, precisions and machines are read from
the records, so a new engine or precision shows up without touching this file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tabulate import tabulate

from valsuite.results.tables import MEASURED_KINDS, dataset_label, row_sort_key, seed_table

UNKNOWN_MACHINE = "unknown machine"


@dataclass
class Group:
    """Runs of one network/weights/dataset/batch size on one machine: one table."""

    machine: str
    network: str
    weights: str
    dataset: str
    batch_size: int | None
    input_size: str = ""               # "HxW" of a non-native --input_size, "" at the native size
    records: list[dict] = field(default_factory=list)

    @property
    def sort_key(self) -> tuple:
        return (self.machine, self.network, self.weights, self.dataset, self.batch_size or 0, self.input_size)


def machine_of(record: dict) -> str:
    return str((record.get("environment") or {}).get("machine") or UNKNOWN_MACHINE)


def input_size_tag(record: dict) -> str:
    """'384x576' for a run at a non-native input size, '' otherwise (older records have no size)."""
    size = record.get("input_size")
    if not size or record.get("native_input_size", True):
        return ""
    return "x".join(str(v) for v in size)


def dataset_id(record: dict) -> str:
    """Identity of the evaluated images: the file-list hash, or the synthetic seed and count."""
    data = record.get("dataset") or {}
    if data.get("file_list_sha256"):
        return f"sha256:{data['file_list_sha256']}"
    return dataset_label(record) + f" x{record.get('num_images') or data.get('num_images')}"


def newest(records: list[dict]) -> list[dict]:
    """Records sorted oldest to newest by content-derived keys (stable for equal times)."""
    return sorted(records, key=lambda r: (str(r.get("created_utc", "")), str(r.get("run_id", ""))))


def latest_per_row(records: list[dict]) -> list[dict]:
    """One record per backend/precision/device: the newest run (a rerun replaces a failure)."""
    rows: dict[tuple, dict] = {}
    for record in newest(records):
        rows[(record.get("backend"), record.get("precision"), record.get("device"))] = record
    return sorted(rows.values(), key=row_sort_key)


def measurement_groups(records: list[dict]) -> list[Group]:
    """Validation, benchmark and failure records grouped per machine, network, dataset and batch size."""
    groups: dict[tuple, Group] = {}
    for record in records:
        if record.get("kind") not in MEASURED_KINDS + ("failure",):
            continue
        group = Group(machine_of(record), str(record.get("network")), str(record.get("weights")),
                      dataset_id(record), record.get("batch_size"), input_size_tag(record))
        groups.setdefault(group.sort_key, group).records.append(record)
    for group in groups.values():
        group.records = latest_per_row(group.records)
    return sorted(groups.values(), key=lambda g: g.sort_key)


def _one_line(text: object, limit: int = 200) -> str:
    line = " ".join(str(text or "no message").split())
    line = line.replace("|", "\\|")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def group_title(group: Group) -> str:
    measured = [r for r in group.records if r.get("kind") in MEASURED_KINDS]
    first = (measured or group.records)[0]
    images = first.get("num_images") or (first.get("dataset") or {}).get("num_images") or "?"
    size = f" at {group.input_size} (not the native size: no accuracy)" if group.input_size else ""
    return (f"{group.network} ({group.weights}){size}, batch {group.batch_size}, {images} images from "
            f"{dataset_label(first)}, on {group.machine}")


def render_group(group: Group) -> str:
    lines = [f"#### {group_title(group)}", "", seed_table(group.records)]
    failures = [r for r in group.records if r.get("kind") == "failure"]
    if failures:
        lines.append("")
        for record in failures:
            lines.append(f"- {record.get('backend')} {record.get('precision')} ({record.get('device')}) failed: "
                         f"{_one_line(record.get('error'))}")
    return "\n".join(lines)


# -- environment footnote ------------------------------------------------------------------------
_ENV_FIELDS = (("CPU", "cpu"), ("cores", "cpu_count"), ("GPU", "gpu"), ("driver", "driver"), ("CUDA", "cuda"),
               ("compute capability", "compute_capability"), ("Python", "python"), ("OS", "platform"))


def _distinct(values) -> str:
    seen = sorted({str(v) for v in values if v not in (None, "")})
    return " / ".join(seen)


def environment_footnote(records: list[dict]) -> str:
    """What the runs of one machine ran on; differing values across runs are all listed."""
    envs = [r.get("environment") or {} for r in records]
    parts = []
    for label, key in _ENV_FIELDS:
        text = _distinct(env.get(key) for env in envs)
        if text:
            parts.append(f"{label} {text}")
    packages = sorted({name for env in envs for name in (env.get("packages") or {})})
    versions = [f"{name} {_distinct((env.get('packages') or {}).get(name) for env in envs)}" for name in packages]
    if versions:
        parts.append("packages: " + ", ".join(versions))
    return f"Environment ({len(records)} runs): " + ("; ".join(parts) if parts else "not recorded") + "."


# -- parity tables (compare records) -------------------------------------------------------------
PARITY_HEADERS = ("candidate", "precision", "device", "isclose %", "top-1 agreement %", "top-5 overlap %",
                  "abs err mean / median / p99 / max", "Prec@1", "ΔPrec@1")


def stat(candidate: dict, *names: str):
    """A candidate statistic under any of its names, at the top level or under 'parity'."""
    for source in (candidate, candidate.get("parity") or {}):
        for name in names:
            if source.get(name) is not None:
                return source[name]
    return None


def _fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def top5_overlap_pct(candidate: dict) -> float | None:
    """Share of the reference's top-5 classes also in the candidate's top-5, in percent.

    Accepts 'top5_overlap_pct' (percent) or 'top5_overlap_mean' (mean count of shared classes, 0..5).
    """
    pct = stat(candidate, "top5_overlap_pct")
    if pct is not None:
        return float(pct)
    mean = stat(candidate, "top5_overlap_mean")
    return None if mean is None else 100.0 * float(mean) / 5.0


def parity_row(candidate: dict) -> list[str]:
    abs_err = stat(candidate, "abs_err", "abs_error") or {}
    delta = stat(candidate, "prec1_delta", "delta_prec1")
    return [
        str(candidate.get("backend") or candidate.get("name") or "?"), str(candidate.get("precision") or "?"),
        str(candidate.get("device") or "-"),
        _fmt(stat(candidate, "isclose_pct")), _fmt(stat(candidate, "top1_agreement_pct")),
        _fmt(top5_overlap_pct(candidate)),
        " / ".join("-" if abs_err.get(k) is None else f"{float(abs_err[k]):.3g}" for k in ("mean", "median", "p99", "max")),
        _fmt(stat(candidate, "prec1")), "-" if delta is None else f"{float(delta):+.2f}",
    ]


def parity_groups(records: list[dict]) -> list[tuple[tuple, dict, list[dict]]]:
    """(key, newest record, candidates) per machine/network/weights/dataset/batch/reference."""
    groups: dict[tuple, tuple[dict, dict]] = {}
    for record in newest([r for r in records if r.get("kind") == "compare"]):
        ref = record.get("reference") or {}
        key = (machine_of(record), str(record.get("network")), str(record.get("weights")), dataset_id(record),
               record.get("batch_size") or 0, str(ref.get("backend")), str(ref.get("precision")))
        _, cands = groups.setdefault(key, (record, {}))
        for cand in record.get("candidates") or []:
            cands[(cand.get("backend") or cand.get("name"), cand.get("precision"), cand.get("device"))] = cand
        groups[key] = (record, cands)
    result = []
    for key in sorted(groups):
        record, cands = groups[key]
        ordered = sorted(cands.values(), key=lambda c: (row_sort_key(c), str(c.get("name"))))
        result.append((key, record, ordered))
    return result


def _inputs_label(record: dict) -> str:
    inputs = record.get("inputs")
    if isinstance(inputs, dict):
        return dataset_label({"dataset": inputs, "input": inputs.get("kind")})
    if inputs is not None and not isinstance(inputs, (dict, list)):
        return f"{inputs} inputs"
    if record.get("input") in ("random", "synthetic"):
        return f"{record.get('num_images', '?')} seeded random inputs"
    return f"{record.get('num_images', '?')} images from {dataset_label(record)}"


def render_parity(key: tuple, record: dict, candidates: list[dict]) -> str:
    ref = record.get("reference") or {}
    title = (f"#### Parity: {key[1]} ({key[2]}) vs {ref.get('backend', '?')} {ref.get('precision', '?')}, "
             f"batch {record.get('batch_size')}, {_inputs_label(record)}, on {key[0]}")
    table = tabulate([parity_row(c) for c in candidates], headers=PARITY_HEADERS, tablefmt="github",
                     disable_numparse=True)
    lines = [title, "", table]
    if ref.get("prec1") is not None:
        lines += ["", f"Reference Prec@1 {_fmt(ref.get('prec1'))}, Prec@5 {_fmt(ref.get('prec5'))}."]
    skipped = record.get("skipped") or []
    if skipped:
        lines.append("")
        lines.extend(f"- skipped {s.get('candidate', '?')}: {_one_line(s.get('reason'))}" for s in skipped
                     if isinstance(s, dict))
    return "\n".join(lines)


# -- the whole section ---------------------------------------------------------------------------
GENERATED_NOTE = ("<!-- generated by `python main.py --report` from run records: edit the records or the "
                  "renderer, not this text -->")


def render_section(records: list[dict], plots: list[tuple[str, str]] = ()) -> str:
    from valsuite.results.matrix import in_matrix, matrix_table, wants_matrix

    """Markdown for the README section: per machine its tables, parity tables and footnote; then plots.

    `plots` are (caption, link relative to the README) pairs, already in a deterministic order.
    """
    parts = [GENERATED_NOTE, ""]
    measured, parity = measurement_groups(records), parity_groups(records)
    machines = sorted({g.machine for g in measured} | {key[0] for key, _, _ in parity})
    if not machines:
        parts.append("No run records yet: run `python main.py -v ...` or `python main.py --sweep ...` first.")
    for machine in machines:
        parts += [f"### {machine}", ""]
        runs = []
        groups = [g for g in measured if g.machine == machine]
        matrix = wants_matrix(groups)
        if matrix:
            parts += [f"#### Benchmark matrix (synthetic input), on {machine}", "", matrix_table(groups), ""]
        for group in groups:
            if not (matrix and in_matrix(group)):
                parts += [render_group(group), ""]
            runs += group.records
        for key, record, cands in (p for p in parity if p[0][0] == machine):
            parts += [render_parity(key, record, cands), ""]
            runs.append(record)
        parts += [environment_footnote(runs), ""]
    if plots:
        parts += ["### Plots", ""]
        for caption, link in plots:
            parts += [f"![{caption}]({link})", ""]
    return "\n".join(parts).rstrip("\n") + "\n"
