"""Metrics with confidence intervals (pure NumPy).

Wilson score interval
---------------------
For ``k`` successes in ``n`` trials, :math:`\\hat p = k/n` and :math:`z` the normal quantile
(1.959964 for 95%)::

    center = (p + z^2 / (2n)) / (1 + z^2 / n)
    half   = z * sqrt(p (1 - p) / n + z^2 / (4 n^2)) / (1 + z^2 / n)
    CI     = [center - half, center + half]

It stays inside [0, 1], is not degenerate at ``k = 0`` or ``k = n`` (0/10 gives [0, 0.2775]),
and covers close to the nominal level at small ``n``, unlike the normal (Wald) interval.
``n = 0`` gives the uninformative [0, 1].

Bootstrap
---------
:func:`bootstrap_ci` resamples items with replacement ``n`` times and reports the percentile
interval of a statistic. Passing a *tuple* of equal-length arrays resamples them with the same
indices (a paired bootstrap), e.g. the accuracy difference of two models on the same items.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Hashable, Iterable, NamedTuple, Sequence

import numpy as np

__all__ = ["wilson_interval", "Accuracy", "accuracy", "GroupReport", "group_accuracy", "CI", "bootstrap_ci",
           "paired_bootstrap_diff", "Z95"]

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes out of ``n``.

    >>> lo, hi = wilson_interval(0, 10, z=1.96)
    >>> round(lo, 4), round(hi, 4)
    (0.0, 0.2775)
    >>> [round(x, 4) for x in wilson_interval(50, 100, z=1.96)]
    [0.4038, 0.5962]
    """
    k, n = int(k), int(n)
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo, hi = max(0.0, center - half), min(1.0, center + half)
    if k == 0:
        lo = 0.0
    if k == n:
        hi = 1.0
    return lo, hi


@dataclass(frozen=True)
class Accuracy:
    """Counts and rates for a set of outcomes.

    ``accuracy = correct / n`` with its Wilson interval ``[ci_low, ci_high]``;
    ``parse_fail_rate = unparsed / n``; ``label_accuracy`` over the outcomes whose
    ``label_correct`` is not ``None`` (``label_n`` of them), with its Wilson interval.
    Rates of an empty set are ``None`` (JSON-friendly, and comparable, unlike ``nan``).
    """

    n: int
    correct: int
    wrong: int
    unparsed: int
    accuracy: float | None
    ci_low: float
    ci_high: float
    parse_fail_rate: float | None
    label_n: int = 0
    label_correct: int = 0
    label_accuracy: float | None = None
    label_ci_low: float = 0.0
    label_ci_high: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _outcome_str(o: Any) -> str:
    if isinstance(o, (bool, np.bool_)):
        return "correct" if o else "wrong"
    if isinstance(o, str):
        s = o
    elif isinstance(o, dict):
        s = o.get("outcome")
    else:
        s = getattr(o, "outcome", None)
    if s not in ("correct", "wrong", "unparsed"):
        raise ValueError(f"not an outcome: {o!r} (expected 'correct'/'wrong'/'unparsed', a bool, "
                         "an Outcome or a dict with 'outcome')")
    return s


def _label_flag(o: Any) -> bool | None:
    if isinstance(o, dict):
        return o.get("label_correct")
    return getattr(o, "label_correct", None)


def accuracy(outcomes: Iterable[Any], z: float = Z95) -> Accuracy:
    """Summarize outcomes.

    Parameters
    ----------
    outcomes : :class:`~whygym.scoring.match.Outcome` objects, outcome strings, bools
        (``True`` = correct, ``False`` = wrong) or dicts with an ``"outcome"`` key.
    z : normal quantile of the interval (default 95%).

    Examples
    --------
    >>> a = accuracy(["correct"] * 3 + ["wrong", "unparsed"])
    >>> a.n, a.accuracy, a.parse_fail_rate
    (5, 0.6, 0.2)
    """
    outs = list(outcomes)
    kinds = [_outcome_str(o) for o in outs]
    n = len(kinds)
    c, w, u = kinds.count("correct"), kinds.count("wrong"), kinds.count("unparsed")
    lo, hi = wilson_interval(c, n, z)
    flags = [f for f in (_label_flag(o) for o in outs) if f is not None]
    ln, lc = len(flags), sum(bool(f) for f in flags)
    llo, lhi = wilson_interval(lc, ln, z)
    return Accuracy(n=n, correct=c, wrong=w, unparsed=u, accuracy=c / n if n else None, ci_low=lo, ci_high=hi,
                    parse_fail_rate=u / n if n else None, label_n=ln, label_correct=lc,
                    label_accuracy=lc / ln if ln else None, label_ci_low=llo, label_ci_high=lhi)


@dataclass(frozen=True)
class GroupReport:
    """Per-group and overall accuracy.

    ``overall`` pools all outcomes (micro average); ``macro_accuracy`` is the unweighted mean of
    the per-group accuracies (CaLM-style per-task averaging).
    """

    groups: dict[Hashable, Accuracy]
    overall: Accuracy
    macro_accuracy: float | None

    def to_rows(self, key_name: str = "group") -> list[dict[str, Any]]:
        """One flat dict per group plus a final ``"ALL"`` row, ready for a table or CSV."""
        rows = [{key_name: k, **v.to_dict()} for k, v in self.groups.items()]
        rows.append({key_name: "ALL", **self.overall.to_dict()})
        return rows


