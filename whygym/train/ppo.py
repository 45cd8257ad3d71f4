"""Proximal policy optimisation (PPO) for causal-answer generation, on transformers + accelerate.

TRL removed its ``PPOTrainer`` in 1.13, so this is a small, self-contained PPO in the style of
Ziegler et al. (2019, "Fine-tuning language models from human preferences") and InstructGPT
(Ouyang et al., 2022), with a rule-based reward (:func:`whygym.scoring.combined_reward` by default)
in place of a learned reward model.

One PPO iteration (:func:`train_ppo`)
-------------------------------------
1. **Rollout** (:func:`rollout`): ``batch_size`` prompts (chat template applied, left padded) are
   sampled from the policy (``temperature``, ``top_p``); for every completion token ``t`` it stores
   the policy log-probability ``logp_t`` (the *old* log-probability of the update), the frozen
   reference's ``ref_t`` and the value ``V_t`` predicted for the state before token ``t``.
2. **Rewards** (:func:`token_rewards`): the rule-based reward ``R`` of the decoded completion sits on
   its last token, and every token pays a KL penalty to the reference::

       r_t = -beta * (logp_t - ref_t) + [t == T - 1] * R

3. **Advantages** (:func:`compute_gae`): generalised advantage estimation over completion tokens,
   ``delta_t = r_t + gamma V_{t+1} - V_t``, ``A_t = sum_l (gamma lam)^l delta_{t+l}``, returns
   ``G_t = A_t + V_t``; advantages are whitened over the batch (:func:`masked_whiten`).
4. **Update** (:func:`ppo_update`): ``ppo_epochs`` passes over shuffled minibatches of
   ``mini_batch_size`` sequences, each one optimizer step on::

       loss = ppo_policy_loss + vf_coef * value_loss

   the clipped surrogate ``-min(rho A, clip(rho, 1-eps, 1+eps) A)`` with ``rho = exp(logp - logp_old)``
   and the clipped value loss, with gradient-norm clipping; ``accelerator.backward`` does the backward.
5. **KL coefficient**: fixed ``kl_coef``, or with ``adaptive_kl`` the proportional controller of
   Ziegler et al. (:class:`AdaptiveKLController`).

Design choices
--------------
* **Value head**: a linear layer (:class:`ValueHead`) on the policy's last hidden state (after the
  final norm), so policy and value share the transformer trunk (as TRL's old
  ``AutoModelForCausalLMWithValueHead``); the value loss therefore also shapes the trunk, weighted by
  ``vf_coef`` (``detach_value=True`` stops that: the head then learns on frozen features). It is its
  own module, saved as ``value_head.safetensors`` beside the policy.
* **Reference**: a frozen deep copy of the initial policy, or, with ``lora=True``, the same weights
  with the adapters disabled (no second copy in memory).
* **Log-probabilities** are those of ``softmax(logits / temperature)``, the distribution that was
  sampled; ``top_p < 1`` truncates the sampler, which these log-probabilities ignore (as in TRL).
* A ``None`` reward (not applicable, e.g. an unreadable gold) counts as 0 and is counted in the log.
* Dropout stays off (the model is kept in ``eval()`` mode, also during the update), so the stored
  old log-probabilities are exactly those the first minibatch recomputes (ratio 1 before any step).
* Resuming (``resume=True``) restores the weights, value head, optimizer, KL coefficient and every RNG, so a run cut
  into pieces produces the same weights as an uninterrupted one (on CPU); the prompt order is a
  function of (seed, step).
* Training mutates the given ``model`` in place (LoRA adapters are injected into it). On resume,
  pass the *initial* model again (or nothing, to load ``cfg.model``): it becomes the reference and
  the checkpoint's weights are loaded on top; a fingerprint of the reference taken at the first call
  is compared and a warning raised when it differs.

Files in ``out_dir``
--------------------
``train_log.jsonl`` (one JSON row per step, see :data:`LOG_KEYS`), ``train_summary.json`` (``method``,
``steps``, ``wall_s``, ``mean_step_s``, ... as the TRL methods write it), ``checkpoints/checkpoint-{step}/``
(the TRL methods' layout; ``resume=True`` continues from the newest: ``policy/`` as ``save_pretrained``
writes it, the adapter only with LoRA, ``value_head.safetensors``, ``optimizer.pt``, ``rng.pt``,
``trainer_state.json``), and ``final/``: the
policy (LoRA merged) as a plain transformers checkpoint with its tokenizer (plus the value head).

Cost (measured)
---------------
SmolLM2-135M-Instruct (``model="default"``), fp32, the 2-core CPU, 1 thread, batch 4, 24 new tokens,
ATE prompts (~230 tokens), 1 PPO epoch of 2 minibatches: ~65 s per iteration and 5.4 GB peak RSS,
measured while other jobs loaded the machine (load average ~12), so an idle machine is faster. A
full-weight checkpoint is ~1.6 GB (policy 0.54 GB + AdamW moments 1.08 GB); ``save_total_limit``
bounds how many stay. The toy test (a 1-layer, 16-wide llama) runs ~0.3-0.5 s per iteration.

What the tests show (``tests/train/test_ppo.py``): on a toy task (reward 1 when the completion starts
with "yes", reference probability ~0.1) the mean reward goes from 0.26 (first 5 iterations) to 0.98
(last 5 of 30) while the value loss falls from 0.081 to 0.012; with ``kl_coef=0.5`` the reward instead
settles at 0.43, at the analytic optimum 0.45 of reward minus beta * KL.

Examples
--------
>>> import torch
>>> r = torch.tensor([[0.0, 0.0, 1.0]]); v = torch.tensor([[0.5, 0.5, 0.5]]); m = torch.ones(1, 3)
>>> adv, ret = compute_gae(r, v, m, gamma=1.0, lam=1.0)
>>> adv.tolist(), ret.tolist()
([[0.5, 0.5, 0.5]], [[1.0, 1.0, 1.0]])
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import random
import re
import shutil
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PPOConfig", "train_ppo", "ValueHead", "PolicyWithValue", "AdaptiveKLController", "Rollout",
    "masked_mean", "masked_var", "masked_whiten", "compute_gae", "compute_gae_reference",
    "ppo_policy_loss", "value_loss", "token_rewards", "explained_variance", "rollout", "ppo_update",
    "LOG_KEYS",
]

#: The keys of each row of ``train_log.jsonl``.
LOG_KEYS = ("step", "reward", "reward_std", "reward_none", "kl", "kl_coef", "non_score_reward",
            "policy_loss", "value_loss", "clip_frac", "value_clip_frac", "approx_kl", "explained_variance",
            "entropy", "completion_len", "lr", "step_time_s", "wall_s")


# ----------------------------------------------------------------------------------------------
# configuration

from whygym.train.ppo_config import PPOConfig  # noqa: E402  (settings live in a torch-free module)
from whygym.train.config import out_of_budget, reward_ends  # noqa: E402
from whygym.items import atomic_write_text  # noqa: E402
from whygym.models.encode import left_pad, pad_id_of, prompt_ids  # noqa: E402


# ----------------------------------------------------------------------------------------------
# masked statistics, GAE and the losses

def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` over the entries where ``mask`` is 1: ``sum(x m) / sum(m)``."""
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp_min(1.0)
    return (x * mask).sum(dim) / mask.sum(dim).clamp_min(1.0)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of ``x`` over the masked entries.

    ``var = sum(m (x - mu)^2) / sum(m)``, times ``n / (n - 1)`` (Bessel) when ``unbiased`` and ``n > 1``,
    where ``n = sum(m)`` and ``mu`` is :func:`masked_mean`.
    """
    mu = masked_mean(x, mask)
    var = masked_mean((x - mu) ** 2, mask)
    n = mask.sum()
    if unbiased and n > 1:
        var = var * n / (n - 1)
    return var


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Whiten ``x`` with statistics over the masked entries only.

    Parameters
    ----------
    x, mask : tensors of the same shape; ``mask`` is 1 on real entries, 0 on padding.
    shift_mean : if False, the mean is added back (scale only, as for rewards).
    eps : added to the variance.

    Returns
    -------
    torch.Tensor
        ``(x - mu) / sqrt(var + eps)`` (``+ mu`` when not ``shift_mean``) on masked entries, with
        ``mu``, ``var`` from :func:`masked_mean` and the unbiased :func:`masked_var`; 0 on padding.
    """
    mu = masked_mean(x, mask)
    var = masked_var(x, mask)
    out = (x - mu) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mu
    return out * mask.to(x.dtype)


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
                gamma: float = 1.0, lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al., 2016) over completion tokens.

    For each sequence with real tokens ``t = 0..T-1`` (``mask`` 1; padding only after them)::

        delta_t = r_t + gamma * V_{t+1} - V_t          (V_T = 0: the episode ends at the last token)
        A_t     = delta_t + gamma * lam * A_{t+1}       (A_T = 0)
        G_t     = A_t + V_t                             (the value target, "returns")

    Parameters
    ----------
    rewards, values, mask : float tensors ``(batch, length)``; padded positions are ignored.
    gamma, lam : discount and GAE parameter.

    Returns
    -------
    (advantages, returns) : tensors ``(batch, length)``, 0 on padded positions.
    """
    m = mask.to(values.dtype)
    r = rewards * m
    v = values * m
    length = r.shape[1]
    adv = torch.zeros_like(v)
    last = torch.zeros_like(v[:, 0])
    for t in reversed(range(length)):
        next_v = v[:, t + 1] if t + 1 < length else torch.zeros_like(last)
        delta = r[:, t] + gamma * next_v - v[:, t]
        last = (delta + gamma * lam * last) * m[:, t]
        adv[:, t] = last
    returns = (adv + v) * m
    return adv, returns


def compute_gae_reference(rewards: Sequence[float], values: Sequence[float], gamma: float, lam: float
                          ) -> tuple[list[float], list[float]]:
    """A slow, literal GAE for one unpadded sequence: ``A_t = sum_{l>=0} (gamma lam)^l delta_{t+l}``.

    Used by the tests to check :func:`compute_gae`.
    """
    n = len(rewards)
    v = list(values) + [0.0]
    deltas = [rewards[t] + gamma * v[t + 1] - v[t] for t in range(n)]
    adv = [sum((gamma * lam) ** k * deltas[t + k] for k in range(n - t)) for t in range(n)]
    return adv, [a + values[t] for t, a in enumerate(adv)]


def ppo_policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                    clip_range: float = 0.2) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped surrogate objective of PPO (Schulman et al., 2017), as a loss.

    ``rho_t = exp(logp_t - old_logp_t)``; per token
    ``l_t = max(-rho_t A_t, -clip(rho_t, 1 - eps, 1 + eps) A_t) = -min(rho_t A_t, clip(rho_t) A_t)``;
    the loss is the masked mean of ``l_t``.

    Returns
    -------
    (loss, stats) : ``stats`` has ``clip_frac`` (share of tokens with ``|rho - 1| > eps``) and
        ``approx_kl`` (the masked mean of ``((rho - 1) - log rho)``, an unbiased, non-negative estimate of
        ``KL(old || new)``).
    """
    log_ratio = logp - old_logp
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        clip_frac = masked_mean(((ratio - 1.0).abs() > clip_range).float(), mask).item()
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask).item()
    return loss, {"clip_frac": clip_frac, "approx_kl": approx_kl}


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               clip_range_value: float = 0.2) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped value loss of PPO.

    ``V_clip = old_V + clip(V - old_V, -c, c)``; per token
    ``l_t = 0.5 * max((V_t - G_t)^2, (V_clip_t - G_t)^2)``; the loss is its masked mean.

    Returns
    -------
    (loss, stats) : ``stats`` has ``value_clip_frac`` (share of tokens where the clipped term is larger).
    """
    v_clip = old_values + torch.clamp(values - old_values, -clip_range_value, clip_range_value)
    l1 = (values - returns) ** 2
    l2 = (v_clip - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(l1, l2), mask)
    with torch.no_grad():
        frac = masked_mean((l2 > l1).float(), mask).item()
    return loss, {"value_clip_frac": frac}


def token_rewards(scores: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor,
                  kl_coef: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token rewards: KL penalty on every completion token, the sequence score on the last.

    ``r_t = -beta (logp_t - ref_t) + [t = last real token] * score``.

    Returns
    -------
    (rewards, kl) : ``(batch, length)`` tensors; ``kl_t = logp_t - ref_t`` (0 on padding).
    """
    m = mask.to(logp.dtype)
    kl = (logp - ref_logp) * m
    rewards = -kl_coef * kl
    last = (m.sum(1).long() - 1).clamp_min(0)
    rewards[torch.arange(rewards.shape[0]), last] += scores.to(rewards.dtype)
    return rewards, kl


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """``1 - Var[G - V] / Var[G]`` over masked tokens (1 = perfect, 0 = no better than a constant)."""
    var_g = masked_var(returns, mask)
    if var_g.item() <= 1e-12:
        return float("nan")
    return float(1.0 - masked_var(returns - values, mask) / var_g)


