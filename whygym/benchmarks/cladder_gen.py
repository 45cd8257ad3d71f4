"""Items in the CLadder format, made from random SCMs on CLadder's graph families: to test the loader and the
auditor on many more items than the published sample, with answers known from the exact engine.

Each record has CLadder's fields (``given_info`` sentences with percentages, ``question``, ``answer``,
``meta`` with ``query_type``, ``graph_id``, ``polarity``, ``treated``, ``groundtruth`` from the unrounded
model, ``given_info`` numbers, and ``reasoning`` with ``step0`` names, ``step1`` edges and ``step4`` the stated
probabilities as CLadder writes them, joints as ``P(Y=1, X=0=1)``). The gold follows CLadder's yes/no
semantics applied to the *exact* model quantity, as CLadder's own generator does, so a few items near the
threshold are decided by numbers the text rounds away: the auditor must explain those by rounding.

>>> recs = cladder_records("marginal", "IV", n=2, seed=0)
>>> [r["meta"]["query_type"] for r in recs], recs[0]["answer"] in ("yes", "no")
(['marginal', 'marginal'], True)
"""

from __future__ import annotations

import random as _random
from typing import Any

from whygym.benchmarks.cladder_audit import CLADDER_GRAPHS
from whygym.scm.graph import DAG
from whygym.scm.model import BinarySCM
from whygym.scm.sampling import random_cpts

__all__ = ["cladder_records", "GENERATED_QUERY_TYPES"]

#: The query types generated here, with the graph families each is asked on.
GENERATED_QUERY_TYPES: dict[str, tuple[str, ...]] = {
    "marginal": tuple(CLADDER_GRAPHS),
    "correlation": tuple(CLADDER_GRAPHS),
    "exp_away": ("collision",),
    "collider_bias": ("collision",),
    "backadj": ("chain", "confounding", "mediation", "diamond", "frontdoor", "arrowhead", "IV", "diamondcut"),
}
_NAMES = {"X": "treatment", "Y": "outcome", "V1": "background", "V2": "second factor", "V3": "third factor"}


def _pct(p: float) -> str:
    return f"{round(100 * p)}%"


def _line(event: str, cond: str, p: float) -> str:
    return f"P({event} | {cond}) = {p:.2f}" if cond else f"P({event}) = {p:.2f}"


def _sign_answer(truth: float, threshold: float, polarity: bool) -> bool:
    """CLadder's yes/no for "more (polarity) / less likely": yes when the quantity is on that side; a quantity
    at the threshold (independent variables: an exact 0 up to float noise) is neither, so "no"."""
    if abs(truth - threshold) < 1e-9:
        return False
    return (truth > threshold) == polarity


