"""CLadder's det-counterfactual questions and the CLadder-derived CaLM sets, audited against the engine.

Oracle: deterministic SCMs drawn on every det-counterfactual graph family (whygym.benchmarks.cladder_gen),
worded with CLadder's sentence templates, their gold the exact engine's counterfactual P(Y_{X=x}=y | the
observed roots); also written with CLadder's misprinted ``step4`` (diamond, diamond-cut), where only the
text tells the mechanism. Hand-built records check the categories a det item can fall into.
"""

from __future__ import annotations

import copy
import json

import pytest

from whygym.benchmarks import load_cladder
from whygym.benchmarks.audit import audit_item
from whygym.benchmarks.cladder_det import evaluate, parse_equation
from whygym.benchmarks.cladder_gen import GENERATED_QUERY_TYPES, det_records

FAMILIES = GENERATED_QUERY_TYPES["det-counterfactual"]


def _audit(tmp_path, recs):
    f = tmp_path / "det.json"
    f.write_text(json.dumps(recs))
    items = load_cladder(f)
    return items, [audit_item(it) for it in items]


@pytest.mark.parametrize("misprint", [False, True])
def test_generated_det_items_agree_and_flipped_ones_are_label_errors(tmp_path, misprint):
    recs = [r for fam in FAMILIES for r in det_records(fam, 40, seed=2, misprint=misprint)]
    for k, r in enumerate(recs):
        r["question_id"] = k
    assert {r["answer"] for r in recs} == {"yes", "no"}
    _, results = _audit(tmp_path, recs)
    assert all(r.status == "agree" for r in results), [(r.item_id, r.note) for r in results if r.status != "agree"][:3]
    if misprint:  # the misprinted families were read from the text
        assert sum("step4 prints" in (r.note or "") for r in results) >= 40
    for r in recs:
        r["answer"] = "no" if r["answer"] == "yes" else "yes"
    _, flipped = _audit(tmp_path, recs)
    assert all(r.category == "label error" and "under do(X=" in r.note for r in flipped)


def _fork(step4="V2 = 1\nY = X or V2", evidence=None, text="We know that jyka or hwax causes lirg. We observed an "
          "individual is hwax.", answer="yes", action=0, asked=1):
    evidence = {"V2": 1} if evidence is None else evidence
    form = f"Y_{{X={action}}} = {asked} | " + ", ".join(f"{k}={v}" for k, v in evidence.items())
    return {"question_id": 1, "given_info": text, "question": "Would an individual is lirg if not jyka instead of jyka?",
            "answer": answer, "meta": {"graph_id": "fork", "given_info": evidence, "formal_form": form,
                                       "treatment": "X", "outcome": "Y", "action": action, "polarity": asked,
                                       "query_type": "det-counterfactual", "rung": 3},
            "reasoning": {"step0": "Let V2 = hwax; X = jyka; Y = lirg.", "step1": "X->Y,V2->Y", "step2": form,
                          "step4": step4}}


def test_hand_derived_fork(tmp_path):
    # Y = X or V2 with V2 = 1: Y = 1 whatever X; "Would Y = 1 if X = 0" is yes
    _, (r,) = _audit(tmp_path, [_fork()])
    assert r.status == "agree" and r.solved == "yes" and r.steps["Y"] == "Y = 1 under do(X=0)"
    # Y = X and V2 under do(X=0): 0
    _, (r,) = _audit(tmp_path, [_fork(step4="V2 = 1\nY = X and V2")])
    assert r.category == "label error" and r.solved == "no"


def test_an_unobserved_root_that_matters_is_not_determined(tmp_path):
    _, (r,) = _audit(tmp_path, [_fork(step4="Y = X or V2", evidence={})])
    assert r.category == "not determined" and "V2" in r.note
    # ... and one that does not matter (Y = X or V2 with X set to 1) leaves it determined
    _, (r,) = _audit(tmp_path, [_fork(step4="Y = X or V2", evidence={}, action=1)])
    assert r.status == "agree"


def test_inconsistent_query_is_a_parse_failure(tmp_path):
    rec = _fork()
    rec["meta"]["action"] = 1  # the formal form says X=0
    _, (r,) = _audit(tmp_path, [rec])
    assert r.category == "parse failure"
    rec = _fork(step4="V2 = 1\nY = X xor V2")
    _, (r,) = _audit(tmp_path, [rec])
    assert r.category == "parse failure"


def test_cladders_diamondcut_misprint_is_a_label_error_with_its_reason(tmp_path):
    """CLadder labels its diamond-cut items by the misprinted step4 (V3 through X's negation): a record whose
    gold follows that, while its text negates X, is a label error, explained."""
    found = []
    for rec in det_records("diamondcut", 200, seed=5, misprint=True):
        if "not X" not in rec["reasoning"]["step4"]:
            continue
        eqs = {}
        ev = {k: int(v) for k, v in rec["meta"]["given_info"].items()}
        for line in rec["reasoning"]["step4"].split("\n"):
            lhs, rhs = (s.strip() for s in line.split("="))
            if rhs not in ("0", "1"):
                eqs[lhs] = parse_equation(rhs)
        # CLadder's label: step4 read through X's *natural* value V1 (V3 = not V1)
        y = evaluate(dict(eqs, V3=("id", [("V1", True)])), {**ev, "X": rec["meta"]["action"]}, "Y")
        cladder = "yes" if y == rec["meta"]["polarity"] else "no"
        if cladder != rec["answer"]:  # the misplaced negation changes Y
            found.append((rec, cladder))
    assert len(found) >= 10
    rec, cladder = found[0]
    bad = copy.deepcopy(rec)
    bad["answer"] = cladder
    _, (r,) = _audit(tmp_path, [bad])
    assert r.category == "label error" and "the negation in its sentence is on X" in r.note


def test_calm_cladder_sets_are_audited_as_cladder(tmp_path):
    """CaLM's CLadder-derived binary sets (CORR-B, EAE-B, CB-B, BAS-B, CR-B) keep CLadder's meta: loaded
    from a CaLM file, they are audited by CLadder's query type, not skipped."""
    from whygym.benchmarks.calm import iter_calm_file

    recs = det_records("mediation", 6, seed=1)
    lines = []
    for i, r in enumerate(recs, 1):
        lines.append(json.dumps({"index": i, "question_id": i, "desc_id": r["desc_id"], "given_info": r["given_info"],
                                 "question": r["question"], "gt_answer": r["answer"], "meta": r["meta"],
                                 "reasoning": r["reasoning"]}))
    f = tmp_path / "CR-B_det-counterfactual_EN.json"
    f.write_text("\n".join(lines))
    items = list(iter_calm_file(f))
    assert all(it.meta["query_type"] == "det-counterfactual" for it in items)
    assert all(audit_item(it).status == "agree" for it in items)


def test_backadj_with_two_valid_sets_is_assumption_dependent():
    from whygym.items import Item

    it = Item(id="t", task="backadj", rung=2, prompt="", answer="Yes", gold={"label": "yes"},
              graph={"nodes": [], "edges": [], "names": {}}, query={}, given={},
              meta={"query_type": "backadj", "graph_id": "fork", "polarity": True, "given_info": [[], ["V2"]],
                    "groundtruth": [], "bad_candidate_set": ["V2"]})
    r = audit_item(it)
    assert r.category == "assumption-dependent" and "both sets satisfy" in r.note
