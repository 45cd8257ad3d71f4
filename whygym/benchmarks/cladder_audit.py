"""Auditing CLadder's yes/no questions of every query type from what the item states.

CLadder (Jin et al. 2023) asks yes/no questions whose answer is the sign of a quantity (or a graph fact).
Each query type is re-derived here from the item's own numbers (``reasoning.step4``, the percentages the
prompt states, as :func:`whygym.benchmarks.cladder.cladder_structure` reads them) and graph, with
CLadder's yes/no semantics:

``marginal``
    P(Y=1) by total probability over X; "Is Y=1 more likely than Y=0 overall?" is yes iff P(Y=1) > 1/2
    (``polarity`` False: "less likely", the other way round).
``correlation``
    P(Y=1|X=1) - P(Y=1|X=0) (conditionals stated, or joints over the stated P(X)); "Is the chance of Y
    larger when observing X?" is yes iff it is positive (polarity False: "smaller").
``exp_away``
    P(Y=1|X=1,V=1) - P(Y=1|V=1), V the collider. P(Y=1|V=1) mixes P(Y=1|X=0,V=1) and P(Y=1|X=1,V=1)
    with weights P(X|V=1) in (0, 1) that the item does not state, so the difference has the sign of
    P(Y=1|X=1,V=1) - P(Y=1|X=0,V=1) whatever they are: the sign is determined, its size is not.
``collider_bias``
    "If we look at V, does it mean that X affects Y?": yes iff the graph has a directed path from X to Y
    (polarity False: "does not affect").
``backadj``
    "Is it more correct to use Method 1 than Method 2?": yes iff Method 1's set satisfies the back-door
    criterion for (X, Y) and Method 2's does not (polarity False: the other way round). The sets are
    ``meta.given_info`` (in the text's order); the graph is the item's, else its CLadder graph family.
    Where both sets satisfy the criterion (or neither does), the graph does not rank them: a gold that
    does is *assumption-dependent* (CLadder prefers the set its generator chose), never a label error.

``det-counterfactual``
    the deterministic SCM's Y under do(X=x) from the observed roots (:mod:`whygym.benchmarks.cladder_det`).

``ate``, ``ett``, ``nde``, ``nie`` are whygym's own tasks (:func:`whygym.benchmarks.audit._solve`).

Numbers are rounded to two decimals in the text, so every numeric verdict carries its *rounding reach*:
the quantity's range over all values that round to the stated ones (corners of the rounding box: each
formula here is monotone in each stated number). A range that straddles the threshold leaves the answer
open under rounding: such an item is "agree under rounding" when CLadder's unrounded ``groundtruth`` (its
model) gives the gold, never a label error.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable

from whygym.items import Item

__all__ = ["CLADDER_GRAPHS", "CLADDER_QUERY_TYPES", "audit_cladder_query", "total_probability_closure"]

#: CLadder's graph families (node ids as CLadder writes them; V1 is unobserved in IV and front-door).
CLADDER_GRAPHS: dict[str, list[tuple[str, str]]] = {
    "chain": [("X", "V2"), ("V2", "Y")],
    "fork": [("X", "Y"), ("V2", "Y")],
    "collision": [("X", "V3"), ("Y", "V3")],
    "confounding": [("V1", "X"), ("V1", "Y"), ("X", "Y")],
    "mediation": [("X", "V2"), ("X", "Y"), ("V2", "Y")],
    "IV": [("V1", "X"), ("V2", "X"), ("V1", "Y"), ("X", "Y")],
    "arrowhead": [("X", "V3"), ("V2", "V3"), ("X", "Y"), ("V2", "Y"), ("V3", "Y")],
    "diamond": [("X", "V3"), ("X", "V2"), ("V2", "Y"), ("V3", "Y")],
    "diamondcut": [("V1", "V3"), ("V1", "X"), ("X", "Y"), ("V3", "Y")],
    "frontdoor": [("V1", "X"), ("X", "V3"), ("V3", "Y"), ("V1", "Y")],
}
#: The query types this module decides (the others: whygym's tasks or unsupported).
CLADDER_QUERY_TYPES = ("marginal", "correlation", "exp_away", "collider_bias", "backadj", "det-counterfactual")


class _Missing(LookupError):
    pass


class _Stated:
    """The item's stated numbers by canonical key, with the identities of binary variables
    (complements, joint / marginal = conditional); records which stated numbers a value used."""

    def __init__(self, given: dict[str, float]):
        self.given = {k.replace(" ", ""): float(v) for k, v in given.items()}
        self.used: set[str] = set()

    def _get(self, key: str) -> float:
        if key not in self.given:
            raise _Missing(key)
        self.used.add(key)
        return self.given[key]

    def p(self, event: str, cond: tuple[str, ...] = ()) -> float:
        """P(event | cond), event and conditions written ``V=v``: stated (conditions in any order), or its
        complement stated, or (one condition) the stated joint over the condition's probability."""
        var, val = event.split("=")
        other = f"{var}={1 - int(val)}"
        for c in itertools.permutations(cond):
            tail = "|" + ",".join(c) if c else ""
            if f"P({event}{tail})" in self.given:
                return self._get(f"P({event}{tail})")
            if f"P({other}{tail})" in self.given:
                return 1.0 - self._get(f"P({other}{tail})")
        if len(cond) == 1:
            for a, b in ((event, cond[0]), (cond[0], event)):
                if f"P({a},{b})" in self.given:
                    return self._get(f"P({a},{b})") / self.p(cond[0])
        raise _Missing(f"P({event}|{','.join(cond)})" if cond else f"P({event})")


