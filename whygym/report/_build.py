"""Building ``report.html``: one static page (inline CSS and JS, relative PNG files) from the found runs.

Sections, top to bottom: headline tables; accuracy per task (before/after, one series per run); training
curves; prompt-component attribution; layer ranking; samples (filterable by run, task and outcome);
commands and versions; what was read. A section without data says so in one sentence.

The page is the jinja2 template ``templates/page.html.j2`` (one template per section, the CSS and JS
included inline), autoescaped: every text from a run file is escaped by the engine. It reads the typed run
records of :mod:`whygym.report._records`; what is computed here are the plots and the lists they are
drawn from, and every table next to a plot prints the same list, so every number in a plot is in a table.
All files are written atomically (temporary file + rename), the page last.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Sequence

import jinja2

from whygym.attribution.schema import Interval, MetricScores
from whygym.items import atomic_write_bytes
from whygym.report import _plots
from whygym.report._discover import Found, discover
from whygym.report._records import AttributionRun, EvalRun

__all__ = ["build_report", "render", "REPORT_FILE", "TEMPLATES"]

REPORT_FILE = "report.html"
#: The page's templates, CSS and JavaScript (package data).
TEMPLATES = Path(__file__).with_name("templates")

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
_STUDY = ("CAK", "CAD", "MAK", "MAD")


# ------------------------------------------------------------------------------------ template filters
def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def pct(x: Any) -> str:
    return f"{100 * x:.1f}" if _num(x) else "—"


def fmt(x: Any, d: int = 3, sign: bool = False) -> str:
    if not _num(x):
        return "—"
    return f"{x:+.{d}f}" if sign else f"{x:.{d}f}"


def slug(s: Any) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(s)).strip("-").lower()[:60] or "x"


def _dash(x: Any) -> Any:
    return "—" if x is None else x


def _long_head(text: str, cut: int) -> str | None:
    """``None`` for a text short enough to show whole, else its first ``cut`` characters from the question on
    (the preamble is the same in every prompt; the question line tells them apart)."""
    if len(text) <= cut and "\n" not in text:
        return None
    q = re.search(r"^(?:Question|问题)[:：].*$", text, re.M)
    return (text[q.start():] if q else text).replace("\n", " ")[:cut]


def _pretty_json(x: Any) -> str:
    return json.dumps(x, indent=2, ensure_ascii=False, default=str)


_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                          autoescape=jinja2.select_autoescape(("html", "html.j2")), trim_blocks=True,
                          lstrip_blocks=True, keep_trailing_newline=True)
_ENV.filters.update(pct=pct, fmt=fmt, slug=slug, dash=_dash, long_head=_long_head, pretty_json=_pretty_json)


class _Images:
    """PNG files of the report: name -> bytes, names unique."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def add(self, stem: str, data: bytes, alt: str) -> dict[str, str]:
        name, i = f"{slug(stem)}.png", 2
        while name in self.files:
            name, i = f"{slug(stem)}-{i}.png", i + 1
        self.files[name] = data
        return {"src": name, "alt": alt}


def _row(name: str, iv: Interval, color: str) -> dict[str, Any]:
    """A row of an effects table, and the bar drawn for it."""
    return {"name": name, "color": color, "point": iv.point, "low": iv.low, "high": iv.high, "n": iv.n}


# ---------------------------------------------------------------------------------------------- summary
def _eval_runs(found: Found) -> list[EvalRun]:
    """Runs shown in the accuracy section, paired runs first (method order, before then after)."""
    runs = [r for r in found.evals if not r.part_of_attribution]
    order: dict[str, int] = {}
    for r in runs:
        order.setdefault(r.method if r.role else r.label, len(order))
    return sorted(runs, key=lambda r: (order[r.method if r.role else r.label], {"before": 0, "after": 1}.get(r.role or "", 2)))


def _study(a: AttributionRun) -> dict[str, Interval]:
    """CAK, CAD, MAK, MAD on accuracy, where the file has them."""
    res = (a.attribution.results or {}).get("correct")
    return res.study if res else {}


