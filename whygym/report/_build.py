"""Building ``report.html``: one static page (inline CSS and JS, relative PNG files) from the found runs.

Sections, top to bottom: headline tables; accuracy per task (before/after, one series per run); training
curves; prompt-component attribution; layer ranking; samples (filterable by run, task and outcome);
commands and versions; what was read. A section without data says so in one sentence.

Every figure is drawn from the same lists the tables next to it print, so every number in a plot is in
a table. All files are written atomically (temporary file + rename), the page last.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shlex
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from whygym.items import atomic_write_bytes
from whygym.report import _plots
from whygym.report._discover import EvalRun, Found, TrainRun, discover

__all__ = ["build_report", "render", "REPORT_FILE"]

REPORT_FILE = "report.html"

_METRIC_TITLES = {"correct": "accuracy (answer correct)", "label": "yes/no label accuracy",
                  "loglik": "log p(gold answer), nats"}
_LAYER_METHODS = {
    "mean_ablation": ("mean ablation", "log p(gold) with the module's output replaced by its mean, minus the clean "
                      "log p(gold)"),
    "patching": ("activation patching", "log p(gold) with the module's output taken from the counterfactual "
                 "prompt, minus the clean log p(gold)"),
}
_GROUP_COLORS = {"study": _plots.PALETTE[3], "main": _plots.PALETTE[0], "interaction": _plots.PALETTE[4],
                 "conditional": _plots.PALETTE[2], "marginal": _plots.PALETTE[1], "discovery": _plots.PALETTE[5]}
_TRAIN_PANELS = [("reward", "reward"), ("loss", "loss"), ("zero", "zero-signal groups (fraction)")]
_TRAIN_KEYS = {"reward": ("reward",), "loss": ("loss", "policy_loss"),
               "zero": ("zero_signal_frac", "frac_reward_zero_std")}


# ------------------------------------------------------------------------------------------------ helpers
def esc(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def pct(x: Any) -> str:
    return f"{100 * x:.1f}" if _num(x) else "—"


def fmt(x: Any, d: int = 3, sign: bool = False) -> str:
    if not _num(x):
        return "—"
    return f"{x:+.{d}f}" if sign else f"{x:.{d}f}"


def _ci(c: dict[str, Any] | None, d: int = 3, sign: bool = True) -> str:
    if not isinstance(c, dict) or not _num(c.get("point")):
        return "—"
    s = fmt(c["point"], d, sign)
    if _num(c.get("low")) and _num(c.get("high")):
        s += f' <span class="ci">[{fmt(c["low"], d, sign)}, {fmt(c["high"], d, sign)}]</span>'
    return s


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()[:60] or "x"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "", attrs: str = "") -> str:
    """An HTML table; cells are already-escaped HTML."""
    h = "".join(f"<th>{c}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<div class="scroll"><table class="{cls}"{attrs}><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table></div>'


def _none(text: str) -> str:
    return f'<p class="none">{text}</p>'


def _cmd(argv: Any) -> str | None:
    if isinstance(argv, str):
        return argv
    if isinstance(argv, (list, tuple)) and argv:
        a = [str(x) for x in argv]
        if a[0] != "whygym" and not a[0].endswith(("python", "python3", ".py")) and "/" not in a[0]:
            a = ["whygym"] + a
        return shlex.join(a)
    return None


class _Images:
    """PNG files of the report: name -> bytes, names unique."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def add(self, stem: str, data: bytes, alt: str) -> str:
        name, i = f"{_slug(stem)}.png", 2
        while name in self.files:
            name, i = f"{_slug(stem)}-{i}.png", i + 1
        self.files[name] = data
        return f'<figure><img src="{esc(name)}" alt="{esc(alt)}" loading="eager"></figure>'


# ------------------------------------------------------------------------------------------------- eval
def _eval_runs(found: Found) -> list[EvalRun]:
    """Runs shown in the accuracy section, paired runs first (method order, before then after)."""
    runs = [r for r in found.evals if not r.part_of_attribution]
    order: dict[str, int] = {}
    for r in runs:
        order.setdefault(r.method if r.role else r.label, len(order))
    return sorted(runs, key=lambda r: (order[r.method if r.role else r.label], {"before": 0, "after": 1}.get(r.role or "", 2)))


def _run_colors(runs: list[EvalRun]) -> dict[str, dict[str, Any]]:
    """Series style per run label: a colour per method (pair) or per unpaired run; before = lighter, hatched."""
    out, groups = {}, {}
    for r in runs:
        g = r.method if r.role else r.label
        groups.setdefault(g, _plots.PALETTE[len(groups) % len(_plots.PALETTE)])
        c = groups[g]
        if r.role == "before":
            out[r.label] = {"color": _plots.lighter(c), "edge": c, "hatch": "//"}
        else:
            out[r.label] = {"color": c, "edge": c, "hatch": None}
    return out


def _bench(r: EvalRun, bench: str) -> dict[str, Any]:
    b = ((r.doc.get("results") or {}).get("benchmarks") or {}).get(bench)
    return b if isinstance(b, dict) else {}


def _pct_ci(b: dict[str, Any], lo: str = "ci_low", hi: str = "ci_high") -> str:
    if not (_num(b.get(lo)) and _num(b.get(hi))):
        return ""
    return f' <span class="ci">[{pct(b[lo])}, {pct(b[hi])}]</span>'


def _block_cell(b: dict[str, Any] | None) -> str:
    if not b or not _num(b.get("accuracy")):
        return "—"
    n = f' <span class="n">n={esc(b["n"])}</span>' if b.get("n") is not None else ""
    return f'{pct(b["accuracy"])}{_pct_ci(b)}{n}'



def _delta_cell(b0: dict[str, Any] | None, b1: dict[str, Any] | None) -> str:
    if not b0 or not b1 or not _num(b0.get("accuracy")) or not _num(b1.get("accuracy")):
        return "—"
    d = 100 * (b1["accuracy"] - b0["accuracy"])
    cls = "up" if d > 0 else "down" if d < 0 else ""
    return f'<span class="delta {cls}">{d:+.1f}</span>'


