import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def default_tokenizer():
    """The default model's tokenizer (SmolLM2, ChatML): digits are single tokens, so a chosen and a rejected
    derivation that differ in one digit differ in their tokens too (a word-level toy tokenizer maps both to
    <unk>)."""
    from transformers import AutoTokenizer

    from whygym.models import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("default"), local_files_only=True)


@pytest.fixture
def tiny(default_tokenizer):
    """A tiny random Llama (2 layers, width 32) over the default tokenizer, built from a config: no weights read."""
    import copy

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = copy.deepcopy(default_tokenizer)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(torch.float32)
    return model, tok
