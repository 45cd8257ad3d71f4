"""The report's figures, drawn with matplotlib's object API on the Agg canvas (no pyplot state, no display).

Every function returns PNG bytes; the caller writes them. The numbers drawn are exactly those the report's
tables print (the tables are built from the same lists).
"""

from __future__ import annotations

import io
import math
from typing import Any, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

__all__ = ["PALETTE", "lighter", "accuracy_bars", "training_curves", "interval_barh"]

#: Colour-blind-friendly palette (Okabe-Ito, without black).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#8C564B", "#7F7F7F"]
_INK = "#1f2933"
_GRID = "#d9dee3"


def lighter(color: str, amount: float = 0.55) -> tuple[float, float, float]:
    """``color`` mixed with white (``amount`` = share of white)."""
    r, g, b = to_rgb(color)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


def _figure(w: float, h: float) -> Figure:
    fig = Figure(figsize=(w, h), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#9aa5b1")
    ax.tick_params(colors=_INK, labelsize=9)
    ax.set_axisbelow(True)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    return buf.getvalue()


def _ok(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def accuracy_bars(categories: Sequence[str], series: Sequence[dict[str, Any]], title: str) -> bytes:
    """Grouped bars: one group per category (task), one bar per series, 95% interval as error bars.

    ``series``: dicts with ``label``, ``color``, ``hatch`` (or ``None``) and ``values``: category ->
    ``(accuracy %, low %, high %)`` (missing categories are left empty).
    """
    n_c, n_s = max(len(categories), 1), max(len(series), 1)
    width = min(0.8 / n_s, 0.32)
    w_in = min(16.0, max(6.5, 1.2 + n_c * (n_s * width + 0.45) * 1.05))
    fig = _figure(w_in, 4.2)
    ax = fig.add_subplot()
    _style(ax)
    for j, s in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for i, c in enumerate(categories):
            v = s["values"].get(c)
            if v is None or not _ok(v[0]):
                continue
            xs.append(i + (j - (n_s - 1) / 2) * width)
            ys.append(v[0])
            lo.append(max(0.0, v[0] - v[1]) if _ok(v[1]) else 0.0)
            hi.append(max(0.0, v[2] - v[0]) if _ok(v[2]) else 0.0)
        ax.bar(xs, ys, width * 0.92, color=s["color"], edgecolor=s.get("edge", s["color"]), linewidth=0.8,
               hatch=s.get("hatch"), label=s["label"], zorder=2)
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor=_INK, elinewidth=1.0, capsize=3, zorder=3)
    ax.set_xticks(range(len(categories)), categories, rotation=0 if n_c <= 8 else 30,
                  ha="center" if n_c <= 8 else "right")
    ax.set_ylim(0, 105)
    ax.set_ylabel("accuracy (%), 95% Wilson interval", color=_INK, fontsize=9)
    ax.yaxis.grid(True, color=_GRID, linewidth=0.8)
    ax.set_title(title, loc="left", fontsize=11, color=_INK, fontweight="bold")
    if series:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8.5)
    return _png(fig)


def _curve_panel(ax, runs: Sequence[dict[str, Any]], key: str, title: str, fraction: bool) -> None:
    _style(ax)
    ax.set_title(title, loc="left", fontsize=10, color=_INK, fontweight="bold")
    ax.set_xlabel("step", fontsize=8.5, color=_INK)
    ax.yaxis.grid(True, color=_GRID, linewidth=0.8)
    drawn = 0
    for r in runs:
        steps, vals = r["series"].get(key, ((), ()))
        pts = [(s, v) for s, v in zip(steps, vals) if _ok(v)]
        if not pts:
            continue
        xs, ys = zip(*pts)
        ax.plot(xs, ys, color=r["color"], linewidth=1.6, marker="o" if len(xs) <= 30 else None,
                markersize=3.2, label=r["label"])
        drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="#7b8794",
                fontsize=9.5)
        ax.set_xticks([])
        ax.set_yticks([])
    elif fraction:
        ax.set_ylim(-0.04, 1.04)


def training_curves(runs: Sequence[dict[str, Any]], panels: Sequence[tuple[str, str]], *,
                    per_run: bool = True) -> bytes:
    """Training curves from ``runs`` (dicts with ``label``, ``color`` and ``series``: key -> ``(steps, values)``).

    ``per_run``: one row per run, one panel per metric (``(key, title)`` in ``panels``; losses of different
    methods live on different scales, so each run gets its own axes). Otherwise one row, every run overlaid
    (for comparable metrics: reward, zero-signal fraction). A panel without data says "not logged".
    """
    rows = len(runs) if per_run else 1
    fig = _figure(min(15.0, max(4.3 * len(panels), 7.0)), (2.7 if per_run else 3.3) * rows + (0.3 if per_run else 0.5))
    grid = fig.subplots(rows, len(panels), squeeze=False)
    for i in range(rows):
        subset = [runs[i]] if per_run else list(runs)
        for ax, (key, title) in zip(grid[i], panels):
            head = f"{runs[i]['label']}: {runs[i].get('titles', {}).get(key, title)}" if per_run else title
            _curve_panel(ax, subset, key, head, fraction=key == "zero")
    if not per_run:
        handles, labels = [], []
        for ax in grid[0]:
            for hh, ll in zip(*ax.get_legend_handles_labels()):
                if ll not in labels:
                    handles.append(hh)
                    labels.append(ll)
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), frameon=False,
                       fontsize=8.5)
    return _png(fig)


def interval_barh(rows: Sequence[dict[str, Any]], title: str, xlabel: str) -> bytes:
    """Horizontal bars with 95% intervals, top to bottom in the given order.

    ``rows``: dicts with ``name``, ``point``, ``low``, ``high`` and ``color``. Rows without a finite point get
    an empty slot (their name stays, so the order matches the table).
    """
    n = max(len(rows), 1)
    fig = _figure(8.0, min(12.0, 1.1 + 0.3 * n))
    ax = fig.add_subplot()
    _style(ax)
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        p = r.get("point")
        if not _ok(p):
            continue
        ax.barh(y, p, 0.68, color=r.get("color", PALETTE[0]), zorder=2)
        lo, hi = r.get("low"), r.get("high")
        if _ok(lo) and _ok(hi):
            ax.errorbar(p, y, xerr=[[max(0.0, p - lo)], [max(0.0, hi - p)]], fmt="none", ecolor=_INK,
                        elinewidth=1.0, capsize=3, zorder=3)
    ax.set_yticks(ys, [r["name"] for r in rows], fontsize=8.5)
    ax.axvline(0, color="#52606d", linewidth=0.9, zorder=1)
    ax.xaxis.grid(True, color=_GRID, linewidth=0.8)
    ax.set_xlabel(xlabel, fontsize=9, color=_INK)
    ax.set_title(title, loc="left", fontsize=10.5, color=_INK, fontweight="bold")
    return _png(fig)
