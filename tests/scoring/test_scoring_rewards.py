"""Rewards: shapes, partial credit, consistency with the scorer, TRL calling convention."""

import json
import math

import pytest

from whygym.scoring import (DEFAULT_WEIGHTS, accuracy_reward, closeness_reward, closeness_score, combined_reward,
                            format_reward, format_score, make_closeness_reward, score)

ETT = {"prob": 0.3847, "label": "yes"}


@pytest.mark.parametrize("text,task,expected", [
    ('{"ANSWER": "Yes", "PROB": "0.3847"}', "ETT", 1.0),
    ('```json\n{"ANSWER": "No", "PROB": "-0.1"}\n```', "ATE", 1.0),
    ('{"PROB": "0.2"}', "PN", 1.0),
    ('{"PROB": "1.2"}', "PN", 0.75),          # strict JSON, value outside [0, 1]
    ('{"PROB": "0.2"}', "ATE", 0.75),         # strict JSON, missing ANSWER
    ("{'ANSWER': 'Yes', 'PROB': 0.2}", "ATE", 0.75),  # right shape, not strict JSON
    ("{'PROB': 0.2,}", "PS", 0.75),
    ("{ANSWER: maybe, PROB: x}", "ATE", 0.5),  # lenient, wrong shape
    ("The answer is yes", "NDE", 0.5),
    ("The answer is yes", None, 0.75),          # unknown task: any answer is the right shape
    ("LACK_CONDITION", "PN", 1.0),
    ("<think>{\"PROB\": \"0.2\"}", "PN", 0.0),  # unclosed think
    ("<think>{\"PROB\": \"0.2\"}</think>", "PN", 0.0),  # answer only inside think
    ("no idea", "PN", 0.0),
])
def test_format_partial_credit(text, task, expected):
    assert format_score(text, task) == expected
    assert format_reward([text], task=[task]) == [expected]


def test_accuracy_reward_is_the_strict_scorer():
    texts = ['{"ANSWER": "Yes", "PROB": "0.3847"}', '{"PROB": "0.38474"}', '{"PROB": "0.3849"}',
             '<think>{"PROB": "0.3847"}</think>', "LACK_CONDITION", "", '{"PROB": "38.47%"}']
    r = accuracy_reward(texts, gold=[ETT] * len(texts), task=["ETT"] * len(texts))
    assert r == [1.0 if score(t, ETT, mode="strict").correct else 0.0 for t in texts]
    assert r == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]


def test_closeness_is_one_iff_strict_correct():
    gold = {"prob": -0.0843, "label": "no"}
    for p in [-0.0843, -0.08434, -0.08425, -0.0842, -0.0844, -0.09, 0.0843, 0.5, -1.0, 0.0]:
        t = json.dumps({"ANSWER": "No", "PROB": f"{p}"})
        c = closeness_score(t, gold, "ATE")
        assert (c == 1.0) == score(t, gold).correct, (p, c)
        assert 0.0 <= c <= 1.0


def test_closeness_monotone_and_direction():
    gold = {"prob": 0.25, "label": "yes"}
    errs = [0.0001, 0.001, 0.01, 0.05, 0.1, 0.2]
    vals = [closeness_score(f'{{"PROB": "{0.25 + e}"}}', gold, "ATE") for e in errs]
    assert all(a > b for a, b in zip(vals, vals[1:]))
    # same |error|, right vs wrong sign: direction credit 0.2
    right = closeness_score('{"PROB": "0.05"}', {"prob": 0.25}, "ATE")
    wrong = closeness_score('{"PROB": "0.45"}', {"prob": 0.25}, "ATE")
    assert right == pytest.approx(0.2 + 0.8 * math.exp(-0.2 / 0.02))
    assert wrong == pytest.approx(right)  # both positive: same sign
    neg = closeness_score('{"PROB": "-0.15"}', {"prob": 0.25}, "ATE")
    assert neg == pytest.approx(0.8 * math.exp(-0.4 / 0.02))
    # label only, agreeing: direction credit only
    assert closeness_score('{"ANSWER": "Yes"}', gold, "ATE") == pytest.approx(0.2)
    assert closeness_score('{"ANSWER": "No"}', gold, "ATE") == 0.0
    # bound tasks: in-range credit instead of sign
    assert closeness_score('{"PROB": "0.5"}', {"prob": 0.25}, "PN") == pytest.approx(0.2 + 0.8 * math.exp(-12.5))
    assert closeness_score('{"PROB": "1.5"}', {"prob": 1.0}, "PN") == pytest.approx(0.8 * math.exp(-25))
    # LACK_CONDITION and unparsed
    assert closeness_score("LACK_CONDITION", gold, "ATE") == 0.0
    assert closeness_score("???", gold, "ATE") == 0.0
    # label-only golds: all or nothing
    assert closeness_score("LACK_CONDITION", {"label": "LACK_CONDITION"}) == 1.0
    assert closeness_score("answer: no", {"label": "yes"}) == 0.0


