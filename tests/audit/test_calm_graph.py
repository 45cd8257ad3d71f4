"""CaLM's graph questions (AR-B, CA-B FA/FP, CEI-B) audited from the prompt text: prompts rendered with
CaLM's own templates from random graphs, answers against networkx (ancestors, parents) and the ID
algorithm; a flipped gold is a label error."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from whygym.benchmarks.audit import audit_item
from whygym.benchmarks.calm import calm_prompt
from whygym.items import Item


def _edges_text(edges, lang):
    parts = [f"{a} causes {b}" if lang == "EN" else f"{a}导致{b}" for a, b in edges]
    return ", ".join(parts[:-1]) + (", and " if lang == "EN" else ", 以及") + parts[-1] if len(parts) > 1 else parts[0]


def _item(code, name, lang, rec, gold):
    task = f"{code}-B_{name}"
    return Item(id=f"t:{task}", task=task, rung=0, prompt=calm_prompt(code, "B", name, lang, rec), answer=gold,
                gold={"label": gold}, meta={"benchmark": "calm"})


@pytest.mark.parametrize("lang", ["EN", "CN"])
def test_ancestor_and_parent_questions_follow_the_graph(lang):
    rng = random.Random(lang)
    for _ in range(60):
        n = rng.randint(4, 9)
        names = [chr(65 + i) for i in range(n)]
        edges = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.35]
        if not edges:
            continue
        g = nx.DiGraph(edges)
        g.add_nodes_from(names)
        a, b = rng.sample(names, 2)
        cases = [("AR", "CaLM-AR", {"ar_edges": _edges_text(edges, lang), "former": a, "latter": b},
                  nx.has_path(g, a, b)),
                 ("CA", "FA", {"edges": _edges_text(edges, lang), "sampled_ancestor": a, "attribution": b},
                  a in nx.ancestors(g, b)),
                 ("CA", "FP", {"edges": _edges_text(edges, lang), "sampled_parent": a, "attribution": b},
                  g.has_edge(a, b))]
        for code, name, rec, truth in cases:
            gold = "yes" if truth else "no"
            r = audit_item(_item(code, name, lang, rec, gold))
            assert r.status == "agree", (code, name, r.note, r.steps)
            r = audit_item(_item(code, name, lang, rec, "no" if truth else "yes"))
            assert r.category == "label error"


@pytest.mark.parametrize("lang", ["EN", "CN"])
def test_identification_questions_use_the_listed_confounders(lang):
    bi = "X and Y" if lang == "EN" else "X和Y"
    front = {"di_edges": _edges_text([("X", "M"), ("M", "Y")], lang), "bi_edges": bi, "treatment": "X", "outcome": "Y"}
    bow = {"di_edges": _edges_text([("X", "Y"), ("Z", "Y")], lang), "bi_edges": bi, "treatment": "X", "outcome": "Y"}
    assert audit_item(_item("CEI", "0.2-UC", lang, front, "yes")).status == "agree"
    r = audit_item(_item("CEI", "0.2-UC", lang, bow, "yes"))
    assert r.category == "label error" and "hedge" in r.note


def test_unreadable_question_is_a_parse_failure():
    it = Item(id="t", task="AR-B_CaLM-AR", rung=0, prompt="Input Event: If A causes B.\nQuestion: Is it so?",
              answer="yes", gold={"label": "yes"}, meta={})
    assert audit_item(it).category == "parse failure"
