"""GRPO rollouts with the calculator: a ``rollout_func`` for TRL's GRPOTrainer.

TRL's own generation cannot run a tool inside a completion; its ``rollout_func`` hook lets us generate
instead. :class:`ToolRollout` samples one completion per prompt it is given (TRL hands over each prompt
``num_generations`` times, as its own generation path does) with the trainer's model and generation config,
the calculator (:class:`whygym.models.tools.ToolForcing`) at the logits: each ``<<EXPR=`` the policy writes
gets the exact value and ``>>``. It returns TRL's ``env_mask``: 0 on the tokens the calculator inserted,
1 on the policy's own, so GRPO's loss leaves the tool's tokens out, as whygym's PPO does.

Used by ``whygym train grpo --tools calculator`` (:class:`whygym.train.config.GRPOArgs`); with vLLM
(``use_vllm``) TRL's generation is kept and the calculator is not available (a config error says so).
"""

from __future__ import annotations

from typing import Any, Sequence

from whygym.models.encode import left_pad, pad_id_of, prompt_ids

__all__ = ["ToolRollout"]


class ToolRollout:
    """``rollout_func(prompts, trainer) -> {"prompt_ids", "completion_ids", "logprobs", "env_mask"}``."""

    def __init__(self, tools: str):
        from whygym.models.tools import parse_tools

        self.spec = parse_tools(tools)
        if self.spec is None:
            raise ValueError(f"ToolRollout needs a tool, got {tools!r}")
        self.calls: list[int] = []  # completions with at least one calculator call, per rollout

    def __call__(self, prompts: Sequence[Any], trainer) -> dict[str, Any]:
        import torch
        from transformers import LogitsProcessorList
        from trl.models import unwrap_model_for_generation

        from whygym.models.tools import ToolForcing

        tok = trainer.processing_class
        # string prompts as TRL's GRPO takes them (already formatted), messages through the chat template
        ids = [prompt_ids(tok, p, template_strings=False) for p in prompts]
        width = max(len(x) for x in ids)
        device = trainer.accelerator.device
        input_ids, attn = left_pad(ids, pad_id_of(tok))  # left padding, as TRL's own generation path
        forcing = ToolForcing(tok, len(ids), self.spec, width=width)
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as model, torch.no_grad():
            seqs = model.generate(input_ids=input_ids.to(device), attention_mask=attn.to(device),
                                  generation_config=trainer.generation_config,
                                  logits_processor=LogitsProcessorList([forcing]))
        eos = set(getattr(trainer, "eos_token_ids", None) or [tok.eos_token_id])
        completions, masks = [], []
        for r, row in enumerate(seqs[:, width:].tolist()):
            end = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))  # up to the first EOS, kept
            row = row[:end]
            completions.append(row)
            masks.append([0 if i in forcing.forced_steps[r] else 1 for i in range(len(row))])
        self.calls.append(sum(bool(s) for s in forcing.forced_steps))
        return {"prompt_ids": ids, "completion_ids": completions, "logprobs": None, "env_mask": masks}