def _cards(found: Found) -> str:
    """Big numbers at the top: each method's before -> after, other runs' accuracy, training reward, CAK/CAD."""
    cards = []
    paired = set()
    for method, b, a in found.pairs():
        ob = (b.doc.get("results") or {}).get("overall") or {}
        oa = (a.doc.get("results") or {}).get("overall") or {}
        paired.update((b.label, a.label))
        if _num(ob.get("accuracy")) and _num(oa.get("accuracy")):
            sub = _delta_cell(ob, oa) + " points"
            zb, za = ob.get("gold_nonzero") or {}, oa.get("gold_nonzero") or {}
            if _num(zb.get("accuracy")) and _num(za.get("accuracy")):
                # a model that learns to answer 0.0000 gains on structural-zero items only: show the rest
                sub += f'; gold ≠ 0: {pct(zb["accuracy"])} → {pct(za["accuracy"])}% (n={esc(za["n"])})'
            cards.append((f"{method}: accuracy", f'{pct(ob["accuracy"])} → {pct(oa["accuracy"])}%', sub))
    for r in _eval_runs(found):
        o = (r.doc.get("results") or {}).get("overall") or {}
        if r.label not in paired and _num(o.get("accuracy")):
            ci = f'95% CI {pct(o["ci_low"])}–{pct(o["ci_high"])}' if _num(o.get("ci_low")) and _num(o.get("ci_high")) else ""
            n = f"n={esc(o['n'])}" if o.get("n") is not None else ""
            z = o.get("gold_nonzero") or {}
            nz = f'gold ≠ 0: {pct(z["accuracy"])}%' if _num(z.get("accuracy")) else ""
            cards.append((f"{r.label}: accuracy", f'{pct(o["accuracy"])}%', ", ".join(x for x in (ci, n, nz) if x)))
    for t in found.trains:
        info = _train_info(t)
        if _num(info["reward_first"]) and _num(info["reward_last"]):
            cards.append((f"{t.label}: reward", f'{fmt(info["reward_first"], 2)} → {fmt(info["reward_last"], 2)}',
                          f'{esc(t.method)}, {esc(info["steps"])} steps'))
        elif _num(info["loss_first"]) and _num(info["loss_last"]):
            cards.append((f"{t.label}: loss", f'{fmt(info["loss_first"], 3)} → {fmt(info["loss_last"], 3)}',
                          f'{esc(t.method)}, {esc(info["steps"])} steps'))
    for a in found.attributions:
        st = ((a.doc.get("results") or {}).get("correct") or {}).get("study") or {}
        if _num((st.get("CAK") or {}).get("point")) and _num((st.get("CAD") or {}).get("point")):
            cards.append((f"{a.label}: knowledge vs data", f'CAK {fmt(st["CAK"]["point"], 2, True)} · '
                          f'CAD {fmt(st["CAD"]["point"], 2, True)}', "effect on accuracy, with the other present"))
    if not cards:
        return ""
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="lbl">{esc(lbl)}</div><div class="big">{big}</div><div class="sub">{sub}</div></div>'
        for lbl, big, sub in cards[:8]) + "</div>"


def _headline(found: Found) -> str:
    parts = [_cards(found)]
    runs = _eval_runs(found)
    if runs:
        rows = []
        for r in runs:
            res = r.doc.get("results") or {}
            o = res.get("overall") or {}
            benches = res.get("benchmarks") or {}
            macro = [b.get("macro_accuracy") for b in benches.values() if _num(b.get("macro_accuracy"))]
            run = r.doc.get("run") or {}
            label_acc = (f'{pct(o.get("label_accuracy"))} <span class="n">n={esc(o.get("label_n"))}</span>'
                         if o.get("label_n") else "—")
            k = (r.doc.get("config") or {}).get("samples") or 1
            passk = f'{pct(o.get(f"pass@{k}"))} <span class="n">pass@{k}</span>' if k > 1 else "—"
            rows.append([f'<a href="#acc-{_slug(next(iter(benches), "x"))}">{esc(r.label)}</a>', esc(r.model_name),
                         "<br>".join(esc(b) for b in benches) or "—", esc(o.get("n_items", o.get("n"))),
                         f'<b>{pct(o.get("accuracy"))}</b>{_pct_ci(o)}',
                         pct(macro[0]) if len(macro) == 1 else "—", label_acc, pct(o.get("parse_fail_rate")),
                         f'{esc(o.get("prompt_tokens", "—"))} / {esc(o.get("completion_tokens", "—"))}',
                         fmt(run.get("wall_seconds"), 1), passk])
        multi = any(((r.doc.get("config") or {}).get("samples") or 1) > 1 for r in runs)
        head = ["run", "model", "benchmark", "items", "accuracy % [95% CI]", "macro %", "yes/no label %",
                "unparsed %", "tokens prompt / completion", "seconds", "pass@k %"]
        if not multi:
            head, rows = head[:-1], [row[:-1] for row in rows]
        parts.append("<h3>Evaluations</h3>" + _table(head, rows, "headline"))
    pairs = found.pairs()
    if pairs:
        rows = []
        for method, b, a in pairs:
            ob = (b.doc.get("results") or {}).get("overall")
            oa = (a.doc.get("results") or {}).get("overall")
            rows.append([f"<b>{esc(method)}</b>", esc(b.model_name), esc(a.model_name), _block_cell(ob),
                         _block_cell(oa), _delta_cell(ob, oa)])
        parts.append("<h3>Before → after</h3>" + _table(
            ["method", "model before", "model after", "before: accuracy %", "after: accuracy %",
             "change (points)"], rows, "headline"))
    if found.trains:
        rows = []
        for t in found.trains:
            info = _train_info(t)
            rows.append([f'<a href="#training">{esc(t.label)}</a>', esc(t.method), esc(info["steps"]),
                         f'{fmt(info["loss_first"], 4)} → {fmt(info["loss_last"], 4)}',
                         f'{fmt(info["reward_first"], 4)} → {fmt(info["reward_last"], 4)}',
                         fmt(info["zero_mean"], 3), fmt(info["seconds"], 1)])
        parts.append("<h3>Training</h3>" + _table(
            ["run", "method", "steps", "loss first → last", "reward first → last", "zero-signal mean", "seconds"],
            rows, "headline"))
    attr_rows = []
    for a in found.attributions:
        st = ((a.doc.get("results") or {}).get("correct") or {}).get("study") or {}
        if any(isinstance(st.get(k), dict) for k in ("CAK", "CAD", "MAK", "MAD")):
            attr_rows.append([f'<a href="#attr-{_slug(a.label)}">{esc(a.label)}</a>',
                              esc((a.doc.get("model") or {}).get("name")), esc(a.doc.get("n_items"))]
                             + [_ci(st.get(k)) for k in ("CAK", "CAD", "MAK", "MAD")])
    if attr_rows:
        parts.append("<h3>Attribution (answer correct, two-factor knowledge × data)</h3>" + _table(
            ["run", "model", "items", "CAK", "CAD", "MAK", "MAD"], attr_rows, "headline"))
    return "".join(parts) or _none("Nothing to summarise.")  # (cannot happen: build_report needs a run)


