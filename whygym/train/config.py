"""Training configurations: one dataclass per method, fields with help text (which is also the CLI help).

A run reads ``configs/<method>.yaml`` into the method's dataclass, then applies ``--key value`` overrides;
an unknown key, in the file or on the command line, is an error that names the nearest field.

>>> cfg = load_config(SFTArgs, None, {"steps": "3", "lora": "true"})
>>> cfg.steps, cfg.lora
(3, True)
>>> try:
...     load_config(SFTArgs, None, {"stpes": 3})
... except UserError as e:
...     print(e)
unknown setting 'stpes' for sft; did you mean 'steps'? (see `whygym train sft --help`)
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from whygym.errors import UserError
from whygym.items import PROB_TASKS
from whygym.scoring.rewards import DEFAULT_WEIGHTS, REWARD_NAMES, check_weights

__all__ = ["RunArgs", "TrainArgs", "SFTArgs", "DPOArgs", "KTOArgs", "GRPOArgs", "METHOD_CONFIGS", "load_config",
           "coerce_value", "config_to_dict"]

ALL_TASKS = list(PROB_TASKS)


def reward_ends(rewards: list[float], k: int = 5) -> tuple[float | None, float | None]:
    """(first, last): the means over the first and the last (up to) ``k`` logged rewards, as every trainer's
    summary reports them (one step's reward, over a few prompts, is noisy); ``(None, None)`` when empty."""
    k = min(k, len(rewards))
    return (sum(rewards[:k]) / k, sum(rewards[-k:]) / k) if k else (None, None)


def out_of_budget(elapsed_s: float, minutes: float, step_times: list[float]) -> bool:
    """Whether a trainer with a wall-clock budget of ``minutes`` (0: none) should stop after a step: the
    budget is spent, or the next step, predicted as the mean of the last three, would pass it. Every trainer
    stops by this rule, so a run ends within its budget (give or take the last save), not one step after it.

    >>> out_of_budget(50, 1.0, [20.0]), out_of_budget(30, 1.0, [20.0, 20.0]), out_of_budget(61, 1.0, [])
    (True, False, True)
    """
    if minutes <= 0:
        return False
    budget = minutes * 60
    recent = step_times[-3:]
    return elapsed_s >= budget or (bool(recent) and elapsed_s + sum(recent) / len(recent) > budget)


def _f(default, help: str, **kw):
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass
class RunArgs:
    """Settings of every trainer, the TRL methods and PPO alike: the model, the generated data, the optimiser's
    step budget, LoRA, logging and checkpoints (``OUT/checkpoints/checkpoint-N``)."""

    model: str = _f("default", "model to train: 'default' (SmolLM2-135M-Instruct) or a checkpoint directory")
    seed: int = _f(0, "seed of the trainer (data order, sampling, LoRA init)")
    tasks: list = _f(list(ALL_TASKS), "tasks to generate training items for")
    n_train: int = _f(100, "generated training items per task (before removing held-out overlaps)")
    train_seed: int = _f(1, "generator seed of the training items")
    heldout_n: int = _f(10, "held-out test items per task; training items sharing their graph and question "
                            "are dropped (evaluate with --benchmark gen:all:HELDOUT_N:HELDOUT_SEED)")
    heldout_seed: int = _f(1000, "generator seed of the held-out test items")
    nodes: list = _f([3, 6], "graph sizes of the generated items, [min, max]")
    no_path_rate: float = _f(1 / 3, "share of generated training questions whose answer is a structural 0 (no "
                                    "causal path of the kind the task needs; PN/PS always have one); CaLM's is 1/3")
    suite_mix: dict = _f({}, "robustness suites mixed into the training items, {suite: share}: per task, "
                             "round(share * n_train) items of that suite (whygym's own suite generator, seed "
                             "train_seed + 100; e.g. {rephrased: 0.1, insufficient: 0.1}); SFT, GRPO and PPO data")
    lr: float = _f(5e-5, "learning rate")
    steps: int = _f(30, "optimizer steps (max_steps)")
    minutes: float = _f(0.0, "wall-clock budget in minutes: training stops when the next step would pass it "
                             "(predicted from the last steps) or after the step that does (0 = no budget)")
    batch_size: int = _f(4, "per-device batch size (rows; for GRPO: completions)")
    lora: bool = _f(False, "train a LoRA adapter (merged into the final model) instead of all weights")
    lora_r: int = _f(16, "LoRA rank")
    lora_alpha: int = _f(32, "LoRA alpha")
    lora_targets: list = _f(["q_proj", "k_proj", "v_proj", "o_proj"], "modules LoRA adapts")
    logging_steps: int = _f(1, "log every N steps (to train_log.jsonl)")
    save_steps: int = _f(20, "save a resumable checkpoint every N steps (OUT/checkpoints)")
    save_total_limit: int = _f(2, "checkpoints kept")

    method = "base"

    def validate(self) -> None:
        """The data settings (UserError): graph sizes, the share of structural zeros, the suite mix, the tasks."""
        if not (isinstance(self.nodes, list) and len(self.nodes) == 2 and 3 <= self.nodes[0] <= self.nodes[1] <= 12):
            raise UserError(f"nodes must be [min, max] within 3..12, got {self.nodes}")
        if not 0 <= self.no_path_rate <= 1:
            raise UserError(f"no_path_rate must be in [0, 1], got {self.no_path_rate}")
        check_suite_mix(self.suite_mix)
        from whygym.tasks import TASKS

        bad = [t for t in self.tasks if str(t).upper() not in TASKS]
        if bad or not self.tasks:
            raise UserError(f"unknown task(s) {bad} in tasks; known: {', '.join(TASKS)}")


@dataclass
class TrainArgs(RunArgs):
    """Settings shared by the TRL methods (SFT, DPO, KTO, GRPO): :class:`RunArgs` and the target style, the
    sequence length, the schedule and the precision."""

    derivation: str = _f("calm", "target style: 'calm' (the engine's steps), 'spelled' (arithmetic worked "
                                 "line by line), 'calculator' (computations as <<EXPR=VALUE>> calls, for "
                                 "eval --tools calculator), 'named' (calculator, variables by their names), "
                                 "'worded' (named, values by their words), 'traced' (worded, the treatment's "
                                 "edges listed) or 'answer' (answer JSON only)")
    grad_accum: int = _f(1, "gradient accumulation steps")
    max_length: int = _f(768, "maximum tokens of prompt plus completion (longer rows are truncated)")
    lora_dropout: float = _f(0.05, "LoRA dropout")
    lr_scheduler: str = _f("constant", "learning-rate schedule (transformers name: constant, linear, cosine)")
    warmup_steps: int = _f(0, "learning-rate warm-up steps")
    bf16: bool = _f(False, "bf16 mixed precision (only used on a GPU; CPU runs are always fp32)")
    activation_checkpointing: bool = _f(False, "recompute activations in backward to save memory")
    group_by_length: bool = _f(False, "SFT: put rows of similar token length in one batch (less padding "
                                      "computed: ~1/4 of an SFT batch's tokens are padding with random batches "
                                      "of 4 recipe rows); the data order changes, the rows do not")

    def validate(self) -> None:
        from whygym.train.data import DERIVATION_STYLES

        if self.derivation not in DERIVATION_STYLES:
            raise UserError(f"derivation {self.derivation!r} is not a style; use one of {', '.join(DERIVATION_STYLES)}")
        super().validate()
        for name in ("steps", "batch_size", "grad_accum", "n_train", "max_length", "logging_steps", "save_steps"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.minutes < 0 or self.lr <= 0:
            raise UserError(f"minutes must be >= 0 and lr > 0 (got {self.minutes}, {self.lr})")
        if self.group_by_length and self.method != "sft":
            raise UserError(f"group_by_length is an SFT setting (its rows are one sequence each); {self.method} "
                            "batches pairs or groups: set it false")


def check_suite_mix(mix: Any) -> None:
    """A ``suite_mix`` names known suites with shares in [0, 1] (UserError otherwise)."""
    from whygym.tasks.suites import SUITES

    if not isinstance(mix, Mapping):
        raise UserError(f"suite_mix must be a mapping {{suite: share}}, got {mix!r}")
    for name, share in mix.items():
        if name not in SUITES:
            near = difflib.get_close_matches(str(name), list(SUITES), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise UserError(f"suite_mix: unknown suite {name!r}{hint}; known: {', '.join(SUITES)}")
        if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 <= share <= 1:
            raise UserError(f"suite_mix: the share of {name} must be a number in [0, 1], got {share!r}")


def shared_field(name: str):
    """The field ``name`` of :class:`RunArgs` (its default and help text), for configs that are not a
    RunArgs but take the same data settings (the recipe): one definition of each."""
    f = RunArgs.__dataclass_fields__[name]
    if f.default_factory is not dataclasses.MISSING:
        return field(default_factory=f.default_factory, metadata=f.metadata)
    return field(default=f.default, metadata=f.metadata)


@dataclass
class SFTArgs(TrainArgs):
    """Supervised fine-tuning on the engine's derivations (loss on the completion only)."""

    lr: float = _f(5e-5, "learning rate")
    method = "sft"


@dataclass
class DPOArgs(TrainArgs):
    """Direct preference optimisation: correct derivation vs one with a single realistic error."""

    lr: float = _f(5e-6, "learning rate")
    beta: float = _f(0.1, "DPO beta (strength of the pull towards the reference model)")
    loss_type: str = _f("sigmoid", "DPO loss (TRL name: sigmoid, ipo, ...)")
    errors: list = _f(["wrong_adjustment_set", "sign_flip", "wrong_formula", "arithmetic_slip"],
                      "error types of the rejected derivations")
    policy_samples: str = _f("", "samples.jsonl from `whygym eval` on training items: a wrong sample of the "
                                 "policy becomes the rejected answer of its item (empty: synthetic errors only)")
    method = "dpo"


@dataclass
class KTOArgs(TrainArgs):
    """Kahneman-Tversky optimisation on unpaired desirable / undesirable derivations."""

    lr: float = _f(5e-6, "learning rate")
    beta: float = _f(0.1, "KTO beta")
    desirable_ratio: float = _f(1.0, "desirable rows per undesirable row (1.0 = 1:1)")
    desirable_weight: float = _f(1.0, "loss weight of desirable rows")
    undesirable_weight: float = _f(1.0, "loss weight of undesirable rows")
    errors: list = _f(["wrong_adjustment_set", "sign_flip", "wrong_formula", "arithmetic_slip"],
                      "error types of the undesirable derivations")
    policy_samples: str = _f("", "samples.jsonl from `whygym eval`: wrong samples become undesirable rows")
    method = "kto"


@dataclass
class GRPOArgs(TrainArgs):
    """Group relative policy optimisation with whygym's verifiable rewards."""

    lr: float = _f(1e-6, "learning rate")
    batch_size: int = _f(4, "completions per device and step (a multiple of num_generations)")
    num_generations: int = _f(4, "completions sampled per prompt (the group)")
    max_completion_length: int = _f(256, "maximum generated tokens per completion")
    temperature: float = _f(1.0, "sampling temperature")
    beta: float = _f(0.0, "KL coefficient against the reference model (0: no reference model)")
    reward_weights: dict = _f(dict(DEFAULT_WEIGHTS), "weights of the whygym.scoring rewards, each its own TRL "
                              "reward function: " + ", ".join(REWARD_NAMES))
    closeness_scale: float = _f(0.02, "error scale of the closeness reward (exp(-|err|/scale))")
    closeness_kind: str = _f("exp", "closeness credit: 'exp' (graded) or 'digits' (leading correct decimals)")
    direction_weight: float = _f(0.2, "share of the closeness reward given for the right sign / range")
    use_vllm: bool = _f(False, "generate with vLLM (needs the vllm package and a GPU)")
    vllm_mode: str = _f("colocate", "vLLM mode: 'colocate' (same process) or 'server' (trl vllm-serve)")
    log_completions: bool = _f(False, "print sample completions while training")
    tools: str = _f("none", "tool-integrated rollouts: 'calculator' (each <<EXPR= the policy writes gets its exact "
                            "value and >>, left out of the loss; whygym.train.rollout) or 'none'")
    method = "grpo"

    def validate(self) -> None:
        super().validate()
        if self.num_generations < 2:
            raise UserError(f"num_generations must be >= 2 (a group needs two samples), got {self.num_generations}")
        if (self.batch_size * self.grad_accum) % self.num_generations:
            raise UserError(f"batch_size x grad_accum ({self.batch_size} x {self.grad_accum}) must be a multiple of "
                            f"num_generations ({self.num_generations})")
        try:
            check_weights(self.reward_weights)
        except ValueError as e:
            raise UserError(f"reward_weights: {e}") from None
        from whygym.models.tools import parse_tools

        try:
            spec = parse_tools(self.tools)
        except ValueError as e:
            raise UserError(f"tools: {e}") from None
        if spec is not None and self.use_vllm:
            raise UserError("tools: the calculator runs in whygym's own rollouts (transformers generate), not in "
                            "vLLM's; set use_vllm false, or tools none")


METHOD_CONFIGS: dict[str, type] = {"sft": SFTArgs, "dpo": DPOArgs, "kto": KTOArgs, "grpo": GRPOArgs}


def _base_type(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0]) if args else str
    return origin or tp


def coerce_value(name: str, value: Any, tp: Any, where: str) -> Any:
    """A YAML or command-line value converted to the field's type (strings are read as YAML scalars)."""
    import yaml

    base = _base_type(tp if not isinstance(tp, str) else eval(tp, vars(typing) | {"types": types}))  # noqa: S307
    if isinstance(value, str) and base is not str:
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise UserError(f"{where}: {name}={value!r} is not a valid value ({e})") from None
    if value is None:
        return None
    try:
        if base is bool:
            if not isinstance(value, bool):
                raise TypeError
            return value
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if base is float:
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if base is str:
            return str(value)
        if base is list:
            return list(value) if isinstance(value, (list, tuple)) else [value]
        if base is dict:
            if not isinstance(value, dict):
                raise TypeError
            return dict(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: {name} must be a {getattr(base, '__name__', base)}, got {value!r}") from None
    return value


def load_config(cls: type, path: str | Path | None, overrides: Mapping[str, Any] | None = None,
                method: str | None = None):
    """``cls`` from a YAML file (optional) and ``overrides`` (later wins); unknown keys name the nearest field."""
    import yaml

    method = method or getattr(cls, "method", cls.__name__)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    sources: list[tuple[str, Mapping[str, Any]]] = []
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"config file {p} does not exist; the defaults live in configs/{method}.yaml")
        try:
            doc = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise UserError(f"{p}: not valid YAML ({e})") from None
        if not isinstance(doc, dict):
            raise UserError(f"{p}: expected a mapping of setting: value, got {type(doc).__name__}")
        sources.append((str(p), doc))
    if overrides:
        sources.append(("command line", overrides))
    renamed = getattr(cls, "RENAMED", {})
    for where, doc in sources:
        for k, v in doc.items():
            key = str(k).replace("-", "_")
            if key in renamed and where != "command line":  # (the command line's aliases say it themselves)
                print(f"whygym: {where}: setting {key!r} is deprecated; use {renamed[key]!r}", file=sys.stderr)
            key = renamed.get(key, key)
            if key not in fields:
                near = difflib.get_close_matches(key, list(fields), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise UserError(f"unknown setting {key!r} for {method}{hint} (see `whygym train {method} --help`)"
                                if where == "command line" else
                                f"{where}: unknown setting {key!r} for {method}{hint} "
                                f"(see `whygym train {method} --help`)")
            values[key] = coerce_value(key, v, hints.get(key, fields[key].type), where)
    cfg = cls(**values)
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg


def config_to_dict(cfg) -> dict[str, Any]:
    return dataclasses.asdict(cfg)
