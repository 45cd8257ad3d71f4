"""The test suites: exact gold (audited), proven insufficiency, real confounding, manifests."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

from whygym.benchmarks.audit import audit_items
from whygym.scm import effects
from whygym.scm.model import BinarySCM
from whygym.tasks import DEFAULT_TASKS, generate, get_task
from whygym.tasks.core import parse_term_key
from whygym.tasks.dedup import find_overlap
from whygym.tasks.suites import SUITES, build_suite, exact_answer, suite_manifest
from whygym.benchmarks.audit import problem_from_item


def problem_and_scm(it):
    """The item's problem and the fully specified SCM it was drawn from (suite items carry the CPTs)."""
    p = problem_from_item(it)
    return p, BinarySCM(p.dag, [np.array(c) for c in it.meta["scm_cpts"]])


@pytest.fixture(scope="module")
def suites():
    return {name: build_suite(name, n=6, seed=3) for name in SUITES}


def test_every_suite_item_audits(suites):
    for name, items in suites.items():
        res = audit_items(items)
        bad = [(r.item_id, r.gold, r.solved, r.note) for r in res if r.status != "agree"]
        assert not bad, (name, bad[:3])
        assert collections.Counter(it.task for it in items) == {t: 6 for t in DEFAULT_TASKS}


def test_insufficient_items_are_provably_undetermined(suites):
    items = suites["insufficient"]
    lack = [it for it in items if it.gold.get("label") == "LACK_CONDITION"]
    assert 10 <= len(lack) < len(items)  # about half, and complete items are mixed in
    for it in lack:
        p, scm_a = problem_and_scm(it)
        w = it.meta["witness"]
        scm_b = BinarySCM(scm_a.dag, [np.array(c) for c in w["cpts_b"]])
        assert all(np.allclose(a, c) for a, c in zip(scm_a.cpts, [np.array(c) for c in w["cpts_a"]]))
        # the two SCMs agree on every number the prompt still states ...
        for key, val in it.given.items():
            t = parse_term_key(key, p.ids)
            ev, cond = dict(t.event), dict(t.cond)
            pa, pb = scm_a.prob(ev, cond), scm_b.prob(ev, cond)
            assert abs(pa - pb) < 1e-9, (it.id, key)
            assert abs(round(pa, 4) - val) < 1e-12
        # ... and disagree on the answer, computed by the engine
        spec = get_task(it.task)
        assert abs(exact_answer(spec, p, scm_a) - exact_answer(spec, p, scm_b)) >= 1e-3
        assert it.meta["withheld"] not in it.given
        assert it.prompt.endswith('output "LACK_CONDITION" as the final answer.')


def test_deconfounding_naive_contrast_differs_on_every_item(suites):
    for it in suites["deconfounding"]:
        assert it.meta["adjustment_set"], it.id
        p, scm = problem_and_scm(it)
        q = p.query
        X, Y = q["treatment"], q["outcome"]
        if it.task == "ATE":  # independent of the derivation code: naive P(y|x) - P(y|x') vs the engine's ATE
            naive = scm.prob({Y: q["y"]}, {X: q["x"]}) - scm.prob({Y: q["y"]}, {X: 1 - q["x"]})
            truth = effects.average_treatment_effect(scm, X, Y, q["x"], q["y"])
            assert abs(naive - truth) >= 0.05 - 2e-4
        assert abs(it.meta["naive_value"] - it.gold["prob"]) >= 0.05


def test_rephrased_polarity_and_omitted(suites):
    seen = collections.Counter()
    for it in suites["rephrased"]:
        pol = it.meta["polarity"]
        seen[pol] += 1
        if pol == "less" and it.gold.get("label") and round(it.gold["prob"], 4) != 0:
            positive_yes = it.task != "ETT"
            more_label = "yes" if (it.gold["prob"] > 0) == positive_yes else "no"
            assert it.gold["label"] != more_label, it.id
        assert "Imagine a self-contained" not in it.prompt
    assert seen["less"] and seen["more"]
    for it in suites["omitted"]:
        assert "\nInstruction:" not in it.prompt and "\nQuestion: " in it.prompt


def test_redundant_noisy_shift(suites):
    for it in suites["redundant"]:
        assert set(it.meta["redundant"]) <= set(it.given)
    for it in suites["noisy"]:
        assert any(d in it.prompt for d in ("records were collected", "same population", "double-checked",
                                             "anonymised", "any other study"))
    assert sum(it.meta["noise"]["typos"] for it in suites["noisy"]) > 0
    for it in suites["shift"]:
        assert 7 <= it.meta["n_nodes"] <= 10 and it.meta["mode"] == "ANTICOMMONSENSE"
        assert all(len(f"{v}".split(".")[1]) <= 3 for v in it.given.values())


def test_suites_are_deterministic_with_manifest():
    a = build_suite("noisy", n=2, seed=5)
    b = build_suite("noisy", n=2, seed=5)
    assert [x.to_json() for x in a] == [x.to_json() for x in b]
    m = suite_manifest("noisy", 2, 5, DEFAULT_TASKS, a)
    assert m["counts"] == {t: 2 for t in DEFAULT_TASKS} and m["generator"].startswith("whygym-gen/")
    with pytest.raises(KeyError, match="did you mean"):
        build_suite("rephrase")


def test_dedup_catches_renamed_copies():
    train = list(generate(["ATE", "NIE"], n=20, seed=1))
    renamed = []
    for it in train[:5]:
        d = json.loads(it.to_json())
        d["graph"]["names"] = {k: f"renamed {v}" for k, v in d["graph"]["names"].items()}
        d["id"] += "-copy"
        from whygym.items import Item
        renamed.append(Item.from_dict(d))
    hits = find_overlap(train, renamed)
    assert [h[0].id for h in hits] == [it.id for it in renamed]
    assert not find_overlap(train, build_suite("deconfounding", n=2, seed=9, tasks=["ATE"]))