class AdaptiveKLController:
    """Proportional KL controller of Ziegler et al. (2019).

    After each batch of ``n`` sequences with observed KL ``k``:
    ``e = clip(k / target - 1, -0.2, 0.2)``, ``beta <- beta * (1 + e * n / horizon)``.
    """

    def __init__(self, init: float, target: float, horizon: int):
        self.value, self.target, self.horizon = float(init), float(target), int(horizon)

    def update(self, kl: float, n: int) -> float:
        err = float(np.clip(kl / self.target - 1.0, -0.2, 0.2))
        self.value *= 1.0 + err * n / self.horizon
        return self.value


# ----------------------------------------------------------------------------------------------
# models

class ValueHead(nn.Module):
    """``V(s) = w . h(s) + b``: a linear layer on the policy's last hidden state (after the final norm).

    Initialised with ``w ~ N(0, (init_scale)^2 / hidden_size)`` and ``b = 0``: values start small
    (about ``init_scale`` times the RMS of the hidden state) but not all zero, so the first update has a
    learning signal even when every reward of the batch is equal.
    """

    def __init__(self, hidden_size: int, init_scale: float = 0.1):
        super().__init__()
        self.summary = nn.Linear(hidden_size, 1)
        nn.init.normal_(self.summary.weight, std=init_scale * hidden_size ** -0.5)
        nn.init.zeros_(self.summary.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.summary(hidden.to(self.summary.weight.dtype)).squeeze(-1)


class PolicyWithValue(nn.Module):
    """A causal LM (``policy``) and a :class:`ValueHead` sharing its trunk.

    With ``detach_value=True`` the value head reads a detached hidden state: the value loss then
    trains the head only and never moves the policy.
    """

    def __init__(self, policy: nn.Module, v_head: ValueHead, detach_value: bool = False):
        super().__init__()
        self.policy = policy
        self.v_head = v_head
        self.detach_value = detach_value

    def forward(self, input_ids, attention_mask, position_ids, logits_to_keep: int):
        out = self.policy(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                          logits_to_keep=logits_to_keep, output_hidden_states=True, use_cache=False)
        hidden = out.hidden_states[-1][:, -logits_to_keep:]
        if self.detach_value:
            hidden = hidden.detach()
        return out.logits, self.v_head(hidden)


def _hidden_size(model) -> int:
    cfg = model.config
    if hasattr(cfg, "get_text_config"):
        cfg = cfg.get_text_config()
    return int(cfg.hidden_size)


# ----------------------------------------------------------------------------------------------
# rollout

@dataclass
class Rollout:
    """One batch of sampled completions and everything the update needs (tensors ``(B, T)`` unless noted)."""

    input_ids: torch.Tensor       # (B, P + T): left-padded prompt + completion
    attention_mask: torch.Tensor  # (B, P + T)
    mask: torch.Tensor            # completion tokens up to and including the first EOS
    logp: torch.Tensor            # old policy log-probs
    ref_logp: torch.Tensor
    values: torch.Tensor
    scores: torch.Tensor          # (B,) rule-based reward (None -> 0)
    texts: list[str]
    n_none: int = 0
    action_mask: torch.Tensor | None = None  # mask less the tool's inserted tokens (None: no tools)


def _position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    return (attention_mask.long().cumsum(-1) - 1).clamp_min(0)


def _encode_prompts(prompts: Sequence[Any], tokenizer, max_len: int, pad_id: int,
                    device) -> tuple[torch.Tensor, torch.Tensor]:
    """Chat-templated prompts, tokenized, cut to their last ``max_len`` tokens (0: all), left padded."""
    ids = [prompt_ids(tokenizer, p) for p in prompts]
    if max_len > 0:
        ids = [x[-max_len:] for x in ids]
    return left_pad(ids, pad_id, device)


def _completion_mask(completion: torch.Tensor, eos_ids: Iterable[int]) -> torch.Tensor:
    """1 on completion tokens up to and including the first EOS, 0 after it."""
    is_eos = torch.zeros_like(completion, dtype=torch.bool)
    for e in eos_ids:
        is_eos |= completion == e
    # number of EOS strictly before position t
    before = torch.cumsum(is_eos.long(), dim=1) - is_eos.long()
    return (before == 0).long()


def _eos_ids(model, tokenizer) -> list[int]:
    e = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if e is None:
        e = tokenizer.eos_token_id
    if e is None:
        return []
    return [int(x) for x in (e if isinstance(e, (list, tuple)) else [e])]


def _forward_logp(net: Callable, input_ids: torch.Tensor, attention_mask: torch.Tensor, n_completion: int,
                  temperature: float, with_entropy: bool = False):
    """Log-probabilities (and values) of the last ``n_completion`` tokens of each sequence.

    ``net`` returns ``(logits, values)`` for the last ``n_completion + 1`` positions; position ``i``
    predicts token ``i + 1``, so the logits and values of positions ``P-1 .. P+T-2`` belong to the
    completion tokens ``P .. P+T-1``.
    """
    logits, values = net(input_ids, attention_mask, _position_ids(attention_mask), n_completion + 1)
    logits = logits[:, :-1].float() / temperature
    logps = F.log_softmax(logits, dim=-1)
    tokens = input_ids[:, -n_completion:]
    logp = torch.gather(logps, 2, tokens.unsqueeze(-1)).squeeze(-1)
    entropy = None
    if with_entropy:
        with torch.no_grad():  # logged, not optimised
            entropy = -(logps.exp() * logps).sum(-1)
    vals = values[:, :-1] if values is not None else None
    return logp, vals, entropy


def _policy_only(model):
    def net(input_ids, attention_mask, position_ids, keep):
        out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                    logits_to_keep=keep, use_cache=False)
        return out.logits, None
    return net


