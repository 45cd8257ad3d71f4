"""Golden cases for answer extraction, one per format."""

import math

import pytest

from whygym.scoring import LACK_CONDITION, completion_text, extract, normalize_label, parse_number

# (text, expected final (label, prob) or None, number of answers)
GOLDEN = [
    ("caugym", '{"ANSWER": "Yes", "PROB": "0.3847"}', ("yes", 0.3847), 1),
    ("prob-only", 'Step 3: ... So {"PROB": "0.239"}', (None, 0.239), 1),
    ("prob-number", '{"PROB": 1}', (None, 1.0), 1),
    ("single-quoted", "{'ANSWER': 'No', 'PROB': '-0.0843'}", ("no", -0.0843), 1),
    ("python-dict", "{'ANSWER': 'No', 'PROB': -0.0843}", ("no", -0.0843), 1),
    ("unquoted-keys", "{ANSWER: Yes, PROB: 0.12,}", ("yes", 0.12), 1),
    ("lowercase-keys", '{"answer": "yes", "prob": "0.5"}', ("yes", 0.5), 1),
    ("trailing-comma", '{"ANSWER": "Yes", "PROB": "0.3847",}', ("yes", 0.3847), 1),
    ("percentage", '{"ANSWER": "Yes", "PROB": "12.5%"}', ("yes", 0.125), 1),
    ("negative", '{"ANSWER": "No", "PROB": "-0.0050"}', ("no", -0.005), 1),
    ("unicode-minus", '{"ANSWER": "No", "PROB": "\u22120.2"}', ("no", -0.2), 1),
    ("leading-dot", '{"PROB": ".75"}', (None, 0.75), 1),
    ("escaped-json", '{\\"ANSWER\\": \\"Yes\\", \\"PROB\\": \\"0.3\\"}', ("yes", 0.3), 1),
    ("code-fence", 'Result:\n```json\n{\n  "ANSWER": "No",\n  "PROB": "-0.1234"\n}\n```\n', ("no", -0.1234), 1),
    ("nested", '{"result": {"ANSWER": "Yes", "PROB": "0.2"}}', ("yes", 0.2), 1),
    ("braces-in-value", '{"Reason": "ETT = E[Y_{A=1} - Y_{A=0} | A=0]", "ANSWER": "No", "PROB": "-0.1"}',
     ("no", -0.1), 1),
    ("truncated-json", 'so {"ANSWER": "Yes", "PROB": "0.3"', ("yes", 0.3), 1),
    ("two-answers-last-wins", '{"PROB": "0.1"} then corrected: {"PROB": "0.2"}', (None, 0.2), 2),
    ("text-yes", "Therefore, the answer is Yes.", ("yes", None), 1),
    ("text-no", "Answer: no", ("no", None), 1),
    ("text-bold", "Final answer: **No**", ("no", None), 1),
    ("text-bare", "  Yes.  ", ("yes", None), 1),
    ("text-number", "The final answer is 0.3847.", ("0.3847", 0.3847), 1),
    ("text-kv", "ANSWER: Yes\nPROB: 0.25", ("yes", 0.25), 1),
    ("think-wrong-then-right", '<think>maybe {"ANSWER": "No", "PROB": "-0.1"}</think>{"ANSWER": "Yes", "PROB": "0.3847"}',
     ("yes", 0.3847), 2),
    ("unclosed-think", '{"PROB": "0.1"} <think>so {"ANSWER": "Yes", "PROB": "0.3847"} and', None, 2),
    ("stray-close-think", 'I compute {"PROB": "0.9"} </think> {"PROB": "0.3847"}', (None, 0.3847), 2),
    ("lack-bare", "The data do not identify the effect. LACK_CONDITION", (LACK_CONDITION, None), 1),
    ("lack-json", '{"ANSWER": "LACK_CONDITION"}', (LACK_CONDITION, None), 1),
    ("lack-in-prob", '{"PROB": "lack_condition"}', (LACK_CONDITION, None), 1),
    ("lack-markdown-escape", "Final: LACK\\_CONDITION", (LACK_CONDITION, None), 1),
    ("lack-then-json", 'Not LACK_CONDITION since all is given. {"PROB": "0.5"}', (None, 0.5), 2),
    ("nothing", "I am not sure how to compute this.", None, 0),
    ("empty", "", None, 0),
    ("json-without-keys", '{"result": 0.5}', None, 0),
]


