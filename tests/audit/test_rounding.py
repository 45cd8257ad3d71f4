"""Categories that mean what they say (issue 13, part 4): a gold computed from unrounded internals is
"agree under rounding" (not a disagreement), the perfect reader's score is reported under strict and
CauGym scoring, and a parse failure or solver gap is never a label error.

Oracles independent of the auditor: the generator's SCM gives the exact, unrounded answer (the gold
such a set would carry); the exact reach of rounding is checked by enumerating every corner of the
box of unrounded values behind the stated numbers.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from whygym.benchmarks.audit import STRICT_TOL, _rounding_reach, _value, audit_item, audit_items, problem_from_item
from whygym.items import Item, write_jsonl
from whygym.tasks import DEFAULT_TASKS, GenConfig
from whygym.tasks.core import SCMLookup, fmt4, parse_term_key
from whygym.tasks.generate import generate_item, sample_item
from whygym.tasks.spec import get_task

CFG = GenConfig(nodes=(3, 9), no_path_rate=0.0)


def exact_gold_item(task: str, index: int, cfg: GenConfig = CFG) -> tuple[Item, float]:
    """The item with the gold its SCM gives exactly (rounded to 4 decimals, as a set computed from
    unrounded internals would state it), and the stated numbers' derivation (a perfect reader's)."""
    it, scm, p = sample_item(task, 11, index, cfg)
    kw = {"round_do": False} if task in ("PN", "PS") else {}
    exact = get_task(task).derive(p, SCMLookup(scm, p.ids, 12), decimals=12, **kw).value
    return dataclasses.replace(it, gold={**it.gold, "prob": round(exact, 4)}), it.gold["prob"]


def test_gold_from_unrounded_internals_is_agree_under_rounding():
    n = {"agree": 0, "rounding": 0, "strict fails": 0, "caugym fails": 0}
    for task in DEFAULT_TASKS:
        for i in range(40):
            item, reader_value = exact_gold_item(task, i)
            r = audit_item(item)
            assert (r.status, r.category) in (("agree", None), ("agree under rounding", "rounding")), (task, i, r.note)
            n["agree" if r.status == "agree" else "rounding"] += 1
            # the reader's score, computed here from the generator's gold (the stated numbers' answer)
            pred, gold = float(fmt4(reader_value)), item.gold["prob"]
            strict, caugym = abs(pred - gold) <= STRICT_TOL, abs(pred - gold) < 5e-4
            assert r.reader["strict"] == strict and r.reader["caugym"] == caugym, (task, i, pred, gold)
            n["strict fails"] += not strict
            n["caugym fails"] += not caugym
    # both outcomes occur, so the test can tell them apart
    assert n["agree"] > 100 and n["rounding"] > 50 and n["strict fails"] == n["rounding"], n


def test_cli_reports_the_perfect_readers_failures(tmp_path, capsys):
    from whygym.cli import main
    items = [exact_gold_item(t, i)[0] for t in ("ATE", "PN") for i in range(30)]
    write_jsonl(items, tmp_path / "unrounded.jsonl")
    res = audit_items(items)
    strict = sum(not r.reader["strict"] for r in res)
    caugym = sum(not r.reader["caugym"] for r in res)
    assert main(["audit", str(tmp_path / "unrounded.jsonl"), "--show", "0"]) == 0
    out = capsys.readouterr().out
    assert f"agree under rounding: {strict}" in out
    assert f"fails {strict} of {len(items)} items under strict scoring (5e-5), {caugym} under CauGym's 5e-4" in out


def _corners_reach(p, given, decimals=4):
    """The exact largest move of the derivation over the corners of the rounding box (independent of the
    auditor's first-order sum; exact for multilinear formulas)."""
    half = 0.5 * 10.0 ** -decimals
    base = _value(p, given, decimals, round_do=False)
    keys = list(given)
    best = 0.0
    for signs in itertools.product((-half, half), repeat=len(keys)):
        v = _value(p, {k: given[k] + s for k, s in zip(keys, signs)}, decimals, round_do=False)
        best = max(best, abs(v - base))
    return base, best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task=st.sampled_from(DEFAULT_TASKS), index=st.integers(0, 5000), u=st.floats(-1.0, 1.0))
