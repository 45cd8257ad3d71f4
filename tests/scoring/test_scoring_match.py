"""Match modes: golden verdicts and the three modes disagreeing on crafted cases."""

import json
from pathlib import Path

import pytest

from whygym.items import Item
from whygym.scoring import MODES, extract, normalize_gold, prob_matches, score

G = {"prob": 0.38470000000000004, "label": "yes"}


def outcomes(text, gold, task=None):
    return {m: score(text, gold, mode=m).outcome for m in MODES}


def test_basic_correct_all_modes():
    assert outcomes('{"ANSWER": "Yes", "PROB": "0.3847"}', G) == dict.fromkeys(MODES, "correct")


def test_label_reported_separately():
    o = score('{"ANSWER": "No", "PROB": "0.3847"}', G)
    assert o.outcome == "correct" and o.label_correct is False
    o = score('{"ANSWER": "Yes", "PROB": "0.3"}', G)
    assert o.outcome == "wrong" and o.label_correct is True
    assert o.error == pytest.approx(0.3 - G["prob"])
    # PROB missing: outcome unparsed (the scored field is absent) but the label is still judged
    o = score('{"ANSWER": "Yes"}', G)
    assert o.outcome == "unparsed" and o.label_correct is True
    assert score("nothing", G).label_correct is False
    assert score('{"PROB": "0.3"}', {"prob": 0.3}).label_correct is None
    assert score("yes", {"label": "yes"}).label_correct is None


def test_right_answer_only_inside_think():
    text = '<think>So PROB is {"ANSWER": "Yes", "PROB": "0.3847"}. Hmm, let me redo.</think> {"ANSWER": "No", "PROB": "-0.1"}'
    assert outcomes(text, G) == {"strict": "wrong", "caugym": "correct", "calm": "wrong"}
    o = score(text, G, mode="caugym")
    assert o.pred.in_think and o.pred.prob == 0.3847


def test_right_answer_inside_think_nothing_after():
    text = '<think>{"ANSWER": "Yes", "PROB": "0.3847"}</think>'
    assert outcomes(text, G) == {"strict": "unparsed", "caugym": "correct", "calm": "unparsed"}


def test_unclosed_think():
    text = '<think> computing... {"ANSWER": "Yes", "PROB": "0.3847"}'
    assert outcomes(text, G) == {"strict": "unparsed", "caugym": "correct", "calm": "unparsed"}


def test_any_candidate_counts_for_caugym():
    text = 'Either {"PROB": "0.3847"} or {"PROB": "0.9"}; I pick {"PROB": "0.9"}'
    assert outcomes(text, G) == {"strict": "wrong", "caugym": "correct", "calm": "wrong"}


def test_caugym_tolerance_is_3dp():
    # 0.3850 is 3e-4 away: within CauGym's 5e-4, outside strict's 5e-5 and CaLM's rounding
    assert outcomes('{"PROB": "0.3850"}', G) == {"strict": "wrong", "caugym": "correct", "calm": "wrong"}
    assert outcomes('{"PROB": "0.3853"}', G)["caugym"] == "wrong"  # 6e-4


def test_rounding_edge_calm_vs_strict():
    g = {"prob": 0.12344}
    # 0.12346 is 2e-5 from gold: strict (and caugym) accept; CaLM rounds to 0.1235 != 0.1234
    assert outcomes('{"PROB": "0.12346"}', g) == {"strict": "correct", "caugym": "correct", "calm": "wrong"}
    # the correctly rounded 4-dp answer passes all three
    assert outcomes('{"PROB": "0.1234"}', g) == dict.fromkeys(MODES, "correct")


def test_rounding_edge_strict_vs_calm_other_way():
    # gold 0.12349 rounds to 0.1235; pred 0.12351 also rounds to 0.1235 (CaLM correct) and is
    # 2e-5 away (strict correct); pred 0.1235499 rounds to 0.1235 (CaLM correct) but is 6e-5 away
    g = {"prob": 0.12349}
    assert outcomes('{"PROB": "0.1235499"}', g) == {"strict": "wrong", "caugym": "correct", "calm": "correct"}


def test_tie_both_roundings_strict():
    g = {"prob": 0.38475}  # an exact tie in decimal; either 4-dp rounding is a correct answer
    assert score('{"PROB": "0.3847"}', g).outcome == "correct"
    assert score('{"PROB": "0.3848"}', g).outcome == "correct"
    assert score('{"PROB": "0.3846"}', g).outcome == "wrong"


def test_strict_threshold():
    assert prob_matches(0.1, 0.1 + 5e-5)
    assert prob_matches(0.1, 0.1 - 5e-5)
    assert not prob_matches(0.1, 0.1 + 5.01e-5)
    assert not prob_matches(float("nan"), 0.1)