def _texts_for_reward(texts: list[str], prompts: Sequence[Any]) -> list[Any]:
    """Conversational completions for chat prompts, plain strings otherwise (TRL's convention)."""
    return [[{"role": "assistant", "content": t}] if not isinstance(p, str) else t for t, p in zip(texts, prompts)]


@torch.no_grad()
def rollout(wrapped: PolicyWithValue, ref_model, tokenizer, rows: Sequence[Mapping[str, Any]], reward_fn: Callable,
            cfg: PPOConfig, device, *, ref_is_adapter_disabled: bool = False) -> Rollout:
    """Sample one completion per row and score it.

    Returns a :class:`Rollout` with old log-probs ``logp_t = log pi_old(y_t | x, y_<t)`` (at
    ``temperature``), reference log-probs, values ``V_t`` (of the state before ``y_t``), and the reward
    ``reward_fn(completions, prompts=..., **other_columns)`` of each decoded completion.
    """
    from transformers import GenerationConfig

    policy = wrapped.policy
    pad_id = pad_id_of(tokenizer)
    eos = _eos_ids(policy, tokenizer)
    prompts = [r["prompt"] for r in rows]
    p_ids, p_attn = _encode_prompts(prompts, tokenizer, cfg.max_prompt_length, pad_id, device)
    gen_cfg = GenerationConfig(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p, top_k=0,
                               max_new_tokens=cfg.max_new_tokens, pad_token_id=pad_id,
                               eos_token_id=eos or None, bos_token_id=tokenizer.bos_token_id)
    from transformers import LogitsProcessorList

    from whygym.models.tools import ToolForcing, parse_tools

    spec = parse_tools(cfg.tools)
    forcing = ToolForcing(tokenizer, p_ids.shape[0], spec, width=p_ids.shape[1]) if spec is not None else None
    seqs = policy.generate(input_ids=p_ids, attention_mask=p_attn, generation_config=gen_cfg,
                           logits_processor=LogitsProcessorList([forcing] if forcing is not None else []))
    P = p_ids.shape[1]
    completion = seqs[:, P:]
    if completion.shape[1] == 0:  # cannot happen with max_new_tokens >= 1, but keep shapes sane
        raise RuntimeError("generation returned no tokens")
    mask = _completion_mask(completion, eos)
    attn = torch.cat([p_attn, mask], dim=1)
    action = mask.clone()  # the tokens the policy chose: the calculator's insertions are not its actions
    if forcing is not None:
        for r, steps in enumerate(forcing.forced_steps):
            idx = [t for t in steps if t < action.shape[1]]
            if idx:
                action[r, idx] = 0
    T = completion.shape[1]

    logps, refs, vals = [], [], []
    step = cfg.mini_batch_size
    for i in range(0, seqs.shape[0], step):
        s, a = seqs[i:i + step], attn[i:i + step]
        lp, v, _ = _forward_logp(wrapped, s, a, T, cfg.temperature)
        if ref_is_adapter_disabled:
            with policy.disable_adapter():
                rl, _, _ = _forward_logp(_policy_only(policy), s, a, T, cfg.temperature)
        else:
            rl, _, _ = _forward_logp(_policy_only(ref_model), s, a, T, cfg.temperature)
        logps.append(lp), refs.append(rl), vals.append(v.float())

    texts = []
    for row, m in zip(completion, mask):
        texts.append(tokenizer.decode(row[m.bool()].tolist(), skip_special_tokens=True))
    columns = {k: [r.get(k) for r in rows] for k in rows[0].keys() if k != "prompt"}
    raw = reward_fn(_texts_for_reward(texts, prompts), prompts=prompts, **columns)
    raw = list(raw)
    if len(raw) != len(texts):
        raise ValueError(f"reward_fn returned {len(raw)} values for {len(texts)} completions")
    n_none = sum(r is None for r in raw)
    scores = torch.tensor([0.0 if r is None else float(r) for r in raw], dtype=torch.float32, device=device)
    return Rollout(input_ids=seqs, attention_mask=attn, mask=mask.float(), logp=torch.cat(logps).float(),
                   ref_logp=torch.cat(refs).float(), values=torch.cat(vals), scores=scores, texts=texts,
                   n_none=n_none, action_mask=action.float() if forcing is not None else None)


