"""Shared fixtures: a tiny random Llama (built offline in the test process, no weights on disk)."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROMPTS = [
    "does A cause B ?",
    "what is the effect of X on Y if we set X to 1 and Z to 0 ?",
    "yes",
    "is Z a cause of C or D ?",
    "prob of Y = 1 ?",
    "if we set A to 0 then what is B",
    "answer : yes or no",
]


@pytest.fixture(scope="session")
def tiny():
    from whygym.models import tiny_llama

    return tiny_llama(seed=0)


@pytest.fixture
def prompts():
    return list(PROMPTS)
