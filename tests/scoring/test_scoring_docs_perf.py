"""Extraction staying linear on adversarial inputs (the scoring modules' doctests run with --doctest-modules)."""

import time

import pytest

from whygym.scoring import extract

ADVERSARIAL = {
    "answer-spaces": "answer:" + " " * 50000 + "x",
    "prob-spaces": "PROB =" + " " * 50000 + "x",
    "key-spaces": ("{PROB" + " " * 3990 + "}") * 20,
    "braces": "{" * 100000,
    "think-json": '<think>{"PROB":1}</think>' * 5000,
    "lack-in-think": "<think>LACK_CONDITION</think>" * 5000,
    "lack-echoes": "if output LACK_CONDITION " * 5000,
    "lack-after-long-if": "if " + "x" * 100000 + " output LACK_CONDITION",
    "answer-rep": "the answer is " * 10000,
    "digits": "answer: " + "1" * 100000 + "x",
    "deep-nesting": "{" * 100000 + "}" * 100000,
    "nested-keys": '{"PROB": 1, ' * 20000 + "}" * 20000,
    "nested-valid-json": '{"PROB":1,"a":' * 900 + "1" + "}" * 900,
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_extract_does_not_hang_on_adversarial_input(name):
    # A hang guard, not a speed goal: linear extraction takes well under a second even on a loaded
    # machine, while the catastrophic backtracking this guards against grows without bound with the
    # input; the limit is generous so that machine load cannot fail it.
    t0 = time.perf_counter()
    extract(ADVERSARIAL[name])
    assert time.perf_counter() - t0 < 60.0