def group_accuracy(outcomes: Sequence[Any], keys: Sequence[Hashable] | Callable[[Any], Hashable] | str,
                   z: float = Z95) -> GroupReport:
    """Accuracy per group (e.g. per task) and overall.

    Parameters
    ----------
    outcomes : as for :func:`accuracy`.
    keys : the group of each outcome: a sequence parallel to ``outcomes``, a function of an outcome,
        or the name of a dict key / attribute of each outcome (e.g. ``"task"``).

    Examples
    --------
    >>> r = group_accuracy(["correct", "wrong", "correct", "correct"], ["ATE", "ATE", "PN", "PN"])
    >>> r.groups["ATE"].accuracy, r.groups["PN"].accuracy, r.overall.accuracy, r.macro_accuracy
    (0.5, 1.0, 0.75, 0.75)
    """
    outs = list(outcomes)
    if callable(keys):
        ks = [keys(o) for o in outs]
    elif isinstance(keys, str):
        ks = [o.get(keys) if isinstance(o, dict) else getattr(o, keys, None) for o in outs]
    else:
        ks = list(keys)
        if len(ks) != len(outs):
            raise ValueError(f"{len(ks)} keys for {len(outs)} outcomes")
    buckets: dict[Hashable, list[Any]] = {}
    for k, o in zip(ks, outs):
        buckets.setdefault(k, []).append(o)
    try:
        order = sorted(buckets, key=lambda k: (k is None, str(k)))
    except TypeError:  # pragma: no cover - keys always str()-able
        order = list(buckets)
    groups = {k: accuracy(buckets[k], z) for k in order}
    accs = [g.accuracy for g in groups.values() if g.n]
    macro = float(np.mean(accs)) if accs else None
    return GroupReport(groups=groups, overall=accuracy(outs, z), macro_accuracy=macro)


class CI(NamedTuple):
    """A point estimate with a confidence interval."""

    point: float
    low: float
    high: float


def bootstrap_ci(values: Any, fn: Callable[..., float] | None = None, n: int = 2000, seed: int | None = 0,
                 level: float = 0.95) -> CI:
    """Percentile bootstrap confidence interval of ``fn(values)``.

    Parameters
    ----------
    values : a 1-D array-like of per-item values, or a *tuple* of equal-length 1-D array-likes that
        are resampled together (paired bootstrap); ``fn`` then receives them as separate arguments.
    fn : the statistic (default: mean); must accept NumPy arrays and return a number.
    n : number of bootstrap resamples.
    seed : seed of :func:`numpy.random.default_rng`; the same seed gives the same interval.
    level : coverage of the two-sided interval.

    Returns
    -------
    CI
        ``point = fn(values)`` on the original sample and the ``(1-level)/2`` and ``(1+level)/2``
        quantiles of the resampled statistics. An empty sample gives ``nan``\\ s.

    Examples
    --------
    >>> ci = bootstrap_ci([1, 0, 1, 1, 0, 1, 1, 1], seed=0)
    >>> ci.point, ci.low <= ci.point <= ci.high, ci == bootstrap_ci([1, 0, 1, 1, 0, 1, 1, 1], seed=0)
    (0.75, True, True)
    >>> a, b = [1, 1, 0, 1], [0, 1, 0, 0]
    >>> bootstrap_ci((a, b), lambda x, y: x.mean() - y.mean(), seed=1).point
    0.5
    """
    default = fn is None
    if default:
        fn = np.mean
    paired = isinstance(values, tuple)
    arrays = [np.asarray(v) for v in values] if paired else [np.asarray(values)]
    m = len(arrays[0]) if arrays and arrays[0].ndim else 0
    if any(a.ndim == 0 or len(a) != m for a in arrays):
        raise ValueError("bootstrap_ci needs 1-D arrays of equal length")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    nan = float("nan")
    if m == 0:
        return CI(nan, nan, nan)
    point = float(fn(*arrays))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, m, size=(int(n), m))
    if default and not paired:  # vectorized mean
        stats = arrays[0].astype(float)[idx].mean(axis=1)
    else:
        stats = np.empty(int(n))
        for i in range(int(n)):
            stats[i] = fn(*(a[idx[i]] for a in arrays))
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return CI(point, float(lo), float(hi))


def paired_bootstrap_diff(a: Any, b: Any, n: int = 2000, seed: int | None = 0, level: float = 0.95) -> CI:
    """Mean of ``a`` minus mean of ``b`` over the same items, with a paired bootstrap interval.

    >>> ci = paired_bootstrap_diff([1, 1, 1, 0], [0, 0, 1, 0])
    >>> ci.point
    0.5
    """
    return bootstrap_ci((np.asarray(a, dtype=float), np.asarray(b, dtype=float)),
                        lambda x, y: float(x.mean() - y.mean()), n=n, seed=seed, level=level)
