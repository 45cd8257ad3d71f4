"""Hypothesis fuzzing: extraction, scoring and rewards never raise and stay in range."""

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whygym.scoring import (MODES, OUTCOMES, accuracy_reward, closeness_reward, combined_reward, extract,
                            format_reward, make_closeness_reward, score)

digits_reward = make_closeness_reward(kind="digits")

FRAGMENTS = ['{', '}', '{"ANSWER": ', '"PROB": ', "'PROB': ", 'ANSWER', 'PROB', 'prob', ':', '=', ',', '"', "'",
             '\\"', 'Yes', 'No', 'yes', '0.3847', '-0.0843', '12.5%', '.5', '1e999', 'nan', '-', '%', '3/0',
             '<think>', '</think>', '<THINK>', 'LACK_CONDITION', 'LACK\\_CONDITION', '```json\n', '```', '\n',
             ' ', 'the answer is ', 'Answer: ', 'Final answer: **', '**', '.', '\u2212', '\u201c', '[', ']',
             '{"ANSWER": "Yes", "PROB": "0.3847"}', "{'PROB': 0.25,}"]
jsonish = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=40).map("".join)
texts = st.one_of(st.text(max_size=300), jsonish)
conversational = texts.map(lambda t: [{"role": "assistant", "content": t}])
completions = st.one_of(texts, conversational)

finite = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False, allow_infinity=False)
golds = st.one_of(
    st.builds(lambda p, lab: {"prob": p, "label": lab}, finite, st.sampled_from(["yes", "no"])),
    st.builds(lambda p: {"prob": p}, finite),
    st.sampled_from([{"label": "yes"}, {"label": "No"}, {"label": "LACK_CONDITION"}, {"label": "2"}]),
    st.builds(lambda p: json.dumps({"prob": p}), finite),
)
tasks = st.sampled_from(["ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS", "backadj", None])

FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.one_of(texts, conversational, st.none(), st.integers(), st.binary(max_size=50)))
def test_extract_never_raises(text):
    ex = extract(text)
    starts = [a.start for a in ex.answers]
    assert starts == sorted(starts)
    if ex.final is not None:
        assert not ex.final.in_think
        assert ex.final.prob is None or math.isfinite(ex.final.prob)
    if ex.unclosed_think:
        assert ex.final is None


@FAST
@given(completions, golds, tasks)
def test_score_outcomes_and_mode_relations(text, gold, task):
    res = {m: score(text, gold, mode=m) for m in MODES}
    for o in res.values():
        assert o.outcome in OUTCOMES
        assert o.label_correct in (None, True, False)
    # strict-correct implies caugym-correct (caugym is laxer on every axis)
    if res["strict"].outcome == "correct":
        assert res["caugym"].outcome == "correct"
    # strict and calm read the same final answer, so they agree on whether it parsed
    assert (res["strict"].outcome == "unparsed") == (res["calm"].outcome == "unparsed")


@FAST
@given(st.lists(st.tuples(completions, golds, tasks), min_size=1, max_size=6),
       st.dictionaries(st.sampled_from(["format", "accuracy", "closeness"]),
                       st.floats(min_value=0.01, max_value=10), min_size=1))
def test_rewards_in_unit_interval(rows, weights):
    comps = [r[0] for r in rows]
    cols = {"gold": [r[1] for r in rows], "task": [r[2] for r in rows]}
    fr = format_reward(comps, **cols)
    ar = accuracy_reward(comps, **cols)
    cr = closeness_reward(comps, **cols)
    dr = digits_reward(comps, **cols)
    br = combined_reward(weights)(comps, **cols)
    for rs in (fr, ar, cr, dr, br):
        assert len(rs) == len(rows)
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in rs), rs
    # graded reward is exact only when the strict scorer says correct
    assert [c == 1.0 for c in cr] == [a == 1.0 for a in ar] == [d == 1.0 for d in dr]


@FAST
@given(finite, st.sampled_from(["ATE", "PN", None]), st.booleans())
def test_canonical_answer_round_trip(p, task, as_percent):
    val = f"{p * 100:.2f}%" if as_percent else f"{p:.4f}"
    text = json.dumps({"ANSWER": "Yes" if p > 0 else "No", "PROB": val})
    gold = {"prob": p, "label": "yes" if p > 0 else "no"}
    o = score(text, gold)
    assert o.outcome == "correct" and o.label_correct
    assert accuracy_reward([text], gold=[gold], task=[task]) == [1.0]
    assert closeness_reward([text], gold=[gold], task=[task]) == [1.0]


@FAST
@given(finite, st.floats(min_value=-3e-4, max_value=3e-4), st.sampled_from(["ATE", "PS"]),
       st.sampled_from(["{:.4f}", "{:.5f}", "{!r}"]))
def test_graded_rewards_near_the_boundary(g, delta, task, fmt):
    p = g + delta
    text = json.dumps({"PROB": fmt.format(p)})
    cols = {"gold": [{"prob": g}], "task": [task]}
    [a] = accuracy_reward([text], **cols)
    [c] = closeness_reward([text], **cols)
    [d] = digits_reward([text], **cols)
    assert (a == 1.0) == (c == 1.0) == (d == 1.0)
    assert a == (1.0 if abs(float(fmt.format(p)) - g) <= 5e-5 + 1e-9 else 0.0)
