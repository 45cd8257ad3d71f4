"""A tiny random Llama with a word-level ChatML tokenizer, built offline in well under a second.

For tests that need a real ``torch`` causal LM (batched generation, log-likelihoods, layer interventions)
without weights on disk. Outputs are gibberish but deterministic for a given ``seed``.

>>> model, tok = tiny_llama()
>>> tok.apply_chat_template([{"role": "user", "content": "does A cause B"}], tokenize=False,
...                         add_generation_prompt=True)
'<|im_start|>user\\ndoes A cause B<|im_end|>\\n<|im_start|>assistant\\n'
"""

from __future__ import annotations

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Small enough for a tiny embedding; wide enough for causal-question-like test prompts.
_WORDS = ("system user assistant yes no a b c d e x y z is does cause causes effect the of on what "
          "if we set to then and or not probability prob answer A B C D E X Y Z 0 1 2 3 4 5 6 7 8 9 . , ? "
          ": = ( ) { } \" ' % + - * / |").split()


def tiny_tokenizer():
    """A word-level tokenizer (whitespace/punctuation split) with ChatML special tokens.

    Unknown words map to ``<unk>``; ``<pad>`` pads and ``<|im_end|>`` ends a turn (the EOS token).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(specials + list(_WORDS)))}
    raw = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", pad_token="<pad>",
                                  bos_token="<|im_start|>", eos_token="<|im_end|>")
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHATML_TEMPLATE
    return tok


def tiny_llama(seed: int = 0, *, hidden_size: int = 32, num_layers: int = 2):
    """A randomly initialised ``LlamaForCausalLM`` (fp32, eval mode) and its :func:`tiny_tokenizer`.

    Parameters
    ----------
    seed : int
        Seeds the weight initialisation.
    hidden_size, num_layers : int
        Model size; the defaults give ~30k parameters.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                      num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=512, tie_word_embeddings=False,
                      # Weights larger than the usual 0.02 give a peaked, prompt-dependent model (and some
                      # early stops), which makes greedy, sampling and EOS tests meaningful.
                      initializer_range=0.3,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).to(torch.float32).eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return model, tok
