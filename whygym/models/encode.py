"""Prompts to token ids, and left padding: the one definition the decoding backend, PPO's rollouts and GRPO's
tool rollouts share.

A prompt is a string or a list of chat messages. Messages always go through the tokenizer's chat template
(with the assistant generation prompt); a string does when ``template_strings`` is set and the tokenizer
has a template (the evaluation backend and PPO: a string is one user turn), and is taken as it is
otherwise (TRL's convention for GRPO's string prompts: already formatted).
"""

from __future__ import annotations

from typing import Any, Sequence

from whygym.models.base import chat_messages

__all__ = ["prompt_text", "prompt_ids", "left_pad", "pad_id_of"]


def prompt_text(tokenizer, prompt: Any, *, system: str | None = None, template_strings: bool = True) -> str:
    """The text the model reads for ``prompt`` (see the module's rule)."""
    if isinstance(prompt, str):
        if not (template_strings and getattr(tokenizer, "chat_template", None)):
            return prompt
        prompt = chat_messages(prompt, system)
    return tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)


def prompt_ids(tokenizer, prompt: Any, *, system: str | None = None, template_strings: bool = True) -> list[int]:
    """Token ids of :func:`prompt_text` (no special tokens added: the template has them)."""
    text = prompt_text(tokenizer, prompt, system=system, template_strings=template_strings)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def pad_id_of(tokenizer) -> int:
    """The tokenizer's pad id, or its EOS id where it has none (SmolLM2's case)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int, device=None):
    """``(input_ids, attention_mask)`` of ``seqs`` padded on the left to the longest (a decoder generates
    after the last position of every row).

    >>> ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    >>> ids.tolist(), mask.tolist()
    ([[5, 6, 7], [0, 0, 8]], [[1, 1, 1], [0, 0, 1]])
    """
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        if len(s):
            ids[r, width - len(s):] = torch.tensor(list(s), dtype=torch.long)
            mask[r, width - len(s):] = 1
    return (ids, mask) if device is None else (ids.to(device), mask.to(device))
