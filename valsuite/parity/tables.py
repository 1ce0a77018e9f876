"""The parity tables, rendered from the record only (the record is their single source)."""

from __future__ import annotations


def _f(value, digits: int = 2, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _g(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def _stats(err: dict) -> str:
    return " / ".join(_g(err.get(k)) for k in ("mean", "median", "p99", "max"))


def equality_table(record: dict) -> str:
    """The seed's "equality (%)" table, with the error distribution beside it."""
    from tabulate import tabulate

    headers = ("candidate", f"equality (%) rtol={record['rtol']:g} atol={record['atol']:g}",
               "abs err mean / median / p99 / max", "rel err mean / median / p99 / max")
    rows = [[c["name"], _f(c["parity"]["isclose_pct"], 3), _stats(c["parity"]["abs_error"]),
             _stats(c["parity"]["rel_error"])] for c in record["candidates"]]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def decision_table(record: dict) -> str:
    from tabulate import tabulate

    ref = record["reference"]
    labelled = ref.get("prec1") is not None
    headers = ["candidate", "top-1 agreement (%)", "top-1 changed", "top-5 overlap (%)"]
    if labelled:
        headers += ["Prec@1 ref / cand (Δ)", "Prec@5 ref / cand (Δ)"]
    rows = []
    for c in record["candidates"]:
        p = c["parity"]
        row = [c["name"], _f(p["top1_agreement_pct"], 3), f"{p['top1_changed']} / {p['num_samples']}",
               _f(p["top5_overlap_pct"], 3)]
        if labelled:
            row += [f"{_f(ref['prec1'])} / {_f(c['prec1'])} ({_f(c['delta_prec1'], signed=True)})",
                    f"{_f(ref['prec5'])} / {_f(c['prec5'])} ({_f(c['delta_prec5'], signed=True)})"]
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def rank_table(record: dict) -> str:
    """The seed's "TOP 10 MAE / disagreement" table: one row per rank, over all samples."""
    from tabulate import tabulate

    cands = record["candidates"]
    depth = max((len(c["parity"]["ranks"]) for c in cands), default=0)
    headers = ["rank", *(f"{c['name']} MAE / disagreement (%)" for c in cands)]
    rows = []
    for i in range(depth):
        row = [str(i + 1)]
        for c in cands:
            ranks = c["parity"]["ranks"]
            row.append(f"{ranks[i]['mae']:.3g} / {ranks[i]['disagreement_pct']:.2f}" if i < len(ranks) else "-")
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def render_tables(record: dict) -> str:
    source = (f"{record['num_images']} random inputs (seed {record['dataset'].get('seed')})"
              if record["input"] == "random" else f"{record['num_images']} images from {record['dataset']['path']}")
    ref = record["reference"]
    title = (f"Parity of {record['network']} ({record['weights']}) against {ref['name']} on {ref['device']}, "
             f"{source}, batch {record['batch_size']}")
    parts = [title, "", "equality (%)", "", equality_table(record), "", "decisions", "",
             decision_table(record), "", "TOP 10 MAE / disagreement", "", rank_table(record)]
    if record.get("skipped"):
        parts += ["", "skipped: " + "; ".join(f"{s['candidate']} ({s['reason']})" for s in record["skipped"])]
    return "\n".join(parts)


# -- outputs ------------------------------------------------------------------------------------