def test_closeness_factory_parameters():
    r = make_closeness_reward(scale=0.1, direction_weight=0.5)
    [v] = r(['{"PROB": "0.35"}'], gold=[{"prob": 0.25}], task=["ATE"])
    assert v == pytest.approx(0.5 + 0.5 * math.exp(-1))
    with pytest.raises(ValueError):
        make_closeness_reward(scale=0)
    with pytest.raises(ValueError):
        make_closeness_reward(direction_weight=1.5)


def test_trl_calling_convention_and_columns():
    comps = [[{"role": "assistant", "content": '{"ANSWER": "Yes", "PROB": "0.3847"}'}],
             [{"role": "assistant", "content": '{"ANSWER": "Yes", "PROB": "0.4"}'}]]
    cols = dict(prompts=[[{"role": "user", "content": "q"}]] * 2, completion_ids=[[1, 2], [3]],
                gold=[json.dumps(ETT)] * 2, task=["ETT", "ETT"], id=["a", "b"], trainer_state=None,
                log_extra=lambda *a, **k: None, log_metric=lambda *a, **k: None)
    assert format_reward(completions=comps, **cols) == [1.0, 1.0]
    assert accuracy_reward(completions=comps, **cols) == [1.0, 0.0]
    c = closeness_reward(completions=comps, **cols)
    assert c[0] == 1.0 and 0 < c[1] < 1
    f = combined_reward()
    assert f.__name__ == "combined_reward"
    out = f(completions=comps, **cols)
    w = DEFAULT_WEIGHTS
    assert out[0] == pytest.approx(1.0)
    assert out[1] == pytest.approx((w["format"] * 1 + w["accuracy"] * 0 + w["closeness"] * c[1]) / sum(w.values()))


def test_missing_gold_gives_none_and_combined_renormalizes():
    comps = ['{"PROB": "0.5"}', '{"PROB": "0.5"}']
    assert accuracy_reward(comps, gold=[None, {"prob": 0.5}]) == [None, 1.0]
    assert closeness_reward(comps, gold=["not json at all {", {"prob": 0.5}])[1] == 1.0
    assert accuracy_reward(comps) == [None, None]
    f = combined_reward({"format": 1.0, "accuracy": 3.0})
    assert f(comps, gold=[None, {"prob": 0.4}], task=["PN", "PN"]) == [1.0, 0.25]
    g = combined_reward({"accuracy": 1.0}, name="acc_only")
    assert g.__name__ == "acc_only" and g(comps) == [None, None]


def test_combined_validation():
    with pytest.raises(ValueError):
        combined_reward({"speed": 1.0})
    with pytest.raises(ValueError):
        combined_reward({"format": -1.0})
    with pytest.raises(ValueError):
        combined_reward({"format": 0.0})
    with pytest.raises(ValueError):
        accuracy_reward(["a", "b"], gold=[{"prob": 0.1}])


def test_scalar_columns_broadcast():
    assert accuracy_reward(["{'PROB': 0.1}", "{'PROB': 0.2}"], gold='{"prob": 0.1}', task="PN") == [1.0, 0.0]


def test_digits_kind():
    g = {"prob": 0.3847, "label": "yes"}
    r = make_closeness_reward(kind="digits")
    texts = ['{"PROB": "0.3847"}', '{"PROB": "0.3848"}', '{"PROB": "0.3911"}', '{"PROB": "0.4847"}',
             '{"PROB": "1.3847"}', '{"PROB": "-0.3847"}', '{"PROB": "0.38474"}']
    vals = r(texts, gold=[g] * len(texts), task=["ATE"] * len(texts))
    assert vals == pytest.approx([1.0, 0.2 + 0.8 * 3 / 4, 0.2 + 0.8 * 1 / 4, 0.2, 0.2, 0.8 * 3 / 4, 1.0])
    # 4 matching decimals but > 5e-5 away: capped at 3/4 so that 1.0 still means strict-correct
    g2 = {"prob": 0.38466}  # pred 0.38474 is 8e-5 away; both are "0.3847" to 4 places
    [v] = r(['{"PROB": "0.38474"}'], gold=[g2], task=["PN"])
    assert score('{"PROB": "0.38474"}', g2).outcome == "wrong"
    assert v == pytest.approx(0.2 + 0.8 * 3 / 4)
    with pytest.raises(ValueError):
        make_closeness_reward(kind="linear")
    f = combined_reward({"closeness": 1.0}, closeness_kind="digits")
    assert f(texts[:2], gold=[g] * 2, task=["ATE"] * 2) == pytest.approx([1.0, 0.8])
