"""Witnesses of undetermined answers (:func:`whygym.benchmarks.witness.answer_witness`).

Oracles: the insufficient suite's own witness (two SCMs that keep every stated number and move the answer,
found by another search, :func:`whygym.tasks.suites.find_witness`) says the answer is open between its two
answers, so a threshold between them must be straddled by a witness we find; an item whose stated numbers
determine the answer (every needed term stated) can never get one, because every returned witness is
re-checked with the exact engine.
"""

from __future__ import annotations

import random

import numpy as np

from whygym.benchmarks.witness import answer_witness
from whygym.scm.model import BinarySCM
from whygym.tasks.core import SCMLookup, parse_term_key, problem_from_item
from whygym.tasks.spec import get_task
from whygym.tasks.suites import build_suite, exact_answer


def _setup(it):
    p = problem_from_item(it)
    stated = {parse_term_key(k, p.ids): float(v) for k, v in it.given.items()}
    spec = get_task(it.task)
    return p, stated, (lambda scm: exact_answer(spec, p, scm))


def test_open_answers_get_a_checked_witness():
    items = [it for it in build_suite("insufficient", n=6, seed=2, tasks=["ATE", "CDE", "NDE"])
             if it.gold.get("label") == "LACK_CONDITION" and it.meta.get("witness")]
    assert len(items) >= 5
    found = 0
    for it in items:
        p, stated, ans = _setup(it)
        w0 = it.meta["witness"]
        mid = (w0["answer_a"] + w0["answer_b"]) / 2
        w = answer_witness(p, stated, ans, threshold=mid, rng=random.Random(1))
        if w is None:
            continue
        found += 1
        assert w.answer_low < mid < w.answer_high
        for cpts in (w.cpts_low, w.cpts_high):  # an independent re-check: every stated number reproduced
            look = SCMLookup(BinarySCM(p.dag, [np.array(c) for c in cpts]), p.ids, 12)
            assert all(abs(look.exact(t) - v) < 1e-9 for t, v in stated.items())
    assert found >= len(items) // 2, (found, len(items))


def test_determined_answers_never_get_one():
    items = [it for it in build_suite("insufficient", n=4, seed=3, tasks=["ATE", "NIE"])
             if it.gold.get("label") != "LACK_CONDITION"][:4]
    assert items
    for it in items:
        p, stated, ans = _setup(it)
        v = float(it.gold["prob"])
        for thr in (v - 0.02, v + 0.02):
            assert answer_witness(p, stated, ans, threshold=thr, rng=random.Random(0)) is None