def _cards(found: Found) -> list[dict[str, Any]]:
    """Big numbers at the top: each method's before -> after, other runs' accuracy, training reward, CAK/CAD."""
    cards, paired = [], set()
    for method, b, a in found.pairs():
        ob, oa = b.overall, a.overall
        paired.update((b.label, a.label))
        if _num(ob.accuracy) and _num(oa.accuracy):
            zb, za = ob.gold_nonzero, oa.gold_nonzero
            # a model that learns to answer 0.0000 gains on structural-zero items only: show the rest
            sub = (f"; gold ≠ 0: {pct(zb.accuracy)} → {pct(za.accuracy)}% (n={za.n})"
                   if _num(zb.accuracy) and _num(za.accuracy) else "")
            cards.append({"label": f"{method}: accuracy", "big": f"{pct(ob.accuracy)} → {pct(oa.accuracy)}%",
                          "delta": (ob, oa), "sub": sub})
    for r in _eval_runs(found):
        o = r.overall
        if r.label not in paired and _num(o.accuracy):
            parts = [f"95% CI {pct(o.ci_low)}–{pct(o.ci_high)}" if _num(o.ci_low) and _num(o.ci_high) else "",
                     f"n={o.n}" if o.n is not None else "",
                     f"gold ≠ 0: {pct(o.gold_nonzero.accuracy)}%" if _num(o.gold_nonzero.accuracy) else ""]
            cards.append({"label": f"{r.label}: accuracy", "big": f"{pct(o.accuracy)}%", "delta": None,
                          "sub": ", ".join(x for x in parts if x)})
    for t in found.trains:
        for what, first, last, d in (("reward", t.reward_first, t.reward_last, 2),
                                      ("loss", t.loss_first, t.loss_last, 3)):
            if _num(first) and _num(last):
                cards.append({"label": f"{t.label}: {what}", "big": f"{fmt(first, d)} → {fmt(last, d)}",
                              "delta": None, "sub": f"{t.method}, {_dash(t.steps)} steps"})
                break
    for a in found.attributions:
        st = _study(a)
        if "CAK" in st and "CAD" in st and _num(st["CAK"].point) and _num(st["CAD"].point):
            cards.append({"label": f"{a.label}: knowledge vs data", "delta": None,
                          "big": f"CAK {fmt(st['CAK'].point, 2, True)} · CAD {fmt(st['CAD'].point, 2, True)}",
                          "sub": "effect on accuracy, with the other present"})
    return cards[:8]


# --------------------------------------------------------------------------------------------- accuracy
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


def _accuracy(found: Found, img: _Images) -> list[dict[str, Any]]:
    """Per benchmark: its tasks (then ALL), each run's block per task, the pairs' changes, the plot."""
    runs = _eval_runs(found)
    styles = _run_colors(runs)
    by_bench: dict[str, list[EvalRun]] = {}
    for r in runs:
        for b in r.benchmarks:
            by_bench.setdefault(b, []).append(r)
    out = []
    for bench, rs in by_bench.items():
        cats = list(dict.fromkeys(t for r in rs for t in r.benchmarks[bench].tasks)) + ["ALL"]
        series = []
        for r in rs:
            vals = {}
            for t in cats:
                b = r.benchmarks[bench].block(t)
                if b and _num(b.accuracy):
                    vals[t] = tuple(100 * (x if _num(x) else b.accuracy) for x in (b.accuracy, b.ci_low, b.ci_high))
            series.append({"label": r.label, "values": vals, **styles[r.label]})
        fig = None
        if any(s["values"] for s in series):
            fig = img.add(f"accuracy-{bench}", _plots.accuracy_bars(cats, series, f"Accuracy per task: {bench}"),
                          f"accuracy per task on {bench}, one bar per run")
        in_bench = {r.label for r in rs}
        pairs = [(m, b, a) for m, b, a in found.pairs() if b.label in in_bench and a.label in in_bench]
        rows = [(t, [r.benchmarks[bench].block(t) for r in rs],
                 [(b.benchmarks[bench].block(t), a.benchmarks[bench].block(t)) for _, b, a in pairs]) for t in cats]
        out.append({"name": bench, "runs": rs, "rows": rows, "figure": fig,
                    "head": ["task"] + [r.label for r in rs] + [f"change {m}" for m, _, _ in pairs],
                    # side by side while the table is narrow; a wide table goes under the plot
                    "narrow": len(rs) + len(pairs) <= 3 and len(cats) * len(rs) <= 10})
    return out


