"""PPO settings: :class:`~whygym.train.config.RunArgs` (model, data, budget, LoRA, checkpoints: the fields every
trainer shares) and PPO's own. Kept free of torch so that building the CLI parser stays cheap (see
:mod:`whygym.train.ppo`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar, Mapping

from whygym.train.config import RunArgs

__all__ = ["PPOConfig"]


def _h(text: str, default: Any = None, factory: Callable[[], Any] | None = None):
    if factory is not None:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass
class PPOConfig(RunArgs):
    """Hyperparameters of :func:`train_ppo` (every field carries its help text in ``metadata``): the shared
    :class:`~whygym.train.config.RunArgs`, PPO's defaults for some of them, and PPO's own settings."""

    lr: float = _h("AdamW learning rate (policy, or LoRA adapters, and value head).", 1e-5)
    steps: int = _h("Number of PPO iterations (rollout + update). On resume, the total to reach.", 100)
    minutes: float = _h("Wall-clock budget in minutes, counted from the start of train_ppo (model loading "
                        "included); 0 = none. Training stops when the next step would pass it (predicted from "
                        "the last steps) or after the step that does, and that step is saved as a checkpoint.", 0.0)
    batch_size: int = _h("Prompts per rollout (one completion each).", 8)
    save_steps: int = _h("Save a resumable checkpoint (OUT/checkpoints) every this many steps (<= 0: only at the "
                         "end); the last step is always saved.", 50)
    save_total_limit: int = _h("Keep only the newest this many checkpoints (<= 0 keeps all).", 2)
    logging_steps: int = _h("Print a log line every this many steps (<= 0: silent); every step is written to "
                            "train_log.jsonl.", 1)
    mini_batch_size: int = _h("Sequences per optimizer step in the update; batch_size should divide by it.", 4)
    ppo_epochs: int = _h("Passes over the rollout batch per PPO iteration.", 4)
    clip_range: float = _h("Policy clip range eps: the ratio is clipped to [1-eps, 1+eps].", 0.2)
    clip_range_value: float = _h("Value clip range: new values are kept within this of the rollout values.", 0.2)
    vf_coef: float = _h("Weight of the value loss in the total loss.", 0.1)
    detach_value: bool = _h("Feed the value head a detached hidden state, so the value loss never moves the "
                            "policy (default: shared trunk, the value loss also trains it).", False)
    value_head_init_scale: float = _h("Value head init: weight ~ N(0, scale^2 / hidden_size), bias 0.", 0.1)
    kl_coef: float = _h("Per-token KL penalty beta in the reward, r_t -= beta * (logp_policy - logp_ref); "
                        "the initial value when adaptive_kl.", 0.05)
    adaptive_kl: bool = _h("Adapt kl_coef with the proportional controller of Ziegler et al. (2019).", False)
    kl_target: float = _h("Adaptive KL: target sequence-level KL (nats).", 6.0)
    kl_horizon: int = _h("Adaptive KL: horizon (in sequences) of the controller.", 10000)
    gamma: float = _h("Discount factor over completion tokens.", 1.0)
    lam: float = _h("GAE lambda.", 0.95)
    max_new_tokens: int = _h("Maximum completion length in tokens.", 128)
    max_prompt_length: int = _h("Prompts longer than this (tokens) keep their last max_prompt_length tokens; "
                                "0 keeps all.", 0)
    temperature: float = _h("Sampling temperature (> 0); log-probabilities use logits / temperature.", 1.0)
    top_p: float = _h("Nucleus sampling threshold (1.0 = full distribution).", 1.0)
    tools: str = _h("Tool-integrated rollouts, e.g. 'calculator' (each <<EXPR= the policy writes gets its exact "
                    "value and >>; the inserted tokens are left out of the policy and value losses); '' = none.",
                    "")
    whiten_advantages: bool = _h("Whiten advantages over the batch's completion tokens.", True)
    max_grad_norm: float = _h("Clip the global gradient norm to this (<= 0 disables).", 1.0)
    reward_weights: dict[str, float] | None = _h(
        "Weights of whygym.scoring.combined_reward ('format', 'accuracy', 'closeness', 'process'); None = its defaults. "
        "Ignored when train_ppo gets reward_fn=.", None)
    use_cpu: bool = _h("Run on CPU (accelerate Accelerator(cpu=True)); False lets accelerate pick the device.",
                       True)

    method = "ppo"

    #: Old field names, still read from YAML and the command line with a deprecation line: the names of
    #: :class:`whygym.train.config.RunArgs` are the ones every trainer uses.
    RENAMED: ClassVar[dict[str, str]] = {"save_every": "save_steps", "keep_checkpoints": "save_total_limit",
                                         "log_every": "logging_steps", "lora_target_modules": "lora_targets"}

    def validate(self) -> None:
        """Raise ``ValueError`` for PPO settings that cannot work, :class:`~whygym.errors.UserError` for data
        settings (:meth:`RunArgs.validate`)."""
        bad = []
        if self.steps < 0:
            bad.append("steps >= 0")
        if not self.minutes >= 0:
            bad.append("minutes >= 0")
        if self.batch_size < 1 or self.mini_batch_size < 1 or self.mini_batch_size > self.batch_size:
            bad.append("1 <= mini_batch_size <= batch_size")
        if self.ppo_epochs < 1:
            bad.append("ppo_epochs >= 1")
        if not self.temperature > 0:
            bad.append("temperature > 0")
        if not 0 < self.top_p <= 1:
            bad.append("0 < top_p <= 1")
        if not self.clip_range > 0 or not self.clip_range_value > 0:
            bad.append("clip_range > 0 and clip_range_value > 0")
        if self.max_new_tokens < 1:
            bad.append("max_new_tokens >= 1")
        if not 0 <= self.gamma <= 1 or not 0 <= self.lam <= 1:
            bad.append("gamma and lam in [0, 1]")
        if self.kl_coef < 0:
            bad.append("kl_coef >= 0")
        from whygym.models.tools import parse_tools

        try:
            parse_tools(self.tools)
        except ValueError as e:
            bad.append(f"tools: {e}")
        if bad:
            raise ValueError("invalid PPOConfig: need " + "; ".join(bad))
        super().validate()  # the data settings, as every trainer checks them

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PPOConfig":
        """Build from a mapping, rejecting unknown keys."""
        names = {f.name for f in fields(cls)}
        d = {cls.RENAMED.get(k, k): v for k, v in d.items()}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown PPOConfig field(s) {sorted(unknown)}")
        return cls(**dict(d))
