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

__all__ = ["cladder_records", "det_records", "GENERATED_QUERY_TYPES"]

#: The query types generated here, with the graph families each is asked on.
GENERATED_QUERY_TYPES: dict[str, tuple[str, ...]] = {
    "marginal": tuple(CLADDER_GRAPHS),
    "correlation": tuple(CLADDER_GRAPHS),
    "exp_away": ("collision",),
    "collider_bias": ("collision",),
    "backadj": ("chain", "confounding", "mediation", "diamond", "frontdoor", "arrowhead", "IV", "diamondcut"),
    "ate": ("chain", "fork", "mediation", "confounding", "diamond", "diamondcut", "IV", "arrowhead", "frontdoor"),
    "ett": ("fork", "confounding", "diamondcut", "frontdoor", "mediation"),
    "nde": ("mediation", "arrowhead"),
    "nie": ("mediation", "arrowhead", "frontdoor"),
    "det-counterfactual": ("chain", "fork", "mediation", "confounding", "diamond", "diamondcut", "IV", "arrowhead",
                           "frontdoor"),
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


# -------------------------------------------------------------------------------- ate / ett / nde / nie
def _effect_terms(family: str, qt: str) -> list[tuple[str, tuple[str, ...]]]:
    """What a CLadder item of this graph states for an effect query: (event, conditions) pairs."""
    def y_given(*vs):
        return [("Y=1", tuple(f"{v}={b}" for v, b in zip(vs, bits))) for bits in
                ((0, 0), (0, 1), (1, 0), (1, 1))[:4 if len(vs) == 2 else 0]] if len(vs) == 2 else \
            [("Y=1", (f"{vs[0]}={b}",)) for b in (0, 1)]
    if family == "frontdoor":
        t = [("V3=1", (f"X={x}",)) for x in (0, 1)] + y_given("X", "V3")
        return t + ([] if qt == "ett" else [("X=1", ())])
    if family == "IV":
        return y_given("V2") + [("X=1", (f"V2={z}",)) for z in (0, 1)]
    if family == "confounding":
        return y_given("V1", "X") + [("V1=1", ())]
    if family == "diamondcut":
        return y_given("X", "V3") + ([("V3=1", (f"X={x}",)) for x in (0, 1)] if qt == "ett" else [("V1=1", ()),
                                      *[("V3=1", (f"V1={v}",)) for v in (0, 1)]])
    if family == "arrowhead" and qt in ("nde", "nie"):
        return y_given("X", "V3") + [("V3=1", (f"X={x}", f"V2={k}")) for x in (0, 1) for k in (0, 1)] + [("V2=1", ())]
    if family == "mediation" and qt != "ate":
        return y_given("X", "V2") + [("V2=1", (f"X={x}",)) for x in (0, 1)]
    return y_given("X")  # X has no parents (chain, fork, mediation, diamond, arrowhead ATE): P(y|do(x)) = P(y|x)


def _exact_effect(qt: str, m: BinarySCM, X: int, Y: int) -> float:
    if qt == "ate":
        return m.p_do({Y: 1}, {X: 1}) - m.p_do({Y: 1}, {X: 0})
    if qt == "ett":  # E[Y_1 - Y_0 | X=1]
        return m.prob({Y: 1}, {X: 1}) - m.counterfactual({Y: 1}, {X: 0}, {X: 1})
    base = m.nested_mean(Y, 1, X, 0, 0)
    return (m.nested_mean(Y, 1, X, 1, 0) if qt == "nde" else m.nested_mean(Y, 1, X, 0, 1)) - base


def _effect_record(qt: str, family: str, m: BinarySCM, pos: dict[str, int], rng: _random.Random,
                   k: int) -> dict[str, Any]:
    """An effect question as CLadder words it: the numbers its graph's estimand uses (two decimals), the
    yes/no from the exact quantity's sign (CLadder's ETT asks whether Y would be *more* likely had the
    treated been untreated: yes when E[Y_1 - Y_0 | X=1] < 0 for polarity True)."""
    X, Y = pos["X"], pos["Y"]
    truth = _exact_effect(qt, m, X, Y)
    if abs(truth) < 1e-9:
        return {}
    polarity = rng.random() < 0.5
    positive = truth > 0 if qt != "ett" else truth < 0
    label = positive == polarity
    step4 = []
    for event, cond in _effect_terms(family, qt):
        ev = {pos[a.split("=")[0]]: int(a.split("=")[1]) for a in (event,)}
        cd = {pos[a.split("=")[0]]: int(a.split("=")[1]) for a in cond}
        step4.append(_line(event, ", ".join(cond), m.prob(ev, cd or None)))
    meta = {"query_type": qt, "graph_id": family, "polarity": polarity, "treatment": "X", "outcome": "Y",
            "rung": 2 if qt == "ate" else 3, "groundtruth": truth}
    question = {"ate": f"Will treatment {'increase' if polarity else 'decrease'} the chance of the outcome?",
                "ett": f"For the treated, would it have been {'more' if polarity else 'less'} likely to see the "
                       "outcome without treatment?",
                "nde": f"If we disregard the mediation effect, would treatment {'positively' if polarity else 'negatively'}"
                       " affect the outcome?",
                "nie": f"Does treatment {'positively' if polarity else 'negatively'} affect the outcome through the "
                       "mediator?"}[qt]
    present = sorted({n for e in CLADDER_GRAPHS[family] for n in e})
    return {"question_id": k, "desc_id": f"whygym-{family}-{qt}-{k}", "given_info": "; ".join(step4) + ".",
            "question": question, "answer": "yes" if label else "no", "meta": meta,
            "reasoning": {"step0": "Let " + "; ".join(f"{n} = {_NAMES[n]}" for n in present) + ".",
                          "step1": ",".join(f"{a}->{b}" for a, b in CLADDER_GRAPHS[family]),
                          "step4": "\n".join(step4)}}


def cladder_records(query_type: str, family: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` CLadder-format records of ``query_type`` on graph ``family`` (see the module docstring)."""
    if query_type not in GENERATED_QUERY_TYPES or family not in GENERATED_QUERY_TYPES[query_type]:
        raise ValueError(f"no generator for {query_type!r} on {family!r}; known: {GENERATED_QUERY_TYPES}")
    if query_type == "det-counterfactual":
        return det_records(family, n, seed)
    edges = CLADDER_GRAPHS[family]
    nodes = sorted({v for e in edges for v in e})
    pos = {v: i for i, v in enumerate(nodes)}
    dag = DAG(len(nodes), [(pos[a], pos[b]) for a, b in edges])
    rng = _random.Random(f"{query_type}|{family}|{seed}")
    out: list[dict[str, Any]] = []
    k = 0
    while len(out) < n and k < 20 * n + 20:
        m = BinarySCM(dag, random_cpts(dag, rng, 0.05, 0.95))
        rec = (_effect_record if query_type in ("ate", "ett", "nde", "nie") else _record)(query_type, family, m, pos,
                                                                                           rng, k)
        k += 1
        if rec:
            out.append(rec)
    return out


# ---------------------------------------------------------------------------------- det-counterfactual
#: Where CLadder's det-counterfactual sentences may negate a one-parent node ("X causes not V2"), per family.
_DET_NEGATABLE = {"chain": ("V2", "Y"), "mediation": ("V2",), "confounding": ("X",), "diamond": ("V3",),
                  "diamondcut": ("X",), "frontdoor": ("V3",)}


def _word(rng: _random.Random, taken: set) -> str:
    while True:
        w = "".join(rng.choice(c) for c in ("bcdfghjklmnprstvwxz", "aeiou", "bcdfghjklmnprstvwxz", "aeiou"))
        if w not in taken:
            taken.add(w)
            return w


def _det_text(family: str, eq: dict, noun) -> str:
    """The mechanism sentences of CLadder's det-counterfactual template for ``family``."""
    def child(v):  # a one-parent node as its parent's effect: its 0-noun when negated
        return noun(v, 0 if eq[v][1][0][1] else 1)

    def rel(v):
        return f" {eq[v][0]} ".join(noun(p, 1) for p, _ in eq[v][1])
    t = {
        "fork": lambda: f"We know that {rel('Y')} causes {noun('Y', 1)}.",
        "mediation": lambda: f"We know that {noun('X', 1)} causes {child('V2')}. {rel('Y')} causes {noun('Y', 1)}.",
        "confounding": lambda: f"We know that {noun('V1', 1)} causes {child('X')}. {rel('Y')} causes {noun('Y', 1)}.",
        "diamond": lambda: (f"We know that {noun('X', 1)} causes {child('V2')} and {child('V3')}. {rel('Y')} causes "
                            f"{noun('Y', 1)}."),
        "diamondcut": lambda: (f"We know that {noun('V1', 1)} causes {child('X')} and {child('V3')}. {rel('Y')} causes "
                               f"{noun('Y', 1)}."),
        "chain": lambda: f"We know that {noun('X', 1)} causes {child('V2')}, and we know that {noun('V2', 1)} causes "
                         f"{child('Y')}.",
        "IV": lambda: f"We know that {rel('X')} causes {noun('X', 1)}. {rel('Y')} causes {noun('Y', 1)}.",
        "arrowhead": lambda: f"We know that {rel('V3')} causes {noun('V3', 1)}. {rel('Y')} causes {noun('Y', 1)}.",
        "frontdoor": lambda: (f"We know that {noun('V1', 1)} causes {noun('X', 1)}. {noun('X', 1)} causes "
                              f"{child('V3')}. {rel('Y')} causes {noun('Y', 1)}."),
    }
    return t[family]()


def _det_record(family: str, rng: _random.Random, k: int, misprint: bool) -> dict[str, Any]:
    edges = CLADDER_GRAPHS[family]
    nodes = sorted({v for e in edges for v in e})
    parents = {v: [a for a, b in edges if b == v] for v in nodes}
    eq: dict[str, tuple[str, list]] = {}
    shared = rng.choice(("and", "or"))  # arrowhead: one operator for V3 and Y
    for v in nodes:
        ps = parents[v]
        if len(ps) == 1:
            eq[v] = ("id", [(ps[0], v in _DET_NEGATABLE.get(family, ()) and rng.random() < 0.5)])
        elif ps:
            eq[v] = (shared if family == "arrowhead" else rng.choice(("and", "or")), [(p, False) for p in ps])
    taken: set = set()
    words = {v: _word(rng, taken) for v in nodes}

    def noun(v, val):
        return words[v] if val else f"not {words[v]}"
    roots = [v for v in nodes if not parents[v] and v != "X"]
    evidence = {v: rng.randint(0, 1) for v in roots}
    action, asked = rng.randint(0, 1), rng.randint(0, 1)
    pos = {v: i for i, v in enumerate(nodes)}
    dag = DAG(len(nodes), [(pos[a], pos[b]) for a, b in edges])
    cpts = []
    for i, v in enumerate(nodes):
        pa = dag.parents[i]
        if not pa:
            cpts.append([0.5])
            continue
        op, terms = eq[v]
        neg = dict(terms)
        table = []
        for idx in range(1 << len(pa)):
            bits = [((idx >> j) & 1) ^ int(neg[nodes[q]]) for j, q in enumerate(pa)]
            table.append(float(all(bits) if op == "and" else any(bits)))
        cpts.append(table)
    m = BinarySCM(dag, cpts)
    p = m.counterfactual({pos["Y"]: asked}, {pos["X"]: action}, {pos[v]: e for v, e in evidence.items()})
    yes = p > 0.5  # P(Y_{X=x} = y | observed roots) is 0 or 1

    def show(v, op, terms):
        return f"{v} = " + f" {op} ".join(("not " if n else "") + a for a, n in terms)
    printed = dict(eq)
    if misprint and family == "diamond":  # CLadder prints V3's equation through V2 (= X)
        printed["V3"] = ("id", [("V2", eq["V3"][1][0][1])])
    if misprint and family == "diamondcut":  # ... and moves X's negation onto V3, written through X
        printed["X"] = ("id", [("V1", False)])
        printed["V3"] = ("id", [("X", eq["X"][1][0][1])])
    form = f"Y_{{X={action}}} = {asked} | " + ", ".join(f"{v}={e}" for v, e in evidence.items())
    observed = " and ".join(f"an individual is {noun(v, e)}" for v, e in evidence.items())
    text = _det_text(family, eq, noun) + (f" We observed {observed}." if observed else "")
    question = (f"Would an individual is {noun('Y', asked)} if {noun('X', action)} instead of "
                f"{noun('X', 1 - action)}?")
    step4 = [f"{v} = {e}" for v, e in evidence.items()] + [show(v, *printed[v]) for v in nodes if v in printed]
    meta = {"story_id": "whygym", "graph_id": family, "given_info": evidence, "formal_form": form, "treatment": "X",
            "outcome": "Y", "action": action, "polarity": asked, "groundtruth": int(yes),
            "query_type": "det-counterfactual", "rung": 3}
    return {"question_id": k, "desc_id": f"whygym-{family}-det-counterfactual-{k}", "given_info": text,
            "question": question, "answer": "yes" if yes else "no", "meta": meta,
            "reasoning": {"step0": "Let " + "; ".join(f"{v} = {words[v]}" for v in nodes) + ".",
                          "step1": ",".join(f"{a}->{b}" for a, b in edges), "step2": form,
                          "step3": "Solve for Y, given the evidence and the action", "step4": "\n".join(step4),
                          "end": str(int(yes))}}


def det_records(family: str, n: int, seed: int = 0, misprint: bool = False) -> list[dict[str, Any]]:
    """``n`` det-counterfactual records on ``family``: deterministic mechanisms (one parent: identity or
    negation where CLadder's sentence can say "not"; several: and / or), every root but X observed, worded
    with CLadder's sentence templates; the gold is the exact engine's counterfactual
    ``P(Y_{X=x} = y | observed roots)`` of the model the text states (0 or 1). ``misprint`` writes
    ``step4`` as CLadder's generator does for the diamond and diamond-cut families (an equation through a
    node that is not the parent), so that only the text tells the mechanism.

    >>> r = det_records("fork", 1, seed=3)[0]
    >>> r["meta"]["query_type"], r["reasoning"]["step1"], r["answer"] in ("yes", "no")
    ('det-counterfactual', 'X->Y,V2->Y', True)
    """
    rng = _random.Random(f"det-counterfactual|{family}|{seed}|{misprint}")
    return [_det_record(family, rng, k, misprint) for k in range(n)]