# --------------------------------------------------------------------------------------------- training
def _training(found: Found, img: _Images) -> dict[str, Any]:
    runs = []
    for i, t in enumerate(found.trains):
        titles = {k: f"{title} ({t.log_keys[k]})" for k, title in _TRAIN_PANELS
                  if k in t.log_keys and t.log_keys[k] not in ("reward", "loss", "zero_signal_frac")}
        keys = [k for k, _ in _TRAIN_PANELS if k in t.series]
        vals = {k: dict(zip(*t.series[k])) for k in keys}
        steps = sorted({s for k in keys for s in t.series[k][0]})
        runs.append({"label": t.label, "color": _plots.PALETTE[i % len(_plots.PALETTE)], "series": t.series,
                     "titles": titles, "run": t, "steps": steps,
                     "head": [(dict(_TRAIN_PANELS)[k], t.log_keys[k]) for k in keys],
                     "missing": [title for k, title in _TRAIN_PANELS if k not in t.series],
                     "rows": [(s, [vals[k].get(s) for k in keys]) for s in steps]})
    comparable = [(k, t) for k, t in _TRAIN_PANELS if k != "loss" and sum(k in r["series"] for r in runs) >= 2]
    compare = shown = None
    if comparable:
        compare = img.add("training-compare", _plots.training_curves(runs, comparable, per_run=False),
                          "training runs overlaid: " + ", ".join(t for _, t in comparable))
    if any(r["series"] for r in runs):
        shown = img.add("training-curves", _plots.training_curves([r for r in runs if r["series"]], _TRAIN_PANELS),
                        "training curves: reward, loss and fraction of zero-signal groups per step, per run")
    return {"runs": runs, "compare": compare, "curves": shown}


# ------------------------------------------------------------------------------------------ attribution
def _effect_rows(res: MetricScores, components: Sequence[str]) -> list[dict[str, Any]]:
    rows = [_row(k, res.study[k], _GROUP_COLORS["study"]) for k in _STUDY if k in res.study]
    for grp in ("main", "interaction", "conditional", "marginal"):
        d = getattr(res, grp)
        for c in [c for c in components if c in d] + [c for c in d if c not in components]:
            rows.append(_row(f"{grp}: {c}", d[c], _GROUP_COLORS[grp]))
    return rows


def _attribution(found: Found, img: _Images) -> list[dict[str, Any]]:
    out = []
    for a in found.attributions:
        doc = a.attribution
        if doc.results is None and doc.discovery is None:
            continue
        metrics = []
        results = doc.results or {}
        order = [m for m in _METRIC_TITLES if m in results] + [m for m in results if m not in _METRIC_TITLES]
        for metric in order:
            res = results[metric]
            rows = _effect_rows(res, doc.components)
            title = _METRIC_TITLES.get(metric, metric)
            fig = img.add(
                f"attribution-{a.label}-{metric}",
                _plots.interval_barh(rows, f"{a.label}: effects on {title}",
                                     "difference in " + ("log p(gold), nats" if metric == "loglik" else "rate")),
                f"attribution effects on {title}") if rows else None
            arms = [(code, doc.arms[i] if i < len(doc.arms) else code, v)  # code, levels, mean
                    for i, (code, v) in enumerate(res.arm_means.items())]
            metrics.append({"title": title, "n": res.n_items, "rows": rows, "figure": fig, "arms": arms})
        discovery = []
        for kind, d in (doc.discovery or {}).items():
            prow = [_row(f"{d.metric.upper()} {name}", v.get(d.metric) or Interval(), _GROUP_COLORS["discovery"])
                    for name, v in d.settings.items()]
            prow += [_row(k, iv, _GROUP_COLORS["study"]) for k, iv in d.attribution.items()]
            fig = img.add(f"discovery-{a.label}-{kind}",
                          _plots.interval_barh(prow, f"{a.label}: discovery {kind}", "rate / difference of rates"),
                          f"discovery {kind}: {d.metric} per setting and attribution scores") if d.settings else None
            discovery.append({"d": d, "figure": fig, "study": [r for r in prow if r["name"] in _STUDY]})
        out.append({"run": a, "metrics": metrics, "discovery": discovery})
    return out