def _record(qt: str, family: str, m: BinarySCM, pos: dict[str, int], rng: _random.Random, k: int) -> dict[str, Any]:
    X, Y = pos["X"], pos["Y"]
    polarity = rng.random() < 0.5
    meta: dict[str, Any] = {"query_type": qt, "graph_id": family, "polarity": polarity, "treated": True,
                            "treatment": "X", "outcome": "Y", "rung": 1 if qt in ("marginal", "correlation",
                                                                                 "exp_away") else 2}
    step4: list[str] = []
    info: list[str] = []
    if qt == "marginal":
        px, a0, a1 = m.prob({X: 1}), m.prob({Y: 1}, {X: 0}), m.prob({Y: 1}, {X: 1})
        step4 = [_line("X=1", "", px), _line("Y=1", "X=0", a0), _line("Y=1", "X=1", a1)]
        info = [f"The overall probability of treatment is {_pct(px)}.",
                f"For the untreated, the probability of the outcome is {_pct(a0)}.",
                f"For the treated, the probability of the outcome is {_pct(a1)}."]
        truth = m.prob({Y: 1})
        label = _sign_answer(truth, 0.5, polarity)
        question = f"Is the outcome {'more' if polarity else 'less'} likely than no outcome overall?"
        meta["given_info"] = {"P(X)": px, "P(Y | X)": [a0, a1]}
    elif qt == "correlation":
        px, j0, j1 = m.prob({X: 1}), m.prob({Y: 1, X: 0}), m.prob({Y: 1, X: 1})
        step4 = [f"P(X=1=1) = {px:.2f}", f"P(Y=1, X=0=1) = {j0:.2f}", f"P(Y=1, X=1=1) = {j1:.2f}"]
        info = [f"The overall probability of treatment is {_pct(px)}.",
                f"The probability of no treatment and the outcome is {_pct(j0)}.",
                f"The probability of treatment and the outcome is {_pct(j1)}."]
        truth = m.prob({Y: 1}, {X: 1}) - m.prob({Y: 1}, {X: 0})
        label = _sign_answer(truth, 0.0, polarity)
        question = f"Is the chance of the outcome {'larger' if polarity else 'smaller'} when observing treatment?"
        meta["given_info"] = {"P(X=1)": px, "P(Y=1, X=0)": j0, "P(Y=1, X=1)": j1}
    elif qt == "exp_away":
        V = pos["V3"]
        px = m.prob({X: 1})
        step4 = [_line("X=1", "", px)]
        grid = [[m.prob({Y: 1}, {X: x, V: v}) for v in (0, 1)] for x in (0, 1)]
        for x in (0, 1):
            for v in (0, 1):
                step4.append(_line("Y=1", f"X={x}, V3={v}", grid[x][v]))
        truth = m.prob({Y: 1}, {X: 1, V: 1}) - m.prob({Y: 1}, {V: 1})
        label = _sign_answer(truth, 0.0, polarity)
        info = [f"The overall probability of treatment is {_pct(px)}."] + [
            f"For units with treatment {x} and third factor {v}, the probability of the outcome is {_pct(grid[x][v])}."
            for x in (0, 1) for v in (0, 1)]
        question = (f"If we look at units with the third factor, does the chance of the outcome "
                    f"{'increase' if polarity else 'decrease'} when treatment?")
        meta.update(given_info={"P(X)": px, "P(Y | X, V3)": grid}, collider="V3", baseline=True, result=True)
    elif qt == "collider_bias":
        affects = m.dag.is_ancestor(X, Y)
        truth = None
        label = affects == polarity
        info = ["For units with the third factor, the correlation between treatment and outcome is "
                f"{m.prob({Y: 1}, {X: 1, pos['V3']: 1}) - m.prob({Y: 1}, {X: 0, pos['V3']: 1}):.2f}."]
        question = (f"If we look at units with the third factor, does it mean that treatment "
                    f"{'affects' if polarity else 'does not affect'} the outcome?")
        meta.update(collider="V3", groundtruth="yes" if label else "no")
    else:  # backadj: one set valid, the other not, in either order
        dag = m.dag
        inv = {i: n for n, i in pos.items()}
        cands = [[]] + [[inv[i]] for i in range(dag.n) if i not in (X, Y)]
        valid = [z for z in cands if dag.is_backdoor_set(1 << X, 1 << Y, sum(1 << pos[n] for n in z))]
        invalid = [z for z in cands if z not in valid]
        if not valid or not invalid:
            return {}
        good, bad = rng.choice(valid), rng.choice(invalid)
        flipped = rng.random() < 0.5
        sets = [bad, good] if flipped else [good, bad]
        label = not flipped
        truth = None

        def method(z):
            return ("We look directly at how treatment correlates with the outcome in general." if not z else
                    f"We look at how treatment correlates with the outcome case by case according to {_NAMES[z[0]]}.")
        info = [f"Method 1: {method(sets[0])}", f"Method 2: {method(sets[1])}"]
        question = "To understand how treatment affects the outcome, is it more correct to use the Method 1 than Method 2?"
        meta.update(given_info=sets, groundtruth=good, flipped=flipped)
        meta["polarity"] = True
    if truth is not None:
        meta["groundtruth"] = truth
    present = sorted({n for e in CLADDER_GRAPHS[family] for n in e})
    reasoning = {} if qt == "backadj" else {
        "step0": "Let " + "; ".join(f"{n} = {_NAMES[n]}" for n in present) + ".",
        "step1": ",".join(f"{a}->{b}" for a, b in CLADDER_GRAPHS[family]),
        "step4": "\n".join(step4)}
    return {"question_id": k, "desc_id": f"whygym-{family}-{qt}-{k}", "given_info": " ".join(info),
            "question": question, "answer": "yes" if label else "no", "meta": meta,
            "reasoning": reasoning or None}


def cladder_records(query_type: str, family: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` CLadder-format records of ``query_type`` on graph ``family`` (see the module docstring)."""
    if query_type not in GENERATED_QUERY_TYPES or family not in GENERATED_QUERY_TYPES[query_type]:
        raise ValueError(f"no generator for {query_type!r} on {family!r}; known: {GENERATED_QUERY_TYPES}")
    edges = CLADDER_GRAPHS[family]
    nodes = sorted({v for e in edges for v in e})
    pos = {v: i for i, v in enumerate(nodes)}
    dag = DAG(len(nodes), [(pos[a], pos[b]) for a, b in edges])
    rng = _random.Random(f"{query_type}|{family}|{seed}")
    out: list[dict[str, Any]] = []
    k = 0
    while len(out) < n and k < 20 * n + 20:
        m = BinarySCM(dag, random_cpts(dag, rng, 0.05, 0.95))
        rec = _record(query_type, family, m, pos, rng, k)
        k += 1
        if rec:
            out.append(rec)
    return out
