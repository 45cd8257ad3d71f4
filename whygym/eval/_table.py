"""The per-task table printed at the end of ``whygym eval`` (plain text, fixed-width)."""

from __future__ import annotations

from typing import Any

__all__ = ["format_table", "markdown_summary"]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _nz(b: dict[str, Any]) -> str:
    """Accuracy over the items whose gold is a non-zero number, ``correct/n`` beside it; ``-`` when none."""
    z = b.get("gold_nonzero") or {}
    return f"{_pct(z['accuracy'])} ({z['correct']}/{z['n']})" if z.get("n") else "-"


def _row(name: str, b: dict[str, Any], samples: int) -> list[str]:
    row = [name, str(b["n_items"]), str(b["correct"]), str(b["wrong"]), str(b["unparsed"]), _pct(b["accuracy"]),
           f"[{_pct(b['ci_low'])}, {_pct(b['ci_high'])}]", _nz(b),
           _pct(b["label_accuracy"]) if b["label_n"] else "-", _pct(b["parse_fail_rate"])]
    if samples > 1:
        row.append(_pct(b.get(f"pass@{samples}")))
    return row


def format_table(doc: dict[str, Any]) -> str:
    """One block per benchmark: a row per task and an ALL row; percentages, 95% Wilson intervals.

    ``n`` counts items; correct/wrong/unparsed count item-sample pairs; ``acc% gold!=0`` is the accuracy over
    the pairs whose gold is a non-zero number (a model answering 0.0000 everywhere scores only outside it).
    """
    samples = doc["config"]["samples"]
    head = ["task", "n", "correct", "wrong", "unparsed", "acc%", "95% CI", "acc% gold!=0", "label%", "unparsed%"]
    if samples > 1:
        head.append(f"pass@{samples}%")
    lines = []
    res = doc["results"]
    for bench, r in res["benchmarks"].items():
        rows = [head] + [_row(t, b, samples) for t, b in r["tasks"].items()] + [_row("ALL", r["overall"], samples)]
        widths = [max(len(row[c]) for row in rows) for c in range(len(head))]
        fmt = lambda row: "  ".join(s.ljust(w) if c == 0 else s.rjust(w)  # noqa: E731
                                    for c, (s, w) in enumerate(zip(row, widths)))
        macro = r.get("macro_accuracy")
        lines.append(f"{bench}  (match={doc['config']['match']}, samples={samples}, "
                     f"macro acc {_pct(macro)}%)")
        lines.append(fmt(rows[0]))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(fmt(row) for row in rows[1:])
        lines.append("")
    if len(res["benchmarks"]) > 1:
        o = res["overall"]
        lines.append(f"all benchmarks: {o['correct']}/{o['n']} correct = {_pct(o['accuracy'])}% "
                     f"[{_pct(o['ci_low'])}, {_pct(o['ci_high'])}], unparsed {_pct(o['parse_fail_rate'])}%")
    run = doc.get("run") or {}
    if run.get("wall_seconds") is not None:
        o = res["overall"]
        lines.append(f"{run['wall_seconds']:.1f} s, {run.get('items_per_second') or 0:.2f} items/s; "
                     f"{run.get('samples_generated', 0)} samples generated, {run.get('samples_from_cache', 0)} "
                     f"from cache; tokens: {o['prompt_tokens']} prompt, {o['completion_tokens']} completion")
    if run.get("out"):
        lines.append(f"wrote {run['out']}/results.json and samples.jsonl")
    return "\n".join(lines)


def markdown_summary(doc: dict[str, Any]) -> str:
    """One Markdown row per benchmark (items, accuracy with its 95% Wilson interval, the same over the items
    whose gold is not 0, label accuracy, unparsed, answers cut by ``max_new_tokens``), for docs/results.md."""
    lines = ["| benchmark | items | acc % [95% CI] | acc %, gold != 0 [95% CI] | label % [95% CI] | unparsed % "
             "| cut at max tokens |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for bench, r in doc["results"]["benchmarks"].items():
        o = r["overall"]
        label = (f"{_pct(o['label_accuracy'])} [{_pct(o['label_ci_low'])}, {_pct(o['label_ci_high'])}] "
                 f"(n={o['label_n']})" if o["label_n"] else "-")
        z = o.get("gold_nonzero") or {}
        nz = (f"{_pct(z['accuracy'])} [{_pct(z['ci_low'])}, {_pct(z['ci_high'])}] (n={z['n']})" if z.get("n")
              else "-")
        lines.append(f"| `{bench}` | {o['n_items']} | {_pct(o['accuracy'])} [{_pct(o['ci_low'])}, "
                     f"{_pct(o['ci_high'])}] | {nz} | {label} | {_pct(o['parse_fail_rate'])} | {o['truncated']}/{o['n']} |")
    return "\n".join(lines)
