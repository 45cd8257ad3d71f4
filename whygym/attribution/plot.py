"""Bar plots with 95% intervals (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

__all__ = ["bar_with_intervals", "plot_prompt_attribution", "plot_layer_ranking", "plot_discovery"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def bar_with_intervals(labels: Sequence[str], points: Sequence[float], lows: Sequence[float],
                       highs: Sequence[float], path: str | Path, *, title: str = "", ylabel: str = "",
                       horizontal: bool = False) -> str:
    """One bar per label with an error bar from ``low`` to ``high``; saved as PNG at ``path``."""
    import numpy as np

    plt = _plt()
    pts = np.asarray(points, float)
    err = np.vstack([pts - np.asarray(lows, float), np.asarray(highs, float) - pts])
    err = np.where(np.isfinite(err), np.maximum(err, 0), 0)
    colors = ["#3b7dd8" if (p >= 0 or not np.isfinite(p)) else "#d8583b" for p in pts]
    h = max(3.0, 0.32 * len(labels) + 1.2) if horizontal else 4.0
    fig, ax = plt.subplots(figsize=(7.5 if horizontal else max(5.0, 0.75 * len(labels) + 2), h))
    pos = np.arange(len(labels))
    if horizontal:
        ax.barh(pos, np.nan_to_num(pts), xerr=err, color=colors, capsize=3)
        ax.set_yticks(pos, labels)
        ax.invert_yaxis()
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(ylabel)
    else:
        ax.bar(pos, np.nan_to_num(pts), yerr=err, color=colors, capsize=4)
        ax.set_xticks(pos, labels, rotation=30, ha="right")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def plot_prompt_attribution(doc: dict[str, Any], out_dir: str | Path) -> list[str]:
    """One PNG per metric: conditional, marginal, main and interaction scores with their intervals."""
    out = []
    model = (doc.get("model") or {}).get("name") or ""
    for metric, res in doc["results"].items():
        labels, pts, lo, hi = [], [], [], []
        for kind, short in (("conditional", "cond"), ("marginal", "marg"), ("main", "main"), ("interaction", "int")):
            for name, ci in res.get(kind, {}).items():
                labels.append(f"{short}:{name}")
                pts.append(ci["point"])
                lo.append(ci["low"])
                hi.append(ci["high"])
        unit = {"correct": "accuracy difference", "label": "label-accuracy difference", "parsed": "parse-rate difference",
                "loglik": "log-prob difference (nats)"}.get(metric, metric)
        out.append(bar_with_intervals(labels, pts, lo, hi, Path(out_dir) / f"attribution_{metric}.png",
                                      title=f"{model}: prompt-component attribution\n({metric}, n={res['n_items']} items, "
                                            "95% paired bootstrap)", ylabel=unit))
    return out


def plot_layer_ranking(rows: Sequence[dict[str, Any]], path: str | Path, *, key: str, title: str) -> str:
    """Horizontal bars of the per-module change in gold log-probability (mean with bootstrap interval)."""
    rows = list(rows)
    return bar_with_intervals([r["module"] for r in rows], [r[key]["point"] for r in rows],
                              [r[key]["low"] for r in rows], [r[key]["high"] for r in rows], path,
                              title=title, ylabel="change in log p(gold answer) (nats)", horizontal=True)


def plot_discovery(summary: dict[str, Any], path: str | Path, *, title: str) -> str:
    """TDR per setting and the four attribution scores."""
    labels, pts, lo, hi = [], [], [], []
    for name, s in summary["settings"].items():
        labels.append(f"TDR {name}")
        pts.append(s["tdr"]["point"])
        lo.append(s["tdr"]["low"])
        hi.append(s["tdr"]["high"])
    for name, ci in summary["attribution"].items():
        labels.append(name)
        pts.append(ci["point"])
        lo.append(ci["low"])
        hi.append(ci["high"])
    return bar_with_intervals(labels, pts, lo, hi, path, title=title, ylabel="rate / difference (TDR)")
