"""Attribution scores from a paired 2^k factorial over prompt components (pure NumPy).

Every base item ``i`` is shown to the model under every arm ``a`` in ``{0, 1}^k`` (1 = component on,
0 = off); ``y[i, a]`` is a per-item metric (correctness 0/1, or the log-probability of the gold answer).
All scores are means over items of a per-item contrast, so their intervals come from one paired
bootstrap over items (each resample keeps an item's arms together).

Definitions (``1`` = all components on, ``0`` = all off, ``1 - e_c`` = all on but ``c``)::

    conditional(c) = mean_i [ y(i, 1) - y(i, 1 - e_c) ]        effect of removing c, the others present
    marginal(c)    = mean_i [ y(i, e_c) - y(i, 0) ]            effect of adding c, the others absent

With ``x_c = +1`` when ``c`` is on and ``-1`` when off, the standard 2^k factorial contrasts are::

    main(c)        = 2^(1-k) * sum_a x_c(a) * y(i, a)          (mean over arms with c on - with c off)
    interaction(c, d) = 2^(1-k) * sum_a x_c(a) x_d(a) y(i, a)  (half the difference of c's effect with d
                                                                on and with d off, averaged over the rest)

For two components K (knowledge, the names) and D (data) these are the quantities of Cai, Liu & Song,
"Is Knowledge All Large Language Models Needed for Causal Reasoning?" (arXiv 2401.00139): CAK =
conditional(K), CAD = conditional(D), MAK = marginal(K), MAD = marginal(D).

>>> import numpy as np
>>> y = np.array([[0, 0, 1, 1], [0, 0, 1, 1]], float)  # arms ordered by bits (K, D): 00, 01, 10, 11
>>> arms = arm_tuples(2)
>>> s = attribution_scores(y, ["names", "data"], arms, n_boot=200)
>>> s["conditional"]["names"]["point"], s["conditional"]["data"]["point"], s["main"]["names"]["point"]
(1.0, 0.0, 1.0)
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from whygym.scoring import bootstrap_ci

__all__ = ["arm_tuples", "arm_index", "contrast_weights", "attribution_scores", "per_item_contrasts"]


def arm_tuples(k: int) -> list[tuple[int, ...]]:
    """All ``2^k`` arms as 0/1 tuples, in lexicographic order (all off first, all on last).

    >>> arm_tuples(2)
    [(0, 0), (0, 1), (1, 0), (1, 1)]
    """
    return list(itertools.product((0, 1), repeat=k))


def arm_index(arms: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], int]:
    """Column of each arm in the metric matrix."""
    return {tuple(a): j for j, a in enumerate(arms)}


def contrast_weights(components: Sequence[str], arms: Sequence[tuple[int, ...]]) -> dict[str, dict[str, np.ndarray]]:
    """Weight vectors ``w`` over arms so that each score is ``y @ w`` per item.

    Returns ``{"conditional": {c: w}, "marginal": {c: w}, "main": {c: w}, "interaction": {"c*d": w}}``.
    Weights of the factorial contrasts sum to zero, each arm once.
    """
    k = len(components)
    idx = arm_index(arms)
    if len(idx) != 2 ** k or set(idx) != set(arm_tuples(k)):
        raise ValueError(f"need all 2^{k} arms of {list(components)}, got {len(idx)}")
    on, off = (1,) * k, (0,) * k
    n = len(arms)
    x = np.array([[1.0 if a[c] else -1.0 for c in range(k)] for a in arms])  # (arms, k) in +-1 coding
    out: dict[str, dict[str, np.ndarray]] = {"conditional": {}, "marginal": {}, "main": {}, "interaction": {}}
    for c, name in enumerate(components):
        w = np.zeros(n)
        w[idx[on]] += 1
        w[idx[tuple(0 if j == c else 1 for j in range(k))]] -= 1
        out["conditional"][name] = w
        w = np.zeros(n)
        w[idx[tuple(1 if j == c else 0 for j in range(k))]] += 1
        w[idx[off]] -= 1
        out["marginal"][name] = w
        out["main"][name] = x[:, c] * 2.0 ** (1 - k)
    for a, b in itertools.combinations(range(k), 2):
        out["interaction"][f"{components[a]}*{components[b]}"] = x[:, a] * x[:, b] * 2.0 ** (1 - k)
    return out


def per_item_contrasts(y: np.ndarray, components: Sequence[str],
                       arms: Sequence[tuple[int, ...]]) -> dict[str, dict[str, np.ndarray]]:
    """The per-item value of every score (``y @ w``), before averaging."""
    y = np.asarray(y, dtype=float)
    return {kind: {name: y @ w for name, w in ws.items()}
            for kind, ws in contrast_weights(components, arms).items()}


def _ci(values: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    values = np.asarray(values, dtype=float)
    ok = values[np.isfinite(values)]
    ci = bootstrap_ci(ok, n=n_boot, seed=seed)
    return {"point": float(ci.point), "low": float(ci.low), "high": float(ci.high), "n": int(len(ok))}


def attribution_scores(y: np.ndarray, components: Sequence[str], arms: Sequence[tuple[int, ...]], *,
                       n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Conditional, marginal, main-effect and two-way interaction scores with 95% paired bootstrap CIs.

    Parameters
    ----------
    y : array (items, arms) of per-item metric values (items with a non-finite value in a contrast are
        left out of that contrast).
    components : names of the ``k`` components, in the bit order of ``arms``.
    arms : the arms (0/1 tuples) in the column order of ``y``.
    n_boot, seed : bootstrap resamples and seed (the same seed resamples the same items for every score).

    Returns
    -------
    dict
        ``{"conditional": {c: {point, low, high, n}}, "marginal": ..., "main": ..., "interaction":
        {"c*d": ...}, "arm_means": {arm_label: mean}}``.
    """
    y = np.asarray(y, dtype=float)
    contrasts = per_item_contrasts(y, components, arms)
    out: dict[str, Any] = {kind: {name: _ci(v, n_boot, seed) for name, v in d.items()}
                           for kind, d in contrasts.items()}
    out["arm_means"] = {"".join(map(str, a)): float(np.nanmean(y[:, j])) if len(y) else float("nan")
                        for j, a in enumerate(arms)}
    return out