def _layers(found: Found, img: _Images, top: int) -> list[dict[str, Any]]:
    out = []
    for a in found.attributions:
        lay = a.attribution.layers
        if lay is None:
            continue
        by = {r.module: r for r in lay.rows}
        methods = []
        for m in [m for m in lay.methods if any(m in r.effects for r in lay.rows)]:
            ranking = lay.ranking.get(m) or sorted(by, key=lambda k: -abs(by[k].effects[m].point or 0)
                                                   if m in by[k].effects else 0)
            sel = [by[k] for k in ranking if k in by and m in by[k].effects][:top]
            name, what = _LAYER_METHODS.get(m, (m, "change in log p(gold)"))
            rows = [{**_row(r.module, r.effects[m], _plots.PALETTE[0] if r.kind == "attention" else _plots.PALETTE[1]),
                     "kind": r.kind} for r in sel]
            fig = img.add(f"layers-{a.label}-{m}",
                          _plots.interval_barh(rows, f"{a.label}: {name}, top {len(sel)}",
                                               "change in log p(gold answer), nats"), f"layer ranking by {name}")
            methods.append({"name": name, "what": what, "rows": rows, "figure": fig})
        clean, cf = lay.clean_logp, lay.counterfactual_logp
        out.append({"run": a, "lay": lay, "methods": methods,
                    "model": lay.model_name or a.attribution.model_name,
                    "n_items": lay.n_items if lay.n_items is not None else len(clean) or None,
                    "clean": sum(clean) / len(clean) if clean else None, "cf": sum(cf) / len(cf) if cf else None})
    return out


# ---------------------------------------------------------------------------------------------- samples
def _samples(found: Found) -> dict[str, Any]:
    runs = [r for r in _eval_runs(found) if r.samples]
    order = {"correct": 0, "wrong": 1, "unparsed": 2}
    return {"runs": runs, "without": [r.label for r in _eval_runs(found) if not r.samples],
            "tasks": list(dict.fromkeys(s.task for r in runs for s in r.samples)),
            "outcomes": sorted({s.outcome for r in runs for s in r.samples}, key=lambda o: (order.get(o, 9), o)),
            "n": sum(len(r.samples) for r in runs),
            "caps": [r for r in runs if r.samples_total > len(r.samples)]}


# ------------------------------------------------------------------------------------------------- page
def render(found: Found, out_dir: Path, *, title: str | None = None, top_layers: int = 15,
           command: str | None = None) -> tuple[str, dict[str, bytes]]:
    """The page's HTML and its PNG files (name -> bytes)."""
    from whygym import __version__

    img = _Images()
    evals = _eval_runs(found)
    ctx = {"found": found, "evals": evals, "pairs": found.pairs(), "cards": _cards(found),
           "multi": any(r.samples_k > 1 for r in evals),
           "studies": [(a, _study(a)) for a in found.attributions if _study(a)],
           "accuracy": _accuracy(found, img), "training": _training(found, img),
           "attribution": _attribution(found, img), "layers": _layers(found, img, top_layers),
           "samples": _samples(found)}
    n_attr = sum(1 for a in found.attributions if {"results", "discovery"} & set(a.attribution.sections))
    n_layers = sum(1 for a in found.attributions if "layers" in a.attribution.sections)
    ctx["sections"] = [
        ("summary", "Summary", None), ("accuracy", "Accuracy per task", len(evals)),
        ("training", "Training curves", len(found.trains)), ("attribution", "Prompt-component attribution", n_attr),
        ("layers", "Layer ranking", n_layers), ("samples", "Samples", ctx["samples"]["n"]),
        ("commands", "Commands and versions", None), ("sources", "What was read", None)]
    page = _ENV.get_template("page.html.j2").render(
        **ctx, title=title or "whygym report: " + ", ".join(r.resolve().name or str(r) for r in found.roots),
        roots=", ".join(str(r) for r in found.roots), when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        version=__version__, command=command or "whygym report")
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