def _accuracy_section(found: Found, img: _Images) -> str:
    runs = _eval_runs(found)
    if not runs:
        return _none("No evaluation runs were found (a <code>results.json</code> written by <code>whygym eval</code>). "
                     "Run <code>whygym eval --model M --benchmark B --out RUN_DIR/before</code> (and "
                     "<code>RUN_DIR/after</code> with the trained model) to fill this section.")
    styles = _run_colors(runs)
    by_bench: dict[str, list[EvalRun]] = {}
    for r in runs:
        for b in ((r.doc.get("results") or {}).get("benchmarks") or {}):
            by_bench.setdefault(b, []).append(r)
    out = ['<p class="lead">Accuracy per task with its 95% Wilson interval. Hatched light bars are the '
           '<i>before</i> run of a method, solid bars of the same colour its <i>after</i> run.</p>']
    pairs = [(m, b, a) for m, b, a in found.pairs()]
    for bench, rs in by_bench.items():
        tasks: list[str] = []
        for r in rs:
            for t in _bench(r, bench).get("tasks") or {}:
                if t not in tasks:
                    tasks.append(t)
        cats = tasks + ["ALL"]

        def block(r: EvalRun, t: str) -> dict[str, Any] | None:
            bb = _bench(r, bench)
            return bb.get("overall") if t == "ALL" else (bb.get("tasks") or {}).get(t)

        series = []
        for r in rs:
            vals = {}
            for t in cats:
                b = block(r, t)
                if b and _num(b.get("accuracy")):
                    vals[t] = (100 * b["accuracy"], 100 * b.get("ci_low", b["accuracy"]),
                               100 * b.get("ci_high", b["accuracy"]))
            series.append({"label": r.label, "values": vals, **styles[r.label]})
        out.append(f'<h3 id="acc-{_slug(bench)}">{esc(bench)}</h3>')
        if any(s_["values"] for s_ in series):
            fig = img.add(f"accuracy-{bench}", _plots.accuracy_bars(cats, series, f"Accuracy per task: {bench}"),
                          f"accuracy per task on {bench}, one bar per run")
        else:
            fig = _none(f"No accuracy recorded for {esc(bench)} (the runs' results.json have no numbers for it).")
        in_bench = {r.label for r in rs}
        bench_pairs = [(m, b, a) for m, b, a in pairs if b.label in in_bench and a.label in in_bench]
        head = ["task"] + [esc(r.label) for r in rs] + [f"change {esc(m)}" for m, _, _ in bench_pairs]
        rows = []
        for t in cats:
            row = [f"<b>{esc(t)}</b>" if t == "ALL" else esc(t)] + [_block_cell(block(r, t)) for r in rs]
            row += [_delta_cell(block(b, t), block(a, t)) for _, b, a in bench_pairs]
            rows.append(row)
        # side by side while the table is narrow; a wide table goes under the plot
        narrow = len(rs) + len(bench_pairs) <= 3 and len(cats) * len(rs) <= 10
        out.append(f'<div class="{"pair" if narrow else "stack"}">{fig}<div>'
                   f'{_table(head, rows, "acc")}')
        macro = [f"{esc(r.label)}: {pct(_bench(r, bench).get('macro_accuracy'))}" for r in rs]
        out.append(f'<p class="note">accuracy % [95% Wilson interval], n = item-sample pairs; change in '
                   f'percentage points (after − before). Macro accuracy (mean over tasks): {"; ".join(macro)}.</p>'
                   '</div></div>')
    skipped = [r.label for r in found.evals if r.part_of_attribution]
    if skipped:
        out.append(f'<p class="note">Not shown here: {", ".join(esc(s) for s in skipped)} (the per-arm evaluation '
                   'of an attribution run; its results are in the attribution section).</p>')
    return "".join(out)


# --------------------------------------------------------------------------------------------- training
def _train_series(t: TrainRun) -> tuple[dict[str, tuple[list, list]], dict[str, str]]:
    """Panel key -> (steps, values) from the log rows (the last row of a step wins), and the log key used."""
    rows = [r for r in t.rows if _num(r.get("step"))]
    series, used = {}, {}
    for key, cands in _TRAIN_KEYS.items():
        for c in cands:
            by = {}
            for r in rows:
                if _num(r.get(c)):
                    by[r["step"]] = r[c]
            if by:
                steps = sorted(by)
                series[key] = (steps, [by[s] for s in steps])
                used[key] = c
                break
    return series, used


def _train_info(t: TrainRun) -> dict[str, Any]:
    s = t.summary or {}
    series, _ = _train_series(t)
    loss = series.get("loss", ([], []))[1]
    rew = series.get("reward", ([], []))[1]
    zero = series.get("zero", ([], []))[1]
    logged = [st for v in series.values() for st in v[0]]
    steps = int(max(logged)) if logged else s.get("steps")  # the last logged step, else what the summary says
    return {"steps": steps if steps is not None else "—",
            "loss_first": s.get("first_loss", loss[0] if loss else None),
            "loss_last": s.get("final_loss", loss[-1] if loss else None),
            "reward_first": rew[0] if rew else s.get("reward_first"),
            "reward_last": rew[-1] if rew else s.get("reward_last"),
            "zero_mean": s.get("zero_signal_frac_mean", sum(zero) / len(zero) if zero else None),
            "seconds": s.get("wall_s")}


