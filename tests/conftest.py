"""Fixtures shared by test folders."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A tiny random Llama and its tokenizer saved as a transformers checkpoint folder (no download)."""
    from whygym.models import tiny_llama

    model, tok = tiny_llama(seed=0)
    d = tmp_path_factory.mktemp("tiny")
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


MEMORISED_TARGET = "Step 1: ATE=<<0.8315-0.9066=0.5555>>\n{\"PROB\": \"0.5555\"}"


@pytest.fixture(scope="session")
def memorised_target():
    """What :func:`memorised` answers to the prompt "ATE?": a calculator call with a wrong value."""
    return MEMORISED_TARGET


@pytest.fixture(scope="session")
def memorised(tmp_path_factory):
    """A tiny Llama on the default model's byte-level tokenizer, trained until it reproduces MEMORISED_TARGET (with a
    wrong value inside its calculator call) for one prompt."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from whygym.models import ensure_default_model

    tok = AutoTokenizer.from_pretrained(ensure_default_model(), local_files_only=True)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    prompt = tok.apply_chat_template([{"role": "user", "content": "ATE?"}], tokenize=False, add_generation_prompt=True)
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    t_ids = tok(MEMORISED_TARGET, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = torch.tensor([p_ids + t_ids])
    labels = ids.clone()
    labels[0, :len(p_ids)] = -100
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    for _ in range(300):
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() < 0.02:
            break
    return model.eval(), tok