def _reach(f: Callable[[_Stated], float], given: dict[str, float], half: float) -> tuple[float, float, float, list]:
    """(value, low, high, used keys): f at the stated numbers and its range over the rounding box of the
    numbers it uses (each +- ``half``, kept in [0, 1]). Where f is undefined at the stated numbers (a
    division by a stated 0%), value is the middle of its range over the box."""
    s = _Stated(given)
    try:
        v = f(s)
    except ZeroDivisionError:  # e.g. a stated P(X=1) of 0%: undefined here, defined over the rounding box
        v = None
    used = sorted(s.used)
    lo, hi = (v, v) if v is not None else (math.inf, -math.inf)
    if len(used) <= 10:
        for signs in itertools.product((-1, 1), repeat=len(used)):
            g = dict(s.given)
            for k, sg in zip(used, signs):
                g[k] = min(1.0, max(0.0, g[k] + sg * half))
            try:
                w = f(_Stated(g))
            except ZeroDivisionError:
                continue
            lo, hi = min(lo, w), max(hi, w)
    if v is None:
        if lo > hi:
            raise ZeroDivisionError("undefined at the stated numbers and over their rounding")
        v = (lo + hi) / 2
    return v, lo, hi, used


def _dag(item: Item):
    from whygym.scm.graph import DAG

    edges = [tuple(e) for e in (item.graph or {}).get("edges") or []]
    if not edges:
        edges = CLADDER_GRAPHS.get(str(item.meta.get("graph_id")), [])
    nodes = sorted({n for e in edges for n in e} | {"X", "Y"})
    pos = {n: i for i, n in enumerate(nodes)}
    return DAG(len(nodes), [(pos[a], pos[b]) for a, b in edges]), pos, bool(edges)


def _parse_key(key: str) -> tuple[tuple, tuple] | None:
    body = key.replace(" ", "")
    if not (body.startswith("P(") and body.endswith(")")):
        return None
    ev, _, cond = body[2:-1].partition("|")
    try:
        e = tuple(sorted((a.split("=")[0], int(a.split("=")[1])) for a in ev.split(",") if a))
        c = tuple(sorted((a.split("=")[0], int(a.split("=")[1])) for a in cond.split(",") if a))
    except (IndexError, ValueError):
        return None
    return e, c


def _key(event: tuple, cond: tuple) -> str:
    e = ",".join(f"{k}={v}" for k, v in event)
    return f"P({e}|{','.join(f'{k}={v}' for k, v in cond)})" if cond else f"P({e})"


