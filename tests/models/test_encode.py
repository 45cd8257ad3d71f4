"""Prompt encoding shared by the backend, PPO and GRPO's tool rollouts: the chat-template rule and left padding,
against the tokenizer's own apply_chat_template."""

import pytest

from whygym.models.encode import left_pad, pad_id_of, prompt_ids, prompt_text


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from whygym.models.resolve import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("default"), local_files_only=True)


def test_strings_and_messages_follow_one_rule(tok):
    msgs = [{"role": "user", "content": "Is A a cause of B?"}]
    templated = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert prompt_text(tok, "Is A a cause of B?") == templated == prompt_text(tok, msgs)
    assert prompt_text(tok, msgs, template_strings=False) == templated  # messages are always templated
    assert prompt_text(tok, "raw text", template_strings=False) == "raw text"  # GRPO's string prompts
    with_system = prompt_text(tok, "Q", system="Answer yes or no.")
    assert with_system.index("Answer yes or no.") < with_system.index("Q")
    assert prompt_ids(tok, "Is A a cause of B?") == tok(templated, add_special_tokens=False)["input_ids"]


def test_a_tokenizer_without_template_takes_strings_as_they_are(tok):
    import copy

    bare = copy.deepcopy(tok)
    bare.chat_template = None
    assert prompt_text(bare, "plain") == "plain"


def test_left_pad_keeps_every_row_at_the_right_end():
    ids, mask = left_pad([[1, 2, 3], [], [4]], pad_id=9)
    assert ids.tolist() == [[1, 2, 3], [9, 9, 9], [9, 9, 4]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 0], [0, 0, 1]]


def test_pad_id_falls_back_to_eos(tok):
    import copy

    t = copy.deepcopy(tok)
    t.pad_token = None
    assert pad_id_of(t) == t.eos_token_id