def _training_section(found: Found, img: _Images) -> str:
    if not found.trains:
        return _none("No training runs were found (a <code>train_log.jsonl</code> or <code>train_summary.json</code> "
                     "written by <code>whygym train</code>). Point the report at the training output folder to "
                     "see reward, loss and zero-signal curves here.")
    out = ['<p class="lead">Per logged step. Zero-signal groups are GRPO groups whose completions all got the same '
           'reward (no advantage, nothing learnt); the loss of a PPO run is its policy loss.</p>']
    runs = []
    for i, t in enumerate(found.trains):
        series, used = _train_series(t)
        titles = {k: f"{title} ({used[k]})" for k, title in _TRAIN_PANELS
                  if k in used and used[k] not in ("reward", "loss", "zero_signal_frac")}
        runs.append({"label": t.label, "color": _plots.PALETTE[i % len(_plots.PALETTE)], "series": series,
                     "used": used, "titles": titles, "run": t})
    comparable = [(k, t) for k, t in _TRAIN_PANELS if k != "loss" and sum(k in r["series"] for r in runs) >= 2]
    if comparable:
        out.append("<h3>All runs</h3>" + img.add(
            "training-compare", _plots.training_curves(runs, comparable, per_run=False),
            "training runs overlaid: " + ", ".join(t for _, t in comparable)))
    shown = [r for r in runs if r["series"]]
    if shown:
        if comparable:
            out.append("<h3>Each run</h3>")
        out.append(img.add("training-curves", _plots.training_curves(shown, _TRAIN_PANELS),
                           "training curves: reward, loss and fraction of zero-signal groups per step, per run"))
    else:
        out.append(_none("The training logs hold no per-step reward, loss or zero-signal values yet."))
    for r in runs:
        t: TrainRun = r["run"]
        keys = [k for k, _ in _TRAIN_PANELS if k in r["series"]]
        missing = [title for k, title in _TRAIN_PANELS if k not in r["series"]]
        steps = sorted({s for k in keys for s in r["series"][k][0]})
        vals = {k: dict(zip(*r["series"][k])) for k in keys}
        head = ["step"] + [f'{dict(_TRAIN_PANELS)[k]} <span class="n">({esc(r["used"][k])})</span>' for k in keys]
        rows = [[esc(s)] + [fmt(vals[k].get(s), 4) for k in keys] for s in steps]
        note = f' Not logged: {", ".join(missing)}.' if missing else ""
        out.append(f'<h3>{esc(t.label)} <span class="tag">{esc(t.method)}</span></h3>'
                   f'<p class="note">{len(steps)} logged steps.{note}</p>')
        if rows:
            open_ = " open" if len(rows) <= 12 else ""
            out.append(f"<details{open_}><summary>per-step values ({len(rows)} rows)</summary>"
                       + _table(head, rows, "num") + "</details>")
    return "".join(out)