# ----------------------------------------------------------------------------------------------
# update

def ppo_update(wrapped, optimizer, accelerator, ro: Rollout, advantages: torch.Tensor, returns: torch.Tensor,
               cfg: PPOConfig, params: list[torch.nn.Parameter], generator: torch.Generator) -> dict[str, float]:
    """``ppo_epochs`` passes over shuffled minibatches, one optimizer step each.

    Loss per minibatch: :func:`ppo_policy_loss` ``+ vf_coef *`` :func:`value_loss`, backward through
    ``accelerator.backward``, global gradient norm clipped to ``max_grad_norm``.

    Returns the means over minibatches of the losses and statistics (including the entropy of the
    current policy on the completion tokens).
    """
    wrapped.eval()  # dropout off: the ratio is exactly 1 on the first minibatch
    B, T = ro.mask.shape
    acc: dict[str, list[float]] = {k: [] for k in ("policy_loss", "value_loss", "clip_frac", "value_clip_frac",
                                                   "approx_kl", "entropy")}
    for _ in range(cfg.ppo_epochs):
        order = torch.randperm(B, generator=generator).tolist()
        for i in range(0, B, cfg.mini_batch_size):
            idx = torch.tensor(order[i:i + cfg.mini_batch_size], device=ro.mask.device)
            m = ro.mask[idx]
            # the policy is trained on its own tokens only (not on what a tool inserted); GAE and the critic
            # run over the whole completion, so credit still flows across an insertion
            am = m if ro.action_mask is None else ro.action_mask[idx]
            logp, values, entropy = _forward_logp(wrapped, ro.input_ids[idx], ro.attention_mask[idx], T,
                                                  cfg.temperature, with_entropy=True)
            pg, pst = ppo_policy_loss(logp, ro.logp[idx], advantages[idx], am, cfg.clip_range)
            vl, vst = value_loss(values.float(), ro.values[idx], returns[idx], m, cfg.clip_range_value)
            loss = pg + cfg.vf_coef * vl
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            if cfg.max_grad_norm > 0:
                accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            acc["policy_loss"].append(pg.item())
            acc["value_loss"].append(vl.item())
            acc["entropy"].append(masked_mean(entropy.detach(), m).item())
            for k, v in {**pst, **vst}.items():
                acc[k].append(v)
    return {k: float(np.mean(v)) for k, v in acc.items()}