def total_probability_closure(given: dict[str, float], rounds: int = 2,
                              depths: dict[str, int] | None = None) -> dict[str, float]:
    """The stated numbers and what total probability derives from them: P(e|c) = sum_v P(e|c,V=v) P(V=v|c)
    where both P(e|c,V=v) and P(V=1|c) (or its complement) are stated. CLadder states P(Y|X,V3) and P(V3|X)
    where a formula needs P(Y|X) (ETT on the diamond-cut graph).

    ``depths`` (filled when given) records, per derived key, how many derivation rounds it took: a term
    derived in round d can move (d + 1) times as far as a stated number over the numbers' rounding.

    >>> total_probability_closure({"P(Y=1|X=1,V=0)": 0.5, "P(Y=1|X=1,V=1)": 0.9, "P(V=1|X=1)": 0.25})["P(Y=1|X=1)"]
    0.6
    """
    out = dict(given)
    for depth in range(1, rounds + 1):
        parsed = {k: pk for k in out if (pk := _parse_key(k)) is not None}
        table = {pk: out[k] for k, pk in parsed.items()}
        added = {}
        for (e, c), _v in table.items():
            for var, val in c:
                rest = tuple(x for x in c if x[0] != var)
                other = tuple(sorted(rest + ((var, 1 - val),)))
                if (e, other) not in table:
                    continue
                pv1 = table.get((((var, 1),), rest))
                if pv1 is None and (((var, 0),), rest) in table:
                    pv1 = 1.0 - table[(((var, 0),), rest)]
                if pv1 is None:
                    continue
                k = _key(e, rest)
                if k in out or k in added:
                    continue
                p1 = table[(e, tuple(sorted(rest + ((var, 1),))))]
                p0 = table[(e, tuple(sorted(rest + ((var, 0),))))]
                added[k] = round(p1 * pv1 + p0 * (1.0 - pv1), 12)
        if not added:
            break
        if depths is not None:
            for k in added:
                depths[k] = depth
        out.update(added)
    return out


def _yes(positive: bool, polarity: Any) -> str:
    return "yes" if positive == bool(polarity if polarity is not None else True) else "no"