def test_negative_and_sign():
    g = {"prob": -0.0843, "label": "no"}
    assert score('{"ANSWER": "No", "PROB": "-0.0843"}', g).outcome == "correct"
    assert score('{"ANSWER": "No", "PROB": "0.0843"}', g).outcome == "wrong"
    assert score('{"ANSWER": "No", "PROB": "-8.43%"}', g).outcome == "correct"


def test_lack_condition_gold():
    g = {"label": "LACK_CONDITION"}
    assert outcomes("Not enough information: LACK_CONDITION", g) == dict.fromkeys(MODES, "correct")
    assert outcomes('{"ANSWER": "LACK_CONDITION"}', g) == dict.fromkeys(MODES, "correct")
    # mentioned inside think only, real answer is a number
    text = '<think>maybe LACK_CONDITION? no, it is fine.</think> {"ANSWER": "Yes", "PROB": "0.2"}'
    assert outcomes(text, g) == {"strict": "wrong", "caugym": "correct", "calm": "wrong"}
    assert outcomes("no idea", g) == dict.fromkeys(MODES, "unparsed")
    assert score('{"PROB": "0.2"}', g).outcome == "wrong"


def test_lack_answer_to_numeric_gold_is_wrong():
    assert outcomes("LACK_CONDITION", G) == dict.fromkeys(MODES, "wrong")


def test_label_gold():
    assert score("The answer is YES.", {"label": "yes"}).outcome == "correct"
    assert score('{"ANSWER": "no"}', {"label": "Yes"}).outcome == "wrong"
    assert score('{"PROB": "0.3"}', {"label": "yes"}).outcome == "unparsed"
    assert score('{"ANSWER": "B"}', {"label": "b"}).outcome == "correct"
    assert score("Answer: 2", {"label": "2"}).outcome == "correct"
    assert score("Answer: yes", {"label": "yes"}, mode="caugym").outcome == "correct"


def test_gold_forms():
    assert normalize_gold('{"prob": 0.5}') == {"prob": 0.5}
    assert normalize_gold("LACK_CONDITION") == {"label": "LACK_CONDITION"}
    assert normalize_gold(0.25) == {"prob": 0.25}
    assert normalize_gold("-0.08429999999999993") == {"prob": -0.08429999999999993}
    it = Item(id="x", task="ATE", rung=2, prompt="", answer="", gold={"prob": -0.0843, "label": "no"})
    assert score('{"ANSWER": "No", "PROB": "-0.0843"}', it).correct
    for bad in ({}, {"prob": "x"}, None, "", [1], {"label": ""}):
        with pytest.raises(ValueError):
            normalize_gold(bad)
    with pytest.raises(ValueError):
        score("x", {"prob": 0.1}, mode="lenient")


def test_score_accepts_extraction():
    ex = extract('{"PROB": "0.3847"}')
    assert score(ex, G).correct


def test_outcome_to_dict_is_json():
    d = score('<think>x</think>{"ANSWER": "Yes", "PROB": "0.3847"}', G).to_dict()
    assert json.loads(json.dumps(d))["outcome"] == "correct" and d["pred_in_think"] is False


DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "caugym" / "base_dataset.json"


@pytest.mark.skipif(not DATA.exists(), reason="CauGym reference data not present")
def test_caugym_reference_answers_score_correct():
    items = json.loads(DATA.read_text())
    n = 0
    for it in items:
        ans = json.loads(it["answer"])
        gold = {"prob": float(ans["PROB"])}
        if "ANSWER" in ans:
            gold["label"] = ans["ANSWER"]
        for m in MODES:
            o = score(it["answer"], gold, mode=m)
            assert o.outcome == "correct", (it["answer"], m)
        if "ANSWER" in ans:
            assert score(it["answer"], gold).label_correct
        # the prompt's example answer is never mistaken for the model's: score the completion only
        n += 1
    assert n == len(items) == 700


def test_score_all():
    from whygym.scoring import score_all
    outs = score_all(['{"PROB": "0.5"}', "LACK_CONDITION"], [{"prob": 0.5}, "LACK_CONDITION"], "calm")
    assert [o.outcome for o in outs] == ["correct", "correct"] and outs[0].mode == "calm"
    with pytest.raises(ValueError):
        score_all(["a"], [])


def test_generated_items_canonical_answers_are_correct():
    try:
        from whygym.tasks.generate import generate
    except ImportError:
        pytest.skip("task generator not available")
    from whygym.scoring import closeness_score, format_score
    for it in generate(n=2, seed=3):
        for m in MODES:
            assert score(it.answer, it.gold, mode=m).outcome == "correct", (it.task, it.answer, it.gold)
        assert score(it.answer, it.gold).label_correct in (None, True)
        assert format_score(it.answer, it.task) == 1.0
        assert closeness_score(it.answer, it.gold, it.task) == 1.0