@pytest.mark.parametrize("name,text,final,count", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden(name, text, final, count):
    ex = extract(text)
    assert len(ex.answers) == count, ex.answers
    if final is None:
        assert ex.final is None
    else:
        assert ex.final is not None
        label, prob = final
        assert ex.final.label == label
        if prob is None:
            assert ex.final.prob is None
        else:
            assert ex.final.prob == pytest.approx(prob, abs=1e-12)
        assert not ex.final.in_think


def test_think_flags_and_order():
    ex = extract('<think>{"PROB": "0.1"}</think> x <THINK>{"PROB": "0.2"}</THINK> {"PROB": "0.3"}')
    assert [a.prob for a in ex.answers] == [0.1, 0.2, 0.3]
    assert [a.in_think for a in ex.answers] == [True, True, False]
    assert len(ex.think_spans) == 2 and not ex.unclosed_think
    assert ex.final.prob == 0.3


def test_unclosed_think_has_no_final_even_with_answers_before():
    ex = extract('{"PROB": "0.3"}<think>')
    assert ex.unclosed_think and ex.final is None
    assert [a.in_think for a in ex.answers] == [False]


def test_only_think_answers_no_final():
    ex = extract('<think>{"ANSWER": "Yes", "PROB": "0.3847"}</think>')
    assert ex.final is None and len(ex.answers) == 1 and ex.answers[0].in_think


def test_text_answers_ignored_when_json_present():
    ex = extract('The answer is no. {"ANSWER": "Yes", "PROB": "0.2"}')
    assert [a.kind for a in ex.answers] == ["json"]


def test_text_answer_after_think_json():
    ex = extract('<think>{"ANSWER": "No"}</think> The answer is yes')
    assert ex.final.label == "yes" and ex.final.kind == "text"


def test_json_valid_flag():
    assert extract('{"ANSWER": "Yes", "PROB": "0.2"}').final.json_valid
    assert not extract("{'ANSWER': 'Yes', 'PROB': '0.2'}").final.json_valid
    assert not extract('{"ANSWER": "Yes", "PROB": "0.2",}').final.json_valid


def test_unreadable_prob_kept_as_text():
    a = extract('{"ANSWER": "Yes", "PROB": "about a third"}').final
    assert a.prob is None and a.prob_text == "about a third" and a.label == "yes"


@pytest.mark.parametrize("s,x", [("0.3847", 0.3847), ("-0.0843", -0.0843), ("+0.5", 0.5), ("12.5%", 0.125),
                                 ("12.5 %", 0.125), ("-3%", -0.03), ("1e-3", 0.001), ("3/8", 0.375),
                                 ("'0.25'", 0.25), ("~0.25", 0.25), ("0.25.", 0.25), (0.5, 0.5), (1, 1.0)])
def test_parse_number(s, x):
    assert parse_number(s) == pytest.approx(x, abs=1e-15)


@pytest.mark.parametrize("s", ["yes", "", "nan", "inf", "1e999", "1/0", "0.1.2", "--1", None, True, float("nan"),
                               "0,25", [0.1]])
def test_parse_number_rejects(s):
    assert parse_number(s) is None


def test_normalize_label():
    assert normalize_label("YES") == "yes"
    assert normalize_label('"No."') == "no"
    assert normalize_label("Lack_Condition") == LACK_CONDITION
    assert normalize_label("B") == "B"
    assert normalize_label("  ") is None


def test_conversational_and_odd_inputs():
    conv = [{"role": "user", "content": "q"}, {"role": "assistant", "content": '{"PROB": "0.5"}'}]
    assert extract(conv).final.prob == 0.5
    parts = [{"role": "assistant", "content": [{"type": "text", "text": '{"PROB": "0.25"}'}]}]
    assert extract(parts).final.prob == 0.25
    assert completion_text(b'{"PROB": 1}') == '{"PROB": 1}'
    for odd in (None, 3, 2.5, [], {}, [None], object()):
        ex = extract(odd)
        assert ex.final is None or math.isfinite(ex.final.prob or 0.0)


RULE = 'If the condition is not enough to solve the question, output "LACK_CONDITION" as final answer.'


def test_an_echo_of_the_prompts_rule_is_not_an_answer():
    from whygym.scoring import score

    assert extract(RULE).final is None
    assert extract("Let's think step by step. " + RULE).answers == ()
    # what the default model wrote on CauGym insufficient items: the rule repeated after a yes
    ex = extract("The answer is yes. " + RULE + "  The calculation")
    assert ex.final.label == "yes" and not ex.final.is_lack
    assert score("The answer is yes. " + RULE, {"label": "LACK_CONDITION"}).outcome == "wrong"
    # quoting styles and line-broken echoes
    assert extract("if the data are short, output LACK_CONDITION").final is None
    assert extract("If so, output “LACK_CONDITION” as final answer").final is None
    # a real LACK_CONDITION answer, also right after an echo, still counts
    for text in ('The condition is not enough to solve the question, so the answer is "LACK_CONDITION".',
                 "LACK_CONDITION", RULE + "\nLACK_CONDITION", '{"ANSWER": "LACK_CONDITION"}',
                 "Yes, the condition is not enough. The answer is LACK_CONDITION.",
                 "If X were high we would know more. Output: LACK_CONDITION"):
        assert extract(text).final.is_lack, text
    # "if" in an earlier sentence does not make a later LACK_CONDITION an echo
    assert extract("If only we knew P(Z). We do not, so I output LACK_CONDITION").final.is_lack
    assert extract("We do not know P(Z). So I output LACK_CONDITION").final.is_lack


def test_documented_limits():
    # a LACK_CONDITION mentioned in passing is an answer when nothing follows it
    assert extract("The data suffice, so I will not output LACK_CONDITION.").final.is_lack
    # a reply starting "Yes, ..." without an "answer is" phrase is not read
    assert extract("Yes, it does increase the chance.").final is None
    # "answer" without ":"/"=" or a verb is not an answer
    assert extract("I cannot answer no matter what.").final is None
    # comma decimals are not read as PROB
    assert extract('{"PROB": "0,25"}').final.prob is None


@pytest.mark.parametrize("text,label,prob", [
    ('{"ANSWER": "是", "PROB": "0.1234"}', "yes", 0.1234),
    ('{"ANSWER"："否"，"PROB"："-0.0843"}', "no", -0.0843),
    ("所以答案：是", "yes", None),
    ("答案为否。", "no", None),
    ("答案是：0.25", "0.25", 0.25),
])
def test_chinese_answers(text, label, prob):
    f = extract(text).final
    assert f is not None and f.label == label
    assert f.prob == (pytest.approx(prob) if prob is not None else None)


def test_chinese_not_misread():
    assert extract("答案是否定的").final is None
    assert normalize_label("否") == "no" and normalize_label("是。") == "yes"


@pytest.mark.parametrize("text,label,prob", [
    ("so the result is $\\boxed{0.3847}$", "0.3847", 0.3847),
    ("\\boxed{\\text{Yes}}", "yes", None),
    ("\\boxed{-8.43\\%}", "-8.43\\%", -0.0843),
    ("The answer is $-0.0843$.", "-0.0843", -0.0843),
])
def test_latex_answers(text, label, prob):
    f = extract(text).final
    assert f is not None and f.label == label
    assert f.prob == (pytest.approx(prob) if prob is not None else None)