def audit_cladder_query(item: Item, res) -> Any:
    """Fill the :class:`~whygym.benchmarks.audit.AuditResult` ``res`` for a CLadder item of a query type in
    :data:`CLADDER_QUERY_TYPES`; returns it."""
    from whygym.benchmarks.audit import ROUNDED

    qt = str(item.meta.get("query_type") or item.task)
    gold = str(item.gold.get("label"))
    polarity = item.meta.get("polarity")
    if qt == "det-counterfactual":
        from whygym.benchmarks.cladder_det import audit_det_counterfactual

        return audit_det_counterfactual(item, res)
    if qt in ("collider_bias", "backadj"):
        dag, pos, known = _dag(item)
        if not known:
            res.category, res.note = "parse failure", f"no graph: no reasoning and an unknown graph family " \
                                                      f"{item.meta.get('graph_id')!r}"
            return res
        x, y = pos["X"], pos["Y"]
        if qt == "collider_bias":
            path = dag.directed_path(x, y)
            label = _yes(path is not None, polarity)
            res.steps = {"graph": ", ".join(f"{a}->{b}" for a, b in _edges(dag, pos)),
                         "path": "X->Y directed path: " + ("yes" if path else "none")}
        else:
            sets = item.meta.get("given_info")
            if not (isinstance(sets, list) and len(sets) == 2 and all(isinstance(z, list) for z in sets)):
                res.category, res.note = "parse failure", f"backadj needs meta.given_info [[set 1], [set 2]], " \
                                                          f"got {sets!r}"
                return res
            valid = []
            for z in sets:
                if any(n not in pos for n in z):
                    res.category, res.note = "parse failure", f"set {z} names a node not in the graph"
                    return res
                valid.append(dag.is_backdoor_set(1 << x, 1 << y, sum(1 << pos[n] for n in z)))
            better, worse = (0, 1) if polarity is not False else (1, 0)  # "more correct" / "less correct"
            label = "yes" if valid[better] and not valid[worse] else "no"
            res.steps = {"method 1": f"{sets[0]} {'is' if valid[0] else 'is not'} a back-door set",
                         "method 2": f"{sets[1]} {'is' if valid[1] else 'is not'} a back-door set"}
        res.solved = label
        if label == gold:
            res.status = "agree"
        elif qt == "backadj" and valid[0] == valid[1]:
            # both sets (or neither) satisfy the back-door criterion: "more correct" is CLadder's preference
            # for the set its generator chose over its "bad candidate", not something the graph decides
            res.status, res.category = "disagree", "assumption-dependent"
            res.note = (f"both sets {'satisfy' if valid[0] else 'fail'} the back-door criterion, so neither method "
                        f"is more correct by the graph; the gold {gold!r} follows CLadder's choice of "
                        f"{item.meta.get('groundtruth')!r} over the candidate {item.meta.get('bad_candidate_set')!r}")
        else:
            res.status, res.category = "disagree", "label error"
            res.note = f"the graph gives {label}: " + "; ".join(res.steps.values())
        return res

    treated = 1 if item.meta.get("treated", True) is not False else 0
    if qt == "marginal":
        def f(s):
            px = s.p("X=1")
            return s.p("Y=1", ("X=1",)) * px + s.p("Y=1", ("X=0",)) * (1 - px)
        threshold, what = 0.5, "P(Y=1) = P(Y=1|X=1)P(X=1) + P(Y=1|X=0)P(X=0)"
    elif qt == "correlation":
        def f(s):
            return s.p("Y=1", (f"X={treated}",)) - s.p("Y=1", (f"X={1 - treated}",))
        threshold, what = 0.0, f"P(Y=1|X={treated}) - P(Y=1|X={1 - treated})"
    else:  # exp_away: the sign of P(Y=1|X=t,V=b) - P(Y=1|V=b) is that of the two conditionals' difference
        v = str(item.meta.get("collider") or "V3")
        b = 1 if item.meta.get("baseline", True) is not False else 0

        def f(s):
            return s.p("Y=1", (f"X={treated}", f"{v}={b}")) - s.p("Y=1", (f"X={1 - treated}", f"{v}={b}"))
        threshold = 0.0
        what = (f"sign of P(Y=1|X={treated},{v}={b}) - P(Y=1|{v}={b}) = sign of P(Y=1|X={treated},{v}={b}) - "
                f"P(Y=1|X={1 - treated},{v}={b}) (P(Y=1|{v}={b}) lies between the two)")
    try:
        value, lo, hi, used = _reach(f, item.given, 0.005)
    except (_Missing, ZeroDivisionError) as e:
        res.category = "solver gap"
        res.status = "disagree"
        res.note = f"{qt}: the item does not state {e} (nor what determines it)"
        return res
    res.steps = {"estimand": what, "stated": ", ".join(f"{k}={item.given.get(k, _norm(item.given, k))}" for k in used),
                 "value": f"{value:.4f} (over the rounding of the stated numbers: [{lo:.4f}, {hi:.4f}])"}
    if lo > threshold or hi < threshold:
        label = _yes(value > threshold, polarity)
        res.solved = f"{label} ({value:.4f})"
        if label == gold:
            res.status = "agree"
        else:
            res.status, res.category = "disagree", "label error"
            res.note = (f"the stated numbers give {what.split(' = ')[0]} in [{lo:.4f}, {hi:.4f}], so the answer is "
                        f"{label}")
        return res
    res.solved = f"open under rounding ({value:.4f} in [{lo:.4f}, {hi:.4f}])"
    gt = item.meta.get("groundtruth")
    if isinstance(gt, (int, float)):
        gt_label = _yes(gt > threshold, polarity) if abs(gt - threshold) > 1e-9 else "no"  # at it: neither
        if gt_label == gold:
            res.status, res.category = ROUNDED, "rounding"
            res.note = (f"the two-decimal numbers leave {what.split(' = ')[0]} on either side of {threshold:g}; "
                        f"CLadder's unrounded model ({gt:.4f}) gives its gold")
            return res
    res.status, res.category = "disagree", "rounding"
    res.note = "the two-decimal numbers leave the answer open; the gold is not what the unrounded model gives"
    return res


def _edges(dag, pos):
    inv = {i: n for n, i in pos.items()}
    return [(inv[u], inv[v]) for u, v in dag.edges]


def _norm(given: dict[str, float], key: str) -> Any:
    return {k.replace(" ", ""): v for k, v in given.items()}.get(key)