def test_rounding_reach_property(task, index, u):
    """The auditor's reach covers every corner of the box (so no gold that unrounded values can give is
    called a disagreement) and is not wider than it (so the category does not swallow real errors)."""
    it = generate_item(task, 3, index, GenConfig(nodes=(3, 5), no_path_rate=0.0, max_given=9))
    p = problem_from_item(it)
    base, reach = _rounding_reach(p, it.given, 4)
    cbase, corners = _corners_reach(p, it.given)
    assert base == cbase
    assert corners <= reach + 1e-12
    assert reach <= corners * 1.05 + 2e-6
    # a gold anywhere within the reach (plus its own rounding) is agree under rounding ...
    off = u * (reach + STRICT_TOL * 0.999)
    r = audit_item(dataclasses.replace(it, gold={**it.gold, "prob": base + off}))
    assert (r.status, r.category) in (("agree", None), ("agree under rounding", "rounding")), r.note
    # ... and one beyond it is not (a solver gap: whygym cannot say why the gold differs)
    beyond = (reach + STRICT_TOL) * (1.2 if u >= 0 else -1.2) + (1e-5 if u >= 0 else -1e-5)
    r = audit_item(dataclasses.replace(it, gold={**it.gold, "prob": base + beyond}))
    assert r.category == "solver gap", (reach, r.note)


def test_parse_failure_is_never_a_label_error():
    it = next(generate_item("ATE", 1, i, GenConfig(no_path_rate=1.0)) for i in range(1))
    assert it.gold["prob"] == 0 and not it.given  # a structural zero: the graph alone decides
    wrong = dataclasses.replace(it, gold={"prob": 0.25, "label": "yes"})
    # the graph was read and only a value word was not: the nonzero gold is a label error ...
    words = dataclasses.replace(wrong, meta={**it.meta, "parse_error": "cannot read 'zzz' (value of A) as 0/1",
                                             "parse": {"only_value_word_problems": True}})
    assert audit_item(words).category == "label error"
    # ... but when anything else was unreadable the graph itself may be misread: a parse failure
    other = dataclasses.replace(wrong, meta={**it.meta, "parse_error": "the prose graph (given_info) and "
                                             "Background.graph disagree", "parse": {"only_value_word_problems": False}})
    r = audit_item(other)
    assert r.category == "parse failure" and r.status == "disagree"
    unparsed = dataclasses.replace(it, graph={}, query={}, given={}, prompt="Input Info: 0.5 and 0.25",
                                   meta={**it.meta, "parse_error": "prose"})
    assert audit_item(unparsed).category == "parse failure"


def test_value_word_guessed_against_the_math_is_a_parse_failure():
    it = generate_item("ATE", 2, 0, CFG)
    wrong = dataclasses.replace(it, gold={**it.gold, "prob": it.gold["prob"] + 0.2},
                                meta={**it.meta, "parse": {"guessed": [[it.query["outcome"], "zzz", 0]]}})
    r = audit_item(wrong)
    assert r.category == "parse failure" and "guess" in r.note
    assert audit_item(dataclasses.replace(wrong, meta=it.meta)).category == "solver gap"


def test_cladder_term_not_stated_is_a_solver_gap_not_a_label_error():
    """whygym's derivations need a term the item does not state: without a witness that the numbers
    leave the answer open this proves nothing about the gold (front-door items are determined)."""
    it = generate_item("ATE", 4, 0, CFG)
    ids = it.graph["nodes"]
    keys = list(it.given)
    cut = {}
    for k in keys:  # drop one number whose complement is not stated either
        t = parse_term_key(k, ids)
        comp = t.complement()
        if comp is None or not any(parse_term_key(o, ids).key == comp.key for o in keys if o != k):
            cut = {o: v for o, v in it.given.items() if o != k}
            break
    assert cut
    cl = dataclasses.replace(it, given=cut, gold={"label": "yes"},
                             meta={"benchmark": "cladder", "query_type": "ate", "polarity": True})
    r = audit_item(cl)
    assert r.status == "disagree" and r.category == "solver gap", r
