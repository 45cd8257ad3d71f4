"""CLadder's ate/ett/nde/nie on the graphs where no back-door or plain mediation formula has its terms
stated (front door, instrument, ETT over a confounder, a confounded mediator), audited against the engine.

Oracle: random binary SCMs on CLadder's graph families; each item states the numbers CLadder states for
that graph and query (two decimals), and its gold is the sign rule applied to the *exact* quantity from
the engine (do(), twin-network counterfactuals, nested counterfactuals). The auditor must agree, or explain
the item by rounding, by a checked witness (not determined) or by the assumption its estimand needs; never
call it a label error. With the gold flipped it calls a label error only where the stated numbers
determine the sign, and then the exact value is on the other side.
"""

from __future__ import annotations

import json
import random

import pytest

from whygym.benchmarks.audit import ROUNDED, audit_item
from whygym.benchmarks.cladder_audit import CLADDER_GRAPHS
from whygym.items import Item
from whygym.scm.graph import DAG
from whygym.scm.model import BinarySCM
from whygym.scm.sampling import random_cpts

TASK = {"ate": "ATE", "ett": "ETT", "nde": "NDE", "nie": "NIE"}


def _model(family, seed):
    edges = CLADDER_GRAPHS[family]
    nodes = sorted({n for e in edges for n in e})
    pos = {n: i for i, n in enumerate(nodes)}
    dag = DAG(len(nodes), [(pos[a], pos[b]) for a, b in edges])
    return BinarySCM(dag, random_cpts(dag, random.Random(seed), 0.05, 0.95)), pos, nodes


def _p(m, pos, event, cond=()):
    ev = {pos[k]: v for k, v in event}
    cd = {pos[k]: v for k, v in cond}
    return round(m.prob(ev, cd or None), 2)


def _key(event, cond=()):
    e = ",".join(f"{k}={v}" for k, v in event)
    return f"P({e}|{','.join(f'{k}={v}' for k, v in cond)})" if cond else f"P({e})"


def _stated(family, qt, m, pos):
    """The numbers a CLadder item of this graph and query type states."""
    out = {}

    def put(event, cond=()):
        out[_key(event, cond)] = _p(m, pos, event, cond)
    if family == "frontdoor":
        for x in (0, 1):
            put((("V3", 1),), (("X", x),))
            for v in (0, 1):
                put((("Y", 1),), (("X", x), ("V3", v)))
        if qt != "ett":
            put((("X", 1),))
    elif family == "IV":
        for z in (0, 1):
            put((("Y", 1),), (("V2", z),))
            put((("X", 1),), (("V2", z),))
    elif family == "confounding":
        for v in (0, 1):
            for x in (0, 1):
                put((("Y", 1),), (("V1", v), ("X", x)))
        put((("V1", 1),))
    elif family == "arrowhead":
        for x in (0, 1):
            for v in (0, 1):
                put((("Y", 1),), (("X", x), ("V3", v)))
                put((("V3", 1),), (("X", x), ("V2", v)))
        put((("V2", 1),))
    return out


def _exact(qt, m, pos):
    X, Y = pos["X"], pos["Y"]
    if qt == "ate":
        return m.p_do({Y: 1}, {X: 1}) - m.p_do({Y: 1}, {X: 0})
    if qt == "ett":
        return m.prob({Y: 1}, {X: 1}) - m.counterfactual({Y: 1}, {X: 0}, {X: 1})
    base = m.nested_mean(Y, 1, X, 0, 0)
    return (m.nested_mean(Y, 1, X, 1, 0) if qt == "nde" else m.nested_mean(Y, 1, X, 0, 1)) - base


def _item(family, qt, given, gold, polarity, truth):
    edges = CLADDER_GRAPHS[family]
    nodes = sorted({n for e in edges for n in e})
    return Item(id=f"t:{family}:{qt}", task=qt, rung=2, prompt="", answer=gold.capitalize(), gold={"label": gold},
                graph={"nodes": nodes, "edges": [list(e) for e in edges], "names": {}},
                query={"query_type": qt, "treatment": "X", "outcome": "Y"}, given=given,
                meta={"benchmark": "cladder", "query_type": qt, "graph_id": family, "polarity": polarity,
                      "groundtruth": truth})


def _label(qt, truth, polarity):
    positive = truth > 0 if qt != "ett" else truth < 0  # CLadder's ETT question imagines X=0 for the treated
    return "yes" if positive == polarity else "no"


CASES = [("frontdoor", "ate"), ("frontdoor", "ett"), ("frontdoor", "nie"), ("IV", "ate"), ("confounding", "ett"),
         ("arrowhead", "nde"), ("arrowhead", "nie")]


@pytest.mark.parametrize("family,qt", CASES)
def test_items_agree_or_are_explained_and_flipped_golds_are_caught(family, qt):
    seen = {}
    for seed in range(60):
        m, pos, _ = _model(family, seed)
        truth = _exact(qt, m, pos)
        if abs(truth) < 1e-6:
            continue
        polarity = seed % 2 == 0
        gold = _label(qt, truth, polarity)
        given = _stated(family, qt, m, pos)
        r = audit_item(_item(family, qt, given, gold, polarity, truth))
        seen[r.category or r.status] = seen.get(r.category or r.status, 0) + 1
        if family == "IV":
            assert r.category == "assumption-dependent" and "Wald" in r.note
            continue
        assert r.status in ("agree", ROUNDED) or r.category == "not determined", (seed, r.category, r.note)
        if r.category == "not determined":
            w = json.loads(r.steps["witness"])
            assert w["answer_low"] < 0 < w["answer_high"]
        flipped = audit_item(_item(family, qt, given, "no" if gold == "yes" else "yes", polarity, truth))
        if r.status == "agree":
            assert flipped.category == "label error", (seed, flipped.category, flipped.note)
        else:
            assert flipped.category != "label error"
    assert seen.get("agree", 0) + seen.get("assumption-dependent", 0) >= 10, seen  # (random CPTs leave many arrowhead NIEs open)
    if family in ("confounding", "arrowhead"):
        assert seen.get("not determined", 0) >= 1, seen  # the weights / the unstated strata do matter


def test_total_probability_gives_ett_on_the_diamondcut_graph():
    # CLadder states P(Y|X,V3) and P(V3|X); ETT = sum_v P(v|x1)[P(y|x1,v) - P(y|x0,v)] by the back door V3
    m, pos, _ = _model("diamondcut", 3)
    X, Y, V3 = pos["X"], pos["Y"], pos["V3"]
    given = {}
    for x in (0, 1):
        given[f"P(V3=1|X={x})"] = round(m.prob({V3: 1}, {X: x}), 2)
        for v in (0, 1):
            given[f"P(Y=1|X={x},V3={v})"] = round(m.prob({Y: 1}, {X: x, V3: v}), 2)
    truth = _exact("ett", m, pos)
    r = audit_item(_item("diamondcut", "ett", given, _label("ett", truth, True), True, truth))
    assert r.status in ("agree", ROUNDED), r.note
