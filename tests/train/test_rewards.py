"""GRPO's rewards: whygym.scoring's reward functions, each its own TRL reward with its weight; one default."""

import json
import pickle

import pytest

from whygym.scoring.rewards import DEFAULT_WEIGHTS, REWARD_NAMES, combined_reward, reward_functions

GOLD = '{"label": "yes", "prob": 0.3847}'
RIGHT = '{"ANSWER": "Yes", "PROB": "0.3847"}'
CLOSE = '{"ANSWER": "Yes", "PROB": "0.3900"}'
WRONG = '{"ANSWER": "No", "PROB": "-0.5000"}'
UNPARSED = "I am not sure."


def _call(fn, texts, **kw):
    chat = [[{"role": "assistant", "content": t}] for t in texts]
    return fn(chat, gold=[GOLD] * len(texts), task=["ATE"] * len(texts), **kw)


def _trl_sum(weights, texts, **kw):
    """What GRPOTrainer computes from separate reward functions: sum_i w_i r_i over those that apply."""
    fns, ws = reward_functions(weights)
    cols = [_call(f, texts, **kw) for f in fns]
    return [sum(w * c[i] for w, c in zip(ws, cols) if c[i] is not None) for i in range(len(texts))]


def test_golden_outputs_default_weights():
    r = _call(combined_reward({"format": 0.1, "accuracy": 0.5, "closeness": 0.4}), [RIGHT, CLOSE, WRONG, UNPARSED])
    assert r[0] == 1.0 and r[3] == 0.0
    assert r[2] == pytest.approx(0.1, abs=1e-3)  # a well-formed wrong answer earns its format credit only
    assert r[2] < r[1] < 1.0  # a close one earns more


@pytest.mark.parametrize("weights,expected", [
    ({"accuracy": 1.0}, [1.0, 0.0, 0.0, 0.0]),
    ({"format": 1.0}, [1.0, 1.0, 1.0, 0.0]),
])
def test_weights_select_the_rewards(weights, expected):
    assert _call(combined_reward(weights), [RIGHT, CLOSE, WRONG, UNPARSED]) == expected
    assert _trl_sum(weights, [RIGHT, CLOSE, WRONG, UNPARSED]) == expected


def test_missing_gold_is_not_applicable():
    r = combined_reward({"accuracy": 1.0})([RIGHT, RIGHT], gold=[None, GOLD], task=["ATE", "ATE"])
    assert r == [None, 1.0]


def test_separate_functions_sum_to_the_combined_reward():
    """Every component applies to these rows, so TRL's weighted sum is the combined weighted mean."""
    texts = [RIGHT, CLOSE, WRONG, UNPARSED]
    for weights in (DEFAULT_WEIGHTS, {"format": 2, "closeness": 1}, {"accuracy": 0.3, "closeness": 0.7}):
        assert _trl_sum(weights, texts) == pytest.approx(_call(combined_reward(weights), texts))
    fns, ws = reward_functions(DEFAULT_WEIGHTS)
    assert [f.__name__ for f in fns] == ["format_reward", "accuracy_reward", "closeness_reward"]
    assert sum(ws) == pytest.approx(1.0) and ws == pytest.approx([0.1, 0.5, 0.4])


def test_every_component_pickles_and_keeps_its_name():
    weights = {k: 1.0 for k in REWARD_NAMES}
    fns, _ = reward_functions(weights)
    assert [f.__name__ for f in fns] == [f"{k}_reward" for k in REWARD_NAMES]
    texts = [RIGHT, CLOSE, WRONG]
    for f in fns:
        g = pickle.loads(pickle.dumps(f))
        assert g.__name__ == f.__name__
        assert _call(g, texts, reason=[json.dumps({})] * 3, given=["{}"] * 3) == \
            _call(f, texts, reason=[json.dumps({})] * 3, given=["{}"] * 3)
    c = pickle.loads(pickle.dumps(combined_reward(DEFAULT_WEIGHTS, name="whygym_reward")))
    assert c.__name__ == "whygym_reward" and _call(c, texts) == _call(combined_reward(DEFAULT_WEIGHTS), texts)


def test_one_definition_of_the_defaults():
    from whygym.train.config import GRPOArgs
    from whygym.train.export import REWARD_WEIGHTS

    assert GRPOArgs().reward_weights == DEFAULT_WEIGHTS == REWARD_WEIGHTS
    GRPOArgs(reward_weights={"accuracy": 1, "process": 1}).validate()  # the process reward is accepted
