"""CLadder's effect questions (ate, ett, nie) on graphs where whygym's back-door and mediation derivations
find no formula with every term stated: the front-door graph, the instrumental-variable graph, and ETT
over an unobserved-in-the-numbers confounder. Each rule is decided from the graph, not the family name:

front door
    M is a front-door set for (X, Y) when every directed path X -> Y passes M, no back-door path X ... M is
    open, and X blocks every back-door path M ... Y. Then, with every term stated,
    ``ATE = sum_m [P(m|x1) - P(m|x0)] sum_x' P(y|x',m) P(x')`` and
    ``ETT = E[Y_1 - Y_0 | X=1] = sum_m P(y|x1,m) [P(m|x1) - P(m|x0)]``; with no edge X -> Y the NIE is the ATE.
instrument (*assumption-dependent*)
    Z is an instrument when Z -> X and Z is d-separated from Y once X's outgoing edges are cut. The Wald
    ratio ``[P(y|z1) - P(y|z0)] / [P(x1|z1) - P(x1|z0)]`` is the ATE only under an assumption beyond the
    graph (effects constant across units, or monotone compliance for the compliers' effect): CLadder's
    gold follows it, so such items are their own category, never agreement or a label error.
mixture (ETT)
    ``ETT = sum_z P(z|x1) [P(y|x1,z) - P(y|x0,z)]`` for a back-door set Z whose conditionals are stated
    but whose P(z|x1) is not (CLadder states P(z)): the weights can be anything in the open simplex
    (P(x|z) is free), so the sign is determined exactly when every stratum's contrast has it; otherwise
    two models that fit every stated number and give both signs exist (built and checked with the engine
    for a single confounder).

confounded mediator (NDE, NIE)
    X -> M -> Y with X -> Y, and a root K -> M, K -> Y (CLadder's arrowhead graph): the mediation formula
    needs P(y|x,m,k), the item states P(y|x,m), P(m|x,k) and P(k). Each unknown P(y|x,m,k) lies in [0, 1]
    and averages over k, with the stated weights P(k|x,m) = P(m|x,k)P(k) / sum_k', to the stated P(y|x,m);
    the NDE and NIE are linear in them, so their exact range over every model that fits the numbers is
    two endpoints per (x, m): the sign is determined when the range excludes 0, and otherwise the two
    extreme models are the witness (checked with the engine's nested counterfactuals).

Each value carries its rounding reach (:func:`whygym.benchmarks.cladder_audit._reach`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from whygym.items import Item

__all__ = ["EffectVerdict", "cladder_effect"]


@dataclass
class EffectVerdict:
    rule: str                 # "front door", "instrument", "mixture"
    value: float              # the quantity in whygym's sign convention (ETT: E[Y_1 - Y_0 | X=1])
    low: float
    high: float
    formula: str
    stated: list = field(default_factory=list)
    assumption: str | None = None
    open_by_weights: bool = False   # mixture: the strata disagree in sign
    witness: dict | None = None


def _observed(given: dict[str, float]) -> set[str]:
    out = set()
    for k in given:
        body = k.replace(" ", "")[2:-1]
        for a in body.replace("|", ",").split(","):
            if "=" in a:
                out.add(a.split("=")[0])
    return out


def _frontdoor(dag, pos, x: int, y: int, observed: set[str]) -> str | None:
    inv = {i: n for n, i in pos.items()}
    for m in range(dag.n):
        if m in (x, y) or inv[m] not in observed:
            continue
        if dag.without_incoming(1 << m).is_ancestor(x, y):
            continue  # a directed path avoids M
        if not dag.is_ancestor(x, y):
            continue
        if dag.is_backdoor_set(1 << x, 1 << m, 0) and dag.is_backdoor_set(1 << m, 1 << y, 1 << x):
            return inv[m]
    return None


def _instrument(dag, pos, x: int, y: int, observed: set[str]) -> str | None:
    inv = {i: n for n, i in pos.items()}
    for z in range(dag.n):
        if z in (x, y) or inv[z] not in observed or not dag.has_edge(z, x):
            continue
        if dag.is_ancestor(x, y) and dag.d_separated(1 << z, 1 << y, 0, cut=1 << x):
            return inv[z]
    return None


def _mixture_witness(item: Item, z: str) -> dict | None:
    """Two models on the confounding graph Z -> X, Z -> Y, X -> Y with the item's P(z) and P(y|x,z) and
    opposite ETT signs (P(x1|z) tilted to each stratum), checked with the exact engine."""
    from whygym.benchmarks.cladder_audit import _Stated
    from whygym.scm.graph import DAG
    from whygym.scm.model import BinarySCM

    s = _Stated(item.given)
    try:
        pz = s.p(f"{z}=1")
        py = {(xv, zv): s.p("Y=1", (f"X={xv}", f"{z}={zv}")) for xv in (0, 1) for zv in (0, 1)}
    except LookupError:
        return None
    dag = DAG(3, [(0, 1), (0, 2), (1, 2)])  # 0 = Z, 1 = X, 2 = Y; parents sorted, bit j = j-th parent
    models = []
    for tilt in ((0.999, 0.001), (0.001, 0.999)):  # P(X=1|Z=0), P(X=1|Z=1)
        cpt_y = [py[(0, 0)], py[(0, 1)], py[(1, 0)], py[(1, 1)]]  # index = z + 2x (parents Z, X)
        m = BinarySCM(dag, [[pz], list(tilt), cpt_y])
        ett = m.prob({2: 1}, {1: 1}) - m.counterfactual({2: 1}, {1: 0}, {1: 1})
        models.append((ett, {"P(Z=1)": pz, "P(X=1|Z=0)": tilt[0], "P(X=1|Z=1)": tilt[1],
                             "P(Y=1|X,Z)": cpt_y}))
        # the stated numbers hold by construction; re-check them from the model
        for (xv, zv), v in py.items():
            if abs(m.prob({2: 1}, {1: xv, 0: zv}) - v) > 1e-9:
                return None
        if abs(m.prob({0: 1}) - pz) > 1e-9:
            return None
    (e1, m1), (e2, m2) = models
    if (e1 > 0) == (e2 > 0):
        return None
    return {"answer_low": min(e1, e2), "answer_high": max(e1, e2), "models": [m1, m2], "node": z}


def _confounded_mediator(dag, pos, x: int, y: int, observed: set[str]) -> tuple[str, str] | None:
    inv = {i: n for n, i in pos.items()}
    if dag.parents[x] or not dag.has_edge(x, y):
        return None
    for m in range(dag.n):
        if m in (x, y) or not (dag.has_edge(x, m) and dag.has_edge(m, y)):
            continue
        for k in range(dag.n):
            if k in (x, y, m) or dag.parents[k] or not (dag.has_edge(k, m) and dag.has_edge(k, y)):
                continue
            if sorted(dag.parents[m]) == sorted((x, k)) and sorted(dag.parents[y]) == sorted((x, m, k)) \
                    and {inv[m], inv[k]} <= observed:
                return inv[m], inv[k]
    return None


def _mediation_range(s, task: str, M: str, K: str, with_models: bool = False):
    """(low, high) of the NDE or NIE over every P(y|x,m,k) that fits the stated P(y|x,m); with
    ``with_models``, also the P(y|x,m,k) tables reaching each end."""
    pk = {1: s.p(f"{K}=1")}
    pk[0] = 1.0 - pk[1]

    def pm(v, xv, k):
        return s.p(f"{M}={v}", (f"X={xv}", f"{K}={k}"))

    def seg(xv, v, coef):
        raw = {k: pm(v, xv, k) * pk[k] for k in (0, 1)}
        tot = raw[0] + raw[1]
        w = {k: raw[k] / tot for k in (0, 1)}
        b = s.p("Y=1", (f"X={xv}", f"{M}={v}"))
        if w[0] == 0 or w[1] == 0:
            raise ZeroDivisionError("a stratum of K has no weight")
        lo0, hi0 = max(0.0, (b - w[1]) / w[0]), min(1.0, b / w[0])
        if lo0 > hi0 + 1e-12:
            raise ZeroDivisionError("no P(y|x,m,k) in [0, 1] fits the stated P(y|x,m)")
        ends = []
        for a0 in (lo0, hi0):
            a1 = (b - w[0] * a0) / w[1]
            ends.append((coef[0] * a0 + coef[1] * a1, {0: a0, 1: a1}))
        ends.sort(key=lambda e: e[0])
        return ends[0], ends[1]

    lo = hi = 0.0
    low_model, high_model = {}, {}
    for v in (0, 1):
        if task == "NIE":
            coef = {k: (pm(v, 1, k) - pm(v, 0, k)) * pk[k] for k in (0, 1)}
            (a, am), (b_, bm) = seg(0, v, coef)
            lo, hi = lo + a, hi + b_
            low_model[(0, v)], high_model[(0, v)] = am, bm
            if with_models:  # X=1 rows do not enter the NIE: any fitting values, the midpoint
                mid = seg(1, v, {0: 0.0, 1: 0.0})
                low_model[(1, v)] = high_model[(1, v)] = {k: (mid[0][1][k] + mid[1][1][k]) / 2 for k in (0, 1)}
        else:
            coef = {k: pm(v, 0, k) * pk[k] for k in (0, 1)}
            (a1, a1m), (b1, b1m) = seg(1, v, coef)
            (a0, a0m), (b0, b0m) = seg(0, v, coef)
            lo, hi = lo + a1 - b0, hi + b1 - a0
            low_model[(1, v)], low_model[(0, v)] = a1m, b0m
            high_model[(1, v)], high_model[(0, v)] = b1m, a0m
    return (lo, hi, low_model, high_model) if with_models else (lo, hi)


def _mediation_witness(item: Item, task: str, M: str, K: str) -> dict | None:
    """The two extreme models of :func:`_mediation_range` as SCMs on X, K -> M -> Y (X, K -> Y), each
    re-checked against every stated number and its NDE/NIE computed by the engine."""
    from whygym.benchmarks.cladder_audit import _Stated
    from whygym.scm.graph import DAG
    from whygym.scm.model import BinarySCM

    s = _Stated(item.given)
    lo, hi, low_m, high_m = _mediation_range(s, task, M, K, with_models=True)
    if not lo < 0 < hi:
        return None
    dag = DAG(4, [(0, 2), (1, 2), (0, 3), (1, 3), (2, 3)])  # 0 = X, 1 = K, 2 = M, 3 = Y
    pm = [s.p(f"{M}=1", (f"X={xv}", f"{K}={k}")) for k in (0, 1) for xv in (0, 1)]  # index x + 2k
    got = []
    for table in (low_m, high_m):
        cpt_y = [0.0] * 8
        for (xv, v), ak in table.items():
            for k, a in ak.items():
                cpt_y[xv + 2 * k + 4 * v] = min(1.0, max(0.0, a))  # parents X, K, M -> bits 0, 1, 2
        m = BinarySCM(dag, [[0.5], [s.p(f"{K}=1")], pm, cpt_y])
        for xv in (0, 1):
            for v in (0, 1):
                if abs(m.prob({3: 1}, {0: xv, 2: v}) - s.p("Y=1", (f"X={xv}", f"{M}={v}"))) > 1e-9:
                    return None
        base = m.nested_mean(3, 1, 0, 0, 0)
        val = (m.nested_mean(3, 1, 0, 0, 1) - base) if task == "NIE" else (m.nested_mean(3, 1, 0, 1, 0) - base)
        got.append((val, cpt_y))
    (v1, c1), (v2, c2) = got
    if not v1 < 0 < v2:
        return None
    return {"answer_low": v1, "answer_high": v2, "models": [{"P(Y=1|X,K,M)": c1}, {"P(Y=1|X,K,M)": c2}],
            "nodes": {"mediator": M, "confounder": K}}


def cladder_effect(item: Item, task: str) -> EffectVerdict | None:
    """The verdict of the first rule that applies to this ATE / ETT / NIE item, or None."""
    from whygym.benchmarks.cladder_audit import _dag, _Missing, _reach, _Stated

    if task not in ("ATE", "ETT", "NIE", "NDE"):
        return None
    dag, pos, known = _dag(item)
    if not known:
        return None
    x, y = pos["X"], pos["Y"]
    observed = _observed(item.given)
    if task in ("NDE", "NIE"):
        mk = _confounded_mediator(dag, pos, x, y, observed)
        if mk is not None:
            M, K = mk
            try:
                _, lo_lo, _, used = _reach(lambda s: _mediation_range(s, task, M, K)[0], item.given, 0.005)
                _, _, hi_hi, _ = _reach(lambda s: _mediation_range(s, task, M, K)[1], item.given, 0.005)
                lo, hi = _mediation_range(_Stated(item.given), task, M, K)
            except (_Missing, ZeroDivisionError):
                return None
            what = (f"{task} over every P(Y=1|X,{M},{K}) that fits the stated P(Y=1|X,{M}) (the mediation formula "
                    f"with {K} confounding {M} and Y): [{lo:.4f}, {hi:.4f}] at the stated numbers")
            if lo < 0 < hi:
                w = _mediation_witness(item, task, M, K)
                return EffectVerdict("confounded mediator", (lo + hi) / 2, lo_lo, hi_hi, what, used,
                                     open_by_weights=True, witness=w)
            return EffectVerdict("confounded mediator", (lo + hi) / 2, lo_lo, hi_hi, what, used)
    m = _frontdoor(dag, pos, x, y, observed)
    if m is not None and not (task == "NIE" and dag.has_edge(x, y)):
        if task == "ETT":
            def f(s):
                return sum(s.p("Y=1", ("X=1", f"{m}={v}")) * (s.p(f"{m}={v}", ("X=1",)) - s.p(f"{m}={v}", ("X=0",)))
                           for v in (0, 1))
            what = f"sum_m P(Y=1|X=1,{m}=m) [P({m}=m|X=1) - P({m}=m|X=0)]"
        else:
            def f(s):
                px1 = s.p("X=1")
                return sum((s.p(f"{m}={v}", ("X=1",)) - s.p(f"{m}={v}", ("X=0",)))
                           * (s.p("Y=1", ("X=1", f"{m}={v}")) * px1 + s.p("Y=1", ("X=0", f"{m}={v}")) * (1 - px1))
                           for v in (0, 1))
            what = f"sum_m [P({m}=m|X=1) - P({m}=m|X=0)] sum_x P(Y=1|X=x,{m}=m) P(X=x)"
        try:
            value, lo, hi, used = _reach(f, item.given, 0.005)
        except (_Missing, ZeroDivisionError):
            return None
        return EffectVerdict("front door", value, lo, hi, f"{task} by the front door through {m}: {what}", used)
    if task == "ATE":
        z = _instrument(dag, pos, x, y, observed)
        if z is not None:
            def f(s):
                return ((s.p("Y=1", (f"{z}=1",)) - s.p("Y=1", (f"{z}=0",)))
                        / (s.p("X=1", (f"{z}=1",)) - s.p("X=1", (f"{z}=0",))))
            try:
                value, lo, hi, used = _reach(f, item.given, 0.005)
            except (_Missing, ZeroDivisionError):
                return None
            return EffectVerdict("instrument", value, lo, hi, f"Wald ratio with instrument {z}: [P(Y=1|{z}=1) - "
                                 f"P(Y=1|{z}=0)] / [P(X=1|{z}=1) - P(X=1|{z}=0)]", used,
                                 assumption="the ratio is the ATE only if the effect of X is the same for every unit "
                                            "(or under monotone compliance, for the compliers): an assumption "
                                            "beyond the graph")
    if task == "ETT":
        inv = {i: n for n, i in pos.items()}
        for size in (1, 2):
            for zs in itertools.combinations([i for i in range(dag.n) if i not in (x, y) and inv[i] in observed], size):
                zm = sum(1 << i for i in zs)
                if not dag.is_backdoor_set(1 << x, 1 << y, zm):
                    continue
                names = [inv[i] for i in zs]
                strata = []
                for bits in itertools.product((0, 1), repeat=size):
                    cond = tuple(f"{n}={b}" for n, b in zip(names, bits))

                    def g(s, cond=cond):
                        return s.p("Y=1", ("X=1",) + cond) - s.p("Y=1", ("X=0",) + cond)
                    try:
                        strata.append((cond, *_reach(g, item.given, 0.005)))
                    except (_Missing, ZeroDivisionError):
                        strata = None
                        break
                if not strata:
                    continue
                lo, hi = min(s[2] for s in strata), max(s[3] for s in strata)
                value = sum(s[1] for s in strata) / len(strata)
                used = sorted({k for s in strata for k in s[4]})
                what = (f"ETT = sum_z P(z|X=1) [P(Y=1|X=1,z) - P(Y=1|X=0,z)] over {', '.join(names)}, the weights "
                        "P(z|X=1) not stated; stratum contrasts " + "; ".join(
                            f"{','.join(c)}: {v:.4f} [{a:.4f}, {b:.4f}]" for c, v, a, b, _ in strata))
                mixed = min(s[1] for s in strata) < 0 < max(s[1] for s in strata)
                w = None
                if mixed and size == 1 and sorted(dag.edges) == sorted(
                        [(zs[0], x), (zs[0], y), (x, y)]):
                    w = _mixture_witness(item, names[0])
                return EffectVerdict("mixture", value, lo, hi, what, used, open_by_weights=mixed, witness=w)
    return None