# ------------------------------------------------------------------------------------------ attribution
def _effect_rows(res: dict[str, Any], components: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    study = res.get("study") or {}
    for k in ("CAK", "CAD", "MAK", "MAD"):
        if isinstance(study.get(k), dict):
            rows.append({"group": "study", "name": k, **study[k]})
    for grp in ("main", "interaction", "conditional", "marginal"):
        d = res.get(grp) or {}
        names = [c for c in components if c in d] + [c for c in d if c not in components]
        for c in names:
            if isinstance(d.get(c), dict):
                rows.append({"group": grp, "name": f"{grp}: {c}" if grp != "interaction" else f"interaction: {c}", **d[c]})
    for r in rows:
        r["color"] = _GROUP_COLORS.get(r["group"], _plots.PALETTE[0])
    return rows


def _effects_table(rows: list[dict[str, Any]], d: int = 3) -> str:
    return _table(["effect", "estimate", "95% low", "95% high", "n"],
                  [[esc(r["name"]), fmt(r.get("point"), d, True), fmt(r.get("low"), d, True),
                    fmt(r.get("high"), d, True), esc(r.get("n", "—"))] for r in rows], "num")


def _attribution_section(found: Found, img: _Images) -> str:
    prompt_runs = [a for a in found.attributions if isinstance(a.doc.get("results"), dict)
                   or isinstance(a.doc.get("discovery"), dict)]
    if not prompt_runs:
        return _none("No prompt-component attribution was found (an <code>attribution.json</code> with "
                     "<code>results</code> or <code>discovery</code>, written by <code>whygym attribute</code>).")
    out = ['<p class="lead">Effects of switching a prompt component on (paired 2<sup>k</sup> factorial over the same '
           'items), 95% bootstrap intervals. CAK / CAD: knowledge (real names) / data, with the other one present; '
           'MAK / MAD: with the other one absent. Main effect = average over the other factors; conditional / '
           'marginal = with every other factor on / off.</p>']
    for a in prompt_runs:
        doc = a.doc
        comps = [str(c) for c in doc.get("components") or []]
        levels = doc.get("levels") or {}
        out.append(f'<h3 id="attr-{_slug(a.label)}">{esc(a.label)}</h3>')
        meta = [f"model <b>{esc((doc.get('model') or {}).get('name', '—'))}</b>",
                f"items {esc(doc.get('n_items', '—'))}", f"tasks {esc(', '.join(map(str, doc.get('tasks') or [])) or '—')}"]
        if comps:
            meta.append("components " + ", ".join(
                f"{esc(c)} ({esc((levels.get(c) or {}).get('on', 'on'))} vs {esc((levels.get(c) or {}).get('off', 'off'))})"
                for c in comps))
        out.append(f'<p class="note">{" · ".join(meta)}</p>')
        results = doc.get("results")
        if isinstance(results, dict):
            for metric in [m for m in ("correct", "label", "loglik") if m in results] + \
                          [m for m in results if m not in ("correct", "label", "loglik")]:
                res = results[metric]
                if not isinstance(res, dict):
                    continue
                rows = _effect_rows(res, comps)
                title = _METRIC_TITLES.get(metric, metric)
                out.append(f"<h4>{esc(title)} <span class=\"n\">(n={esc(res.get('n_items', '—'))})</span></h4>")
                if not rows:
                    out.append(_none("No effects were recorded for this metric."))
                    continue
                d = 3
                out.append('<div class="pair">' + img.add(
                    f"attribution-{a.label}-{metric}",
                    _plots.interval_barh(rows, f"{a.label}: effects on {title}",
                                         "difference in " + ("log p(gold), nats" if metric == "loglik" else "rate")),
                    f"attribution effects on {title}") + _effects_table(rows, d) + "</div>")
                am = res.get("arm_means")
                if isinstance(am, dict) and am:
                    arms = doc.get("arms") or {}
                    labels = list(arms)
                    arm_rows = []
                    for i, (code, v) in enumerate(am.items()):
                        lab = labels[i] if i < len(labels) else code
                        arm_rows.append([esc(code), esc(lab), fmt(v, 3)])
                    out.append("<details><summary>mean per arm</summary>"
                               + _table(["arm", "levels", "mean"], arm_rows, "num") + "</details>")
        elif results is not None:
            out.append(_none("This attribution.json has a <code>results</code> entry that is not a table of effects."))
        disc = doc.get("discovery")
        if isinstance(disc, dict):
            for kind, dres in disc.items():
                s = (dres or {}).get("summary") or {}
                settings = s.get("settings") or {}
                out.append(f"<h4>causal discovery: {esc(kind)} <span class=\"n\">({esc(s.get('n_trials', '—'))} "
                           "trials)</span></h4>")
                if not settings:
                    out.append(_none("No discovery summary recorded."))
                    continue
                metrics = ["tdr", "fdr", "f1", "shd"]
                trows = [[esc(name)] + [_ci(v.get(m), 3, False) for m in metrics] for name, v in settings.items()]
                key = s.get("metric", "tdr")
                prow = [{"name": f"{key.upper()} {name}", "color": _GROUP_COLORS["discovery"], **(v.get(key) or {})}
                        for name, v in settings.items()]
                prow += [{"name": k, "color": _GROUP_COLORS["study"], **ci}
                         for k, ci in (s.get("attribution") or {}).items() if isinstance(ci, dict)]
                out.append('<div class="stack small">' + img.add(  # the settings table is wide: under the plot
                    f"discovery-{a.label}-{kind}",
                    _plots.interval_barh(prow, f"{a.label}: discovery {kind}", "rate / difference of rates"),
                    f"discovery {kind}: {key} per setting and attribution scores")
                    + "<div>" + _table(["setting"] + [m.upper() for m in metrics], trows, "num")
                    + _effects_table([r for r in prow if r["name"] in ("CAK", "CAD", "MAK", "MAD")]) + "</div></div>")
    return "".join(out)


def _layers_section(found: Found, img: _Images, top: int) -> str:
    runs = [a for a in found.attributions if isinstance(a.doc.get("layers"), dict)]
    if not runs:
        return _none("No layer attribution was found (an <code>attribution.json</code> with a <code>layers</code> "
                     "section, written by <code>whygym attribute --layers</code>).")
    out = []
    for a in runs:
        lay = a.doc["layers"]
        rows = [r for r in lay.get("rows") or [] if isinstance(r, dict)]
        base = lay.get("baseline") or {}
        clean, cf = base.get("clean_logp") or [], base.get("counterfactual_logp") or []
        out.append(f'<h3 id="layers-{_slug(a.label)}">{esc(a.label)}</h3>')
        meta = [f"model <b>{esc((lay.get('model') or a.doc.get('model') or {}).get('name', '—'))}</b>",
                f"items {esc(lay.get('n_items', len(clean) or '—'))}"]
        if clean:
            meta.append(f"mean clean log p(gold) {fmt(sum(clean) / len(clean), 3)}")
        if cf:
            meta.append(f"mean counterfactual log p(gold) {fmt(sum(cf) / len(cf), 3)}")
        if lay.get("counterfactual"):
            meta.append("counterfactual " + esc(", ".join(f"{k}={v}" for k, v in lay["counterfactual"].items())))
        out.append(f'<p class="note">{" · ".join(meta)}</p>')
        by = {r.get("module"): r for r in rows}
        methods = [m for m in lay.get("methods") or [] if any(isinstance(r.get(m), dict) for r in rows)]
        if not methods:
            out.append(_none("This layer attribution holds no per-module effects."))
        for m in methods:
            ranking = (lay.get("ranking") or {}).get(m) or sorted(
                by, key=lambda k: -abs((by[k].get(m) or {}).get("point") or 0))
            sel = [by[k] for k in ranking if k in by and isinstance(by[k].get(m), dict)][:top]
            name, what = _LAYER_METHODS.get(m, (m, "change in log p(gold)"))
            prow = [{"name": r["module"], "color": _plots.PALETTE[0] if r.get("kind") == "attention" else _plots.PALETTE[1],
                     **r[m]} for r in sel]
            trows = [[esc(i), f'<span class="mono">{esc(r["module"])}</span>', esc(r.get("kind", "—")),
                      fmt(r[m].get("point"), 3, True),
                      f'{fmt(r[m].get("low"), 3, True)}, {fmt(r[m].get("high"), 3, True)}',
                      esc(r[m].get("n", "—"))] for i, r in enumerate(sel, 1)]
            out.append(f'<h4>{esc(name)} <span class="n">top {len(sel)} of {len(rows)} modules by |effect|</span></h4>'
                       f'<p class="note">Effect = {esc(what)} (nats; mean over items, 95% bootstrap interval). '
                       'Blue: attention, orange: MLP.</p>')
            out.append('<div class="pair">' + img.add(
                f"layers-{a.label}-{m}",
                _plots.interval_barh(prow, f"{a.label}: {name}, top {len(sel)}", "change in log p(gold answer), nats"),
                f"layer ranking by {name}") + _table(
                ["#", "module", "kind", "effect", "95% interval", "n"], trows, "num") + "</div>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------- samples
def _answer(x: dict[str, Any] | None) -> str:
    if not isinstance(x, dict):
        return "—"
    parts = []
    if x.get("label") is not None:
        parts.append(str(x["label"]))
    p = x.get("prob_text") if x.get("prob_text") is not None else x.get("prob")
    if p is not None:
        parts.append(f"{p:.4f}" if isinstance(p, float) else str(p))
    return " · ".join(parts) or "—"


def _long(text: Any, cut: int = 110) -> str:
    s = "" if text is None else str(text)
    if len(s) <= cut and "\n" not in s:
        return f'<span class="mono">{esc(s) or "<i>(empty)</i>"}</span>'
    # the preamble is the same in every prompt; the question line tells them apart
    q = re.search(r"^(?:Question|问题)[:：].*$", s, re.M)
    head = (s[q.start():] if q else s).replace("\n", " ")[:cut]
    return (f'<details class="long"><summary><span class="mono">{esc(head)}…</span></summary>'
            f'<pre>{esc(s)}</pre></details>')


def _samples_section(found: Found) -> str:
    runs = [r for r in _eval_runs(found) if r.samples]
    no_samples = [r.label for r in _eval_runs(found) if not r.samples]
    if not runs:
        return _none("No samples were found (a <code>samples.jsonl</code> beside an eval run's "
                     "<code>results.json</code>)." + (f" Eval runs without one: {esc(', '.join(no_samples))}."
                                                       if no_samples else ""))
    tasks, outcomes = [], []
    body, n = [], 0
    for r in runs:
        for s in r.samples or []:
            t, o = str(s.get("task", "?")), str(s.get("outcome", "?"))
            if t not in tasks:
                tasks.append(t)
            if o not in outcomes:
                outcomes.append(o)
            samp = f' <span class="n">#{esc(s.get("sample"))}</span>' if s.get("sample") else ""
            body.append(
                f'<tr data-run="{esc(r.label)}" data-task="{esc(t)}" data-outcome="{esc(o)}">'
                f"<td>{esc(r.label)}</td><td>{esc(t)}</td><td class=\"mono small\">{esc(s.get('id'))}{samp}</td>"
                f'<td><span class="badge {esc(_slug(o))}">{esc(o)}</span></td>'
                f"<td class=\"mono\">{esc(_answer(s.get('extracted')))}</td><td class=\"mono\">{esc(_answer(s.get('gold')))}</td>"
                f"<td>{_long(s.get('prompt'))}</td><td>{_long(s.get('output'), 80)}</td></tr>")
            n += 1
    order = {"correct": 0, "wrong": 1, "unparsed": 2}
    outcomes.sort(key=lambda o: (order.get(o, 9), o))

    def select(ident: str, label: str, values: list[str]) -> str:
        opts = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
        return (f'<label>{label} <select id="{ident}" data-key="{ident.split("-")[1]}">'
                f'<option value="">all</option>{opts}</select></label>')

    caps = [f"{esc(r.label)}: first {len(r.samples)} of {r.samples_total}" for r in runs
            if r.samples_total > len(r.samples or [])]
    cap_note = f' Shown: {"; ".join(caps)} (raise <code>--max-samples</code> for more).' if caps else ""
    filters = ('<div class="filters">' + select("filter-run", "run", [r.label for r in runs])
               + select("filter-task", "task", tasks) + select("filter-outcome", "outcome", outcomes)
               + '<button type="button" id="filter-reset">show all</button>'
               + f'<span id="samples-count" class="count">{n} of {n} samples shown</span></div>')
    table = ('<div class="scroll tall"><table id="samples-table" class="samples"><thead><tr><th>run</th><th>task</th>'
             '<th>item</th><th>outcome</th><th>extracted answer</th><th>gold</th><th>prompt</th><th>output</th>'
             f'</tr></thead><tbody>{"".join(body)}</tbody></table>'
             '<p id="samples-empty" class="none" hidden>No sample matches these filters.</p></div>')
    miss = f" Eval runs without samples.jsonl: {esc(', '.join(no_samples))}." if no_samples else ""
    return (f'<p class="lead">Every scored sample: pick a run, task or outcome to filter; click a prompt or output '
            f'to read it whole.{cap_note}{miss}</p>' + filters + table)


# --------------------------------------------------------------------------------------------- commands
def _kv_table(d: dict[str, Any]) -> str:
    """Versions as one line of ``name value`` chips (git: the revision, and whether the tree had changes)."""
    chips = []
    for k, v in d.items():
        if k == "git" and isinstance(v, dict):
            v = str(v.get("revision") or "?")[:12] + (" + uncommitted changes" if v.get("dirty") else "")
        elif isinstance(v, dict):
            v = ", ".join(f"{kk}={vv}" for kk, vv in v.items())
        chips.append(f'<span class="kv"><b>{esc(k)}</b> <span class="mono">{esc("—" if v is None else v)}</span></span>')
    return f'<p class="versions">{"".join(chips)}</p>'


def _commands_section(found: Found) -> str:
    out = []
    for r in _eval_runs(found):
        run = r.doc.get("run") or {}
        cmd = _cmd(run.get("argv"))
        env = r.doc.get("environment") or {}
        out.append(f'<div class="cmd"><h4>{esc(r.label)} <span class="tag">eval</span></h4>'
                   + (f'<pre class="command">{esc(cmd)}</pre>' if cmd else
                      _none("Command not recorded (run_eval was called from Python, not from the command line)."))
                   + f'<p class="note">started {esc(run.get("started_utc", "—"))} UTC · {fmt(run.get("wall_seconds"), 1)} s '
                   f'· {esc(run.get("samples_generated", "—"))} samples generated, {esc(run.get("samples_from_cache", "—"))} '
                   'from cache</p>'
                   + (_kv_table(env) if env else _none("Versions not recorded."))
                   + "<details><summary>configuration</summary><pre>"
                   + esc(json.dumps({"config": r.doc.get("config"), "model": r.doc.get("model")}, indent=2,
                                    ensure_ascii=False)) + "</pre></details></div>")
    for t in found.trains:
        s = t.summary or {}
        cmd = _cmd(s.get("command"))
        vers = dict(s.get("versions") or {})
        if s.get("device"):
            vers["device"] = s["device"]
        out.append(f'<div class="cmd"><h4>{esc(t.label)} <span class="tag">train {esc(t.method)}</span></h4>'
                   + (f'<pre class="command">{esc(cmd)}</pre>' if cmd else
                      _none("Command not recorded in train_summary.json." if s else "No train_summary.json (the run "
                            "may still be going, or was stopped before it wrote one)."))
                   + (_kv_table(vers) if vers else _none("Versions not recorded."))
                   + ("<details><summary>configuration</summary><pre>"
                      + esc(json.dumps(s.get("config"), indent=2, ensure_ascii=False, default=str)) + "</pre></details>"
                      if s.get("config") else "") + "</div>")
    for a in found.attributions:
        cmds = []
        st = a.doc.get("settings") or {}
        if _cmd(st.get("argv")):
            cmds.append(_cmd(st["argv"]))
        lay = a.doc.get("layers") or {}
        if isinstance(lay, dict) and _cmd(lay.get("argv")):
            cmds.append(_cmd(lay["argv"]))
        for d in (a.doc.get("discovery") or {}).values():
            if isinstance(d, dict) and _cmd(d.get("argv")):
                cmds.append(_cmd(d["argv"]))
        cmds = list(dict.fromkeys(cmds))
        out.append(f'<div class="cmd"><h4>{esc(a.label)} <span class="tag">attribute</span></h4>'
                   + ("".join(f'<pre class="command">{esc(c)}</pre>' for c in cmds) if cmds else
                      _none("Command not recorded in attribution.json."))
                   + ("<details><summary>settings</summary><pre>" + esc(json.dumps(st, indent=2, ensure_ascii=False))
                      + "</pre></details>" if st else "") + "</div>")
    return "".join(out) or _none("No run records, so no commands to show.")


def _sources_section(found: Found, out_dir: Path) -> str:
    rows = []
    for r in found.evals:
        files = "results.json" + (", samples.jsonl" if r.samples is not None else "")
        kind = "eval" + (f" ({r.role})" if r.role else "") + (" — attribution arms" if r.part_of_attribution else "")
        rows.append([esc(r.label), kind, f'<span class="mono">{esc(r.path)}</span>', esc(files)])
    for t in found.trains:
        files = ", ".join(f for f, ok in (("train_log.jsonl", t.rows), ("train_summary.json", t.summary)) if ok)
        rows.append([esc(t.label), f"train ({esc(t.method)})", f'<span class="mono">{esc(t.path)}</span>', esc(files)])
    for a in found.attributions:
        parts = [k for k in ("results", "layers", "discovery") if k in a.doc]
        rows.append([esc(a.label), "attribution (" + esc(", ".join(parts) or "empty") + ")",
                     f'<span class="mono">{esc(a.path)}</span>', "attribution.json"])
    out = _table(["label", "kind", "folder", "files read"], rows)
    if found.problems:
        out += ('<h3>Files that could not be used</h3><ul class="problems">'
                + "".join(f"<li>{esc(p)}</li>" for p in found.problems) + "</ul>")
    return out


# ----------------------------------------------------------------------------------------------- page
_CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--card:#fff;--accent:#0072B2;--good:#1b7f4b;--bad:#c23c2a;--warn:#a86a00}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#102a43;color:#fff;padding:22px 32px 16px}
header h1{margin:0;font-size:24px;font-weight:650;letter-spacing:.2px}
header p{margin:4px 0 0;color:#bcccdc;font-size:13px}
nav{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid var(--line);padding:8px 32px;display:flex;gap:18px;flex-wrap:wrap}
nav a{color:var(--ink);text-decoration:none;font-size:14px;font-weight:550}
nav a:hover{color:var(--accent)}
nav a .cnt{color:var(--muted);font-weight:400;font-size:12px}
main{max-width:1280px;margin:0 auto;padding:18px 32px 60px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 24px 22px;margin:18px 0;box-shadow:0 1px 2px rgba(16,42,67,.05)}
section>h2{margin:0 0 10px;font-size:20px;border-bottom:2px solid var(--accent);display:inline-block;padding-bottom:3px}
h3{font-size:16.5px;margin:22px 0 8px}
h4{font-size:15px;margin:18px 0 6px}
.lead{color:var(--muted);margin:4px 0 12px;max-width:980px}
.note{color:var(--muted);font-size:13px;margin:6px 0 10px}
.none{background:#fffbea;border:1px solid #f0d98c;border-radius:6px;padding:10px 14px;color:#6b5000;margin:8px 0}
.scroll{overflow-x:auto;max-width:100%}
.scroll.tall{max-height:720px;overflow-y:auto;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;font-size:13.5px;margin:6px 0 10px;min-width:40%}
th,td{border-bottom:1px solid var(--line);padding:6px 10px;text-align:left;vertical-align:top}
th{background:#f0f4f8;font-weight:600;position:sticky;top:0;z-index:1}
table.num td,table.acc td{font-variant-numeric:tabular-nums;white-space:nowrap}
table.headline td{font-variant-numeric:tabular-nums}
table.headline tr:hover td,table.samples tr:hover td{background:#f7fbff}
.ci{color:var(--muted);font-size:12px}
.n{color:var(--muted);font-size:12px;font-weight:400}
.delta{font-weight:650}.delta.up{color:var(--good)}.delta.down{color:var(--bad)}
.tag{display:inline-block;background:#e6f0fa;color:#0b4f7c;border-radius:10px;padding:0 8px;font-size:12px;font-weight:500;vertical-align:middle}
figure{margin:10px 0}
.stack.small figure img{max-width:min(100%,900px)}
figure img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:6px;background:#fff}
.pair{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:16px;align-items:start}
@media (max-width:1000px){.pair{grid-template-columns:1fr}}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.small{font-size:11.5px}
pre{white-space:pre-wrap;word-break:break-word;background:#f5f7fa;border:1px solid var(--line);border-radius:6px;padding:8px 10px;font-size:12.5px;margin:6px 0;max-height:420px;overflow:auto}
pre.command{background:#102a43;color:#f0f4f8;border:0}
details.long summary{cursor:pointer;list-style:none}
details.long summary::-webkit-details-marker{display:none}
details.long summary .mono{color:#243b53;border-bottom:1px dashed #9fb3c8}
details.long[open] summary{display:none}
details>summary{cursor:pointer;color:var(--accent);font-size:13.5px}
table.samples td{max-width:420px}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600}
.badge.correct{background:#e3f5ea;color:var(--good)}.badge.wrong{background:#fde8e4;color:var(--bad)}.badge.unparsed{background:#fff3d6;color:var(--warn)}
.filters{display:flex;gap:16px;align-items:center;flex-wrap:wrap;margin:8px 0 10px;padding:10px 12px;background:#f0f4f8;border-radius:6px}
.filters select{font-size:14px;padding:3px 6px;margin-left:4px}
.filters button{font-size:13px;padding:4px 10px;cursor:pointer}
.count{margin-left:auto;color:var(--muted);font-size:13px}
.cmd{border-top:1px solid var(--line);padding-top:4px}
#selfcheck-banner{background:#fde8e4;color:#8a1f11;padding:10px 32px;font-weight:600}
.cards{display:flex;gap:14px;flex-wrap:wrap;margin:6px 0 8px}
.card{border:1px solid var(--line);border-left:4px solid var(--accent);border-radius:8px;padding:10px 16px;min-width:200px;background:#fbfcfe}
.card .lbl{color:var(--muted);font-size:12px;font-weight:600;letter-spacing:.3px}
.card .big{font-size:26px;font-weight:700;font-variant-numeric:tabular-nums;line-height:1.25}
.card .sub{color:var(--muted);font-size:12.5px}
.versions{display:flex;flex-wrap:wrap;gap:6px 14px;font-size:13px;margin:6px 0}
.kv b{font-weight:600;color:var(--muted)}
footer{color:var(--muted);font-size:12px;text-align:center;padding:20px}
"""

# Runs first, before anything else can fail: every error (script errors, and images that fail to load,
# caught in the capture phase) is kept so that the self-check below can report it in the page.
_JS_HEAD = """
window.__reportErrors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  if (t && t.tagName === 'IMG') { window.__reportErrors.push('image failed to load: ' + t.getAttribute('src')); }
  else { window.__reportErrors.push(String(e.message || e)); }
}, true);
"""

_JS = """
(function () {
  function byId(id) { return document.getElementById(id); }
  var table = byId('samples-table');
  if (table) {
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var selects = Array.prototype.slice.call(document.querySelectorAll('.filters select'));
    var count = byId('samples-count'), empty = byId('samples-empty');
    var apply = function () {
      var shown = 0;
      rows.forEach(function (tr) {
        var ok = selects.every(function (s) { return !s.value || tr.getAttribute('data-' + s.getAttribute('data-key')) === s.value; });
        tr.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = shown + ' of ' + rows.length + ' samples shown';
      empty.hidden = shown > 0;
    };
    selects.forEach(function (s) { s.addEventListener('change', apply); });
    byId('filter-reset').addEventListener('click', function () { selects.forEach(function (s) { s.value = ''; }); apply(); });
    apply();
  }
  window.addEventListener('load', function () {
    var imgs = Array.prototype.slice.call(document.images);
    var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
                     .map(function (i) { return i.getAttribute('src'); });
    var errs = window.__reportErrors.slice();
    var box = byId('selfcheck');
    box.setAttribute('data-status', (broken.length || errs.length) ? 'fail' : 'ok');
    box.setAttribute('data-images', String(imgs.length));
    box.setAttribute('data-broken', broken.join(' '));
    box.textContent = JSON.stringify({images: imgs.length, broken: broken, errors: errs});
    if (broken.length) {
      var b = document.createElement('div');
      b.id = 'selfcheck-banner';
      b.textContent = broken.length + ' plot image(s) did not load (' + broken.join(', ') +
        '): keep the PNG files in the same folder as report.html.';
      document.body.insertBefore(b, document.body.firstChild);
    }
  });
})();
"""


def render(found: Found, out_dir: Path, *, title: str | None = None, top_layers: int = 15,
           command: str | None = None) -> tuple[str, dict[str, bytes]]:
    """The page's HTML and its PNG files (name -> bytes)."""
    from whygym import __version__

    img = _Images()
    n_attr = sum(1 for a in found.attributions if "results" in a.doc or "discovery" in a.doc)
    n_layers = sum(1 for a in found.attributions if "layers" in a.doc)
    n_samples = sum(len(r.samples or []) for r in _eval_runs(found))
    sections = [
        ("summary", "Summary", None, _headline(found)),
        ("accuracy", "Accuracy per task", len(_eval_runs(found)), _accuracy_section(found, img)),
        ("training", "Training curves", len(found.trains), _training_section(found, img)),
        ("attribution", "Prompt-component attribution", n_attr, _attribution_section(found, img)),
        ("layers", "Layer ranking", n_layers, _layers_section(found, img, top_layers)),
        ("samples", "Samples", n_samples, _samples_section(found)),
        ("commands", "Commands and versions", None, _commands_section(found)),
        ("sources", "What was read", None, _sources_section(found, out_dir)),
    ]
    nav = "".join(f'<a href="#{sid}">{esc(name)}' + (f' <span class="cnt">{cnt}</span>' if cnt is not None else "")
                  + "</a>" for sid, name, cnt, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{esc(name)}</h2>{content}</section>' for sid, name, _, content in sections)
    roots = ", ".join(str(r) for r in found.roots)
    ttl = title or "whygym report: " + ", ".join(r.resolve().name or str(r) for r in found.roots)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(ttl)}</title>
<script>{_JS_HEAD}</script>
<style>{_CSS}</style></head>
<body>
<header><h1>{esc(ttl)}</h1><p>{len(_eval_runs(found))} eval run(s) · {len(found.trains)} training run(s) · {len(found.attributions)} attribution result(s) · from <span class="mono">{esc(roots)}</span> · generated {when}</p></header>
<nav>{nav}</nav>
<main>{body}</main>
<footer>whygym {esc(__version__)} · {esc(command or "whygym report")}</footer>
<div id="selfcheck" hidden data-status="pending"></div>
<script>{_JS}</script>
</body></html>
"""
    return page, img.files


def build_report(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike, *, title: str | None = None,
                 max_samples: int = 1000, top_layers: int = 15, command: str | None = None,
                 found: Found | None = None) -> Path:
    """Discover the runs under ``run_dirs`` and write ``out/report.html`` and its PNG files; return the page's path.

    Raises ``FileNotFoundError`` for a run dir that does not exist and ``LookupError`` when nothing
    recognisable is under a run dir (the CLI turns both into messages saying what to pass).
    """
    out_dir = Path(out).expanduser()
    if found is None:
        found = discover(list(run_dirs), skip=[out_dir], max_samples=max_samples)
    if found.empty:
        raise LookupError("no run records")
    page, files = render(found, out_dir, title=title, top_layers=top_layers, command=command)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / REPORT_FILE
    old = _previous_images(path)
    for name, data in files.items():
        atomic_write_bytes(out_dir / name, data)
    atomic_write_bytes(path, page.encode("utf-8"))
    for name in old - set(files):  # plots of an earlier report here that the new page no longer shows
        try:
            (out_dir / name).unlink()
        except OSError:
            pass
    return path


def _previous_images(page: Path) -> set[str]:
    """The PNG files an earlier ``report.html`` in the same folder referenced (plain names only)."""
    try:
        text = page.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    return {m for m in re.findall(r'<img src="([^"/\\]+\.png)"', text)}
