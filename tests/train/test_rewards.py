"""GRPO rewards come from whygym.scoring with the configured weights; the zero-signal fraction is exact."""

import pytest

from whygym.train.rewards import ZeroSignalMonitor, build_reward, zero_signal_fraction

GOLD = '{"label": "yes", "prob": 0.3847}'
RIGHT = '{"ANSWER": "Yes", "PROB": "0.3847"}'
CLOSE = '{"ANSWER": "Yes", "PROB": "0.3900"}'
WRONG = '{"ANSWER": "No", "PROB": "-0.5000"}'
UNPARSED = "I am not sure."


def _call(fn, texts, **kw):
    chat = [[{"role": "assistant", "content": t}] for t in texts]
    return fn(chat, gold=[GOLD] * len(texts), task=["ATE"] * len(texts), **kw)


def test_golden_outputs_default_weights():
    r = _call(build_reward({"format": 0.1, "accuracy": 0.5, "closeness": 0.4}, 4), [RIGHT, CLOSE, WRONG, UNPARSED])
    assert r[0] == 1.0 and r[3] == 0.0
    assert r[2] == pytest.approx(0.1, abs=1e-3)  # a well-formed wrong answer earns its format credit only
    assert r[2] < r[1] < 1.0  # a close one earns more


@pytest.mark.parametrize("weights,expected", [
    ({"accuracy": 1.0}, [1.0, 0.0, 0.0, 0.0]),
    ({"format": 1.0}, [1.0, 1.0, 1.0, 0.0]),
])
def test_weights_select_the_rewards(weights, expected):
    assert _call(build_reward(weights, 4), [RIGHT, CLOSE, WRONG, UNPARSED]) == expected


def test_missing_gold_is_not_applicable():
    r = build_reward({"accuracy": 1.0}, 2)([RIGHT, RIGHT], gold=[None, GOLD], task=["ATE", "ATE"])
    assert r == [None, 1.0]


def test_zero_signal_fraction_on_crafted_batch():
    # 4 groups of 3: equal, equal (all zero), varied, varied-by-None-only (a single scored value)
    rewards = [0.5, 0.5, 0.5, 0.0, 0.0, 0.0, 1.0, 0.0, 0.5, None, 0.3, None]
    assert zero_signal_fraction(rewards, 3) == 0.75  # groups 1, 2 and 4 carry no signal
    assert zero_signal_fraction([1.0, 1.0 + 1e-12], 2) == 1.0
    assert zero_signal_fraction([], 2) == 0.0


def test_zero_signal_groups_by_prompt_when_interleaved():
    prompts = ["a", "b", "a", "b"]
    assert zero_signal_fraction([1.0, 0.0, 1.0, 1.0], 2, prompts=prompts) == 0.5
    assert zero_signal_fraction([1.0, 0.0, 1.0, 1.0], 2) == 0.5  # blocks [1,0] and [1,1]
    assert zero_signal_fraction([1.0, 0.0, 0.0, 0.0], 2, prompts=prompts) == 0.5


def test_monitor_logs_through_trl_log_metric():
    logged = []
    mon = build_reward({"accuracy": 1.0}, 2)
    texts = [RIGHT, WRONG, WRONG, WRONG]
    r = _call(mon, texts, prompts=["p", "p", "q", "q"], log_metric=lambda k, v: logged.append((k, v)),
              trainer_state=None, completion_ids=[[1]] * 4)
    assert r == [1.0, 0.0, 0.0, 0.0]
    assert logged == [("zero_signal_frac", 0.5)] and mon.history == [0.5]
    assert mon.__name__ == "whygym_reward"


def test_monitor_wraps_any_reward():
    mon = ZeroSignalMonitor(lambda completions, **kw: [1.0] * len(completions), 2, name="const")
    assert mon(["x", "y"]) == [1.0, 1.0] and mon.history == [1.0] and mon.__name__ == "const"