# ----------------------------------------------------------------------------------------------
# data, checkpoints

def _rows_of(dataset) -> list[dict[str, Any]]:
    if dataset is None:
        raise ValueError("train_ppo needs dataset= (rows with 'prompt', and 'gold'/'task' for the default reward)")
    rows = [dict(r) for r in dataset]
    if not rows:
        raise ValueError("the dataset is empty")
    if any("prompt" not in r for r in rows):
        raise ValueError("every dataset row needs a 'prompt' (chat list or string)")
    return rows


def _batch_rows(rows: list[dict], step: int, batch_size: int, seed: int) -> list[dict]:
    """The rows of step ``step`` (0-based): epochs of seeded permutations, so resuming continues the order."""
    n = len(rows)
    out = []
    for k in range(step * batch_size, (step + 1) * batch_size):
        epoch, j = divmod(k, n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        out.append(rows[int(perm[j])])
    return out


_CKPT = re.compile(r"^checkpoint-(\d+)$")


def _latest_checkpoint(out_dir: Path) -> Path | None:
    """The newest complete checkpoint under ``OUT/checkpoints`` (the TRL methods' layout), or None."""
    from transformers.trainer_utils import get_last_checkpoint

    d = out_dir / "checkpoints"
    last = get_last_checkpoint(str(d)) if d.is_dir() else None
    return Path(last) if last and (Path(last) / "trainer_state.json").is_file() else None


def _fingerprint(model) -> str:
    """A cheap identity of the (non-LoRA) weights: each tensor's name, sum and first 256 values."""
    h = hashlib.sha1()
    with torch.no_grad():
        for name, p in sorted(model.state_dict().items()):
            if "lora_" in name:
                continue
            x = p.detach().reshape(-1).float()
            h.update(name.encode())
            h.update(f"{x.sum().item():.6e}".encode())
            h.update(x[:256].cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def _save_checkpoint(out_dir: Path, step: int, wrapped: PolicyWithValue, optimizer, tokenizer, state: dict,
                     keep: int) -> Path:
    from safetensors.torch import save_file

    out_dir = out_dir / "checkpoints"  # OUT/checkpoints/checkpoint-N, as the TRL methods write them
    final = out_dir / f"checkpoint-{step}"
    tmp = out_dir / f".checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    wrapped.policy.save_pretrained(tmp / "policy")
    tokenizer.save_pretrained(tmp / "policy")
    save_file({k: v.detach().cpu().contiguous() for k, v in wrapped.v_head.state_dict().items()},
              str(tmp / "value_head.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save({"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                "update": state.pop("_update_rng")}, tmp / "rng.pt")
    (tmp / "trainer_state.json").write_text(json.dumps(state, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    if keep > 0:
        olds = sorted((int(m.group(1)), p) for p in out_dir.iterdir() if (m := _CKPT.match(p.name)))
        for _, p in olds[:-keep]:
            shutil.rmtree(p, ignore_errors=True)
    return final


def _load_policy_weights(policy, ckpt_policy: Path, lora: bool) -> None:
    from safetensors.torch import load_file

    if lora:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(policy, load_file(str(ckpt_policy / "adapter_model.safetensors")))
        return
    files = sorted(ckpt_policy.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no safetensors weights in {ckpt_policy}")
    sd = {}
    for f in files:
        sd.update(load_file(str(f)))
    missing, unexpected = policy.load_state_dict(sd, strict=False)
    loaded_ptrs = {p.data_ptr() for n, p in policy.named_parameters() if n in sd}
    params = dict(policy.named_parameters(remove_duplicate=False))
    really_missing = [k for k in missing if k in params and params[k].data_ptr() not in loaded_ptrs]
    if unexpected or really_missing:
        raise RuntimeError(f"checkpoint {ckpt_policy} does not fit the model: missing {really_missing[:5]}, "
                           f"unexpected {list(unexpected)[:5]}")


def _reset_log(path: Path, keep_upto: int) -> None:
    if not path.exists():
        return
    if keep_upto <= 0:
        path.unlink()
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= keep_upto:
                kept.append(line)
        except json.JSONDecodeError:
            continue
    path.write_text("".join(k + "\n" for k in kept))


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


# ----------------------------------------------------------------------------------------------
# the trainer

def train_ppo(cfg: PPOConfig, out_dir: str | os.PathLike, *, model=None, tokenizer=None, dataset=None,
              reward_fn: Callable[..., list] | None = None, resume: bool = False) -> dict[str, Any]:
    """Train a causal LM with PPO on a rule-based reward.

    Parameters
    ----------
    cfg : PPOConfig
    out_dir : where the log, checkpoints (``checkpoints/checkpoint-N``), summary and ``final/`` go, the layout
        of the TRL methods (:func:`whygym.train.trainers.train`).
    resume : continue from the newest checkpoint in ``out_dir/checkpoints`` (``UserError`` when there is
        none); otherwise start afresh.
    model, tokenizer : a ``transformers`` causal LM and its tokenizer; default: loaded from ``cfg.model``.
        The model is trained in place.
    dataset : iterable of rows (dicts or a ``datasets.Dataset``) with ``prompt`` (chat list or string);
        every other column (``gold``, ``task``, ...) is passed to ``reward_fn`` as a keyword list.
    reward_fn : ``f(completions, **columns) -> list[float | None]`` (TRL signature; completions are
        conversational for chat prompts); default ``combined_reward(cfg.reward_weights)``.

    Returns
    -------
    dict
        The summary also written to ``out_dir/train_summary.json``: the step reached (``steps``), the target
        (``steps_target``), whether ``cfg.minutes`` stopped the run, steps run, the step resumed from,
        mean reward over the first and last (up to 5) logged steps, the last log row, paths.
    """
    from accelerate import Accelerator

    cfg.validate()
    t_budget = time.perf_counter()  # the wall-clock budget (cfg.minutes) counts from here
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = _rows_of(dataset)
    if reward_fn is None:
        from whygym.scoring import combined_reward

        reward_fn = combined_reward(cfg.reward_weights)
    if model is None:
        from whygym.train.trainers import load_model  # the TRL methods' loader: offline, fp32, no GGUF marker

        model, loaded_tok = load_model(cfg.model)
        tokenizer = tokenizer or loaded_tok
    elif tokenizer is None:
        raise ValueError("train_ppo got model= without tokenizer=")
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)

    ckpt = _latest_checkpoint(out) if resume else None
    if resume and ckpt is None:
        from whygym.errors import UserError

        raise UserError(f"--resume: no checkpoint in {out / 'checkpoints'}; start without --resume")
    state: dict[str, Any] = json.loads((ckpt / "trainer_state.json").read_text()) if ckpt else {}
    start_step = int(state.get("step", 0))

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    accelerator = Accelerator(cpu=cfg.use_cpu)
    device = accelerator.device

    ref_fp = _fingerprint(model)
    if ckpt and state.get("reference_fingerprint") not in (None, ref_fp):
        warnings.warn("train_ppo resume: the model given now differs from the initial model of the first run; "
                      "it is used as the KL reference anyway (pass the initial model, or none)", RuntimeWarning,
                      stacklevel=2)
    if cfg.lora:
        from peft import LoraConfig, get_peft_model

        lcfg = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, target_modules=list(cfg.lora_targets),
                          lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
        policy = get_peft_model(model, lcfg)
        ref_model = None
    else:
        policy = model
        ref_model = copy.deepcopy(model).eval().requires_grad_(False).to(device)
    v_head = ValueHead(_hidden_size(policy), cfg.value_head_init_scale)
    wrapped = PolicyWithValue(policy, v_head, cfg.detach_value)
    if ckpt:
        from safetensors.torch import load_file

        _load_policy_weights(policy, ckpt / "policy", cfg.lora)
        v_head.load_state_dict(load_file(str(ckpt / "value_head.safetensors")))
    params = [p for p in wrapped.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    if ckpt:
        optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location="cpu", weights_only=False))
    wrapped, optimizer = accelerator.prepare(wrapped, optimizer)
    unwrapped = accelerator.unwrap_model(wrapped)

    update_gen = torch.Generator().manual_seed(cfg.seed + 1)
    if ckpt:
        rng = torch.load(ckpt / "rng.pt", map_location="cpu", weights_only=False)
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        update_gen.set_state(rng["update"])
    kl_ctl = AdaptiveKLController(state.get("kl_coef", cfg.kl_coef), cfg.kl_target, cfg.kl_horizon)

    log_path = out / "train_log.jsonl"
    _reset_log(log_path, start_step)
    if not ckpt:
        shutil.rmtree(out / "final", ignore_errors=True)
    t_start = time.time()
    rows_logged: list[dict] = []
    last_ckpt = ckpt
    stopped_by_budget = False
    for step in range(start_step, cfg.steps):
        t0 = time.time()
        batch = _batch_rows(rows, step, cfg.batch_size, cfg.seed)
        ro = rollout(unwrapped, ref_model, tokenizer, batch, reward_fn, cfg, device,
                     ref_is_adapter_disabled=cfg.lora)
        beta = kl_ctl.value
        rewards, kl = token_rewards(ro.scores, ro.logp, ro.ref_logp, ro.mask, beta)
        adv, ret = compute_gae(rewards, ro.values, ro.mask, cfg.gamma, cfg.lam)
        if cfg.whiten_advantages:
            adv = masked_whiten(adv, ro.mask)
        stats = ppo_update(wrapped, optimizer, accelerator, ro, adv, ret, cfg, params, update_gen)
        seq_kl = kl.sum(1)
        if cfg.adaptive_kl:
            kl_ctl.update(seq_kl.mean().item(), cfg.batch_size)
        row = {
            "step": step + 1,
            "reward": ro.scores.mean().item(),
            "reward_std": ro.scores.std().item() if len(ro.scores) > 1 else 0.0,
            "reward_none": ro.n_none,
            "kl": seq_kl.mean().item(),
            "kl_coef": beta,
            "non_score_reward": (-beta * seq_kl).mean().item(),
            **stats,
            "explained_variance": _finite(explained_variance(ro.values, ret, ro.mask)),
            "completion_len": ro.mask.sum(1).mean().item(),
            "lr": cfg.lr,
            "step_time_s": round(time.time() - t0, 4),
            "wall_s": round(time.perf_counter() - t_budget, 3),  # as the TRL methods' train_log.jsonl
        }
        row = {k: row[k] for k in LOG_KEYS}
        with log_path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        rows_logged.append(row)
        if cfg.logging_steps > 0 and (step + 1) % cfg.logging_steps == 0:
            accelerator.print(f"[ppo] step {step + 1}/{cfg.steps} reward {row['reward']:.3f} kl {row['kl']:.3f} "
                              f"pg {row['policy_loss']:.4f} vf {row['value_loss']:.4f} "
                              f"clip {row['clip_frac']:.2f} {row['step_time_s']:.1f}s")
        out_of_time = out_of_budget(time.perf_counter() - t_budget, cfg.minutes,
                                    [r["step_time_s"] for r in rows_logged])
        if (cfg.save_steps > 0 and (step + 1) % cfg.save_steps == 0) or step + 1 == cfg.steps or out_of_time:
            st = {"step": step + 1, "kl_coef": kl_ctl.value, "reference_fingerprint": ref_fp,
                  "config": asdict(cfg), "_update_rng": update_gen.get_state()}
            last_ckpt = _save_checkpoint(out, step + 1, unwrapped, optimizer, tokenizer, st, cfg.save_total_limit)
        if out_of_time:
            stopped_by_budget = True
            break

    # final policy: a plain transformers checkpoint (LoRA merged)
    final_dir = out / "final"
    if rows_logged or not final_dir.exists():
        tmp = out / ".final.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        pol = unwrapped.policy
        if cfg.lora:
            pol = pol.merge_and_unload()
        pol.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in unwrapped.v_head.state_dict().items()},
                  str(tmp / "value_head.safetensors"))
        shutil.rmtree(final_dir, ignore_errors=True)
        os.replace(tmp, final_dir)

    all_rows = []
    if log_path.exists():
        all_rows = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
    reward_first, reward_last = reward_ends([r["reward"] for r in all_rows])
    summary = {
        "method": "ppo",
        "steps": start_step + len(rows_logged),
        "steps_target": cfg.steps,
        "stopped_by_budget": stopped_by_budget,
        "start_step": start_step,
        "steps_run": len(rows_logged),
        "resumed_from": str(ckpt) if ckpt else None,
        "last_checkpoint": str(last_ckpt) if last_ckpt else None,
        "final_dir": str(final_dir),
        "reward_first": reward_first,
        "reward_last": reward_last,
        "last": all_rows[-1] if all_rows else None,
        "kl_coef": kl_ctl.value,
        "trainable_params": int(sum(p.numel() for p in params)),
        "wall_s": round(time.perf_counter() - t_budget, 2),  # model loading included, as the TRL methods
        "mean_step_s": float(np.mean([r["step_time_s"] for r in rows_logged])) if rows_logged else None,
        "device": str(device),
        "world_size": accelerator.num_processes,  # processes under accelerate launch
        "config": asdict(cfg),
    }
    if accelerator.is_main_process:
        atomic_write_text(out / "train_summary.json", json.dumps(summary, indent=1))
    return summary
