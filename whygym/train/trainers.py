"""Running SFT, DPO, KTO and GRPO with TRL 1.16 on whygym's generated data.

:func:`train` is the one entry point (``whygym train METHOD`` calls it)::

    OUT/checkpoints/checkpoint-N/   resumable (``--resume`` continues from the last one)
    OUT/final/                      the trained model, LoRA merged: a plain transformers checkpoint with the
                                    tokenizer and chat template (``whygym eval --model OUT/final``)
    OUT/train_log.jsonl             one line per logged step: loss, reward, zero-signal fraction, step time
    OUT/train_summary.json          config, data report, steps, wall time, final figures
    OUT/data/train.jsonl            the training rows

On CPU the TRL configs always get ``use_cpu=True, bf16=False`` (their bf16 default fails there).
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from whygym.errors import UserError
from whygym.items import atomic_write_text
from whygym.train.config import DPOArgs, GRPOArgs, KTOArgs, TrainArgs, config_to_dict, out_of_budget, reward_ends

__all__ = ["train", "build_dataset", "load_model", "save_final", "TRAIN_COLUMNS"]

#: The dataset columns each trainer reads (the RL rewards: gold and task; the process reward: reason, given
#: and names too, see :func:`whygym.train.data.rl_rows`).
_RL_COLUMNS = ["prompt", "gold", "task", "reason", "given", "names", "values"]
TRAIN_COLUMNS = {"sft": ["prompt", "completion"], "dpo": ["prompt", "chosen", "rejected"],
                 "kto": ["prompt", "completion", "label"], "grpo": _RL_COLUMNS, "ppo": _RL_COLUMNS}


def _method_of(cfg: TrainArgs) -> str:
    return getattr(cfg, "method", "base")


# ------------------------------------------------------------------------------------------------ data
def build_dataset(cfg, method: str | None = None) -> tuple[list[dict], dict]:
    """The training rows of ``cfg`` (a :class:`~whygym.train.config.RunArgs`: a TRL method's :class:`TrainArgs`
    or a :class:`~whygym.train.ppo_config.PPOConfig`) and a report (generated, dropped for held-out overlap,
    rows, errors)."""
    from whygym.tasks.generate import GenConfig
    from whygym.train import data

    method = method or _method_of(cfg)
    report = data.DataReport()
    heldout = data.heldout_items(cfg.tasks, cfg.heldout_n, cfg.heldout_seed)  # as `gen:` evaluates them
    gen = GenConfig(nodes=(int(cfg.nodes[0]), int(cfg.nodes[1])),
                    no_path_rate=float(cfg.no_path_rate))
    items = data.train_items(cfg.tasks, cfg.n_train, cfg.train_seed, gen, heldout=heldout, report=report)
    mix = dict(cfg.suite_mix or {})
    if mix and method in ("dpo", "kto"):
        raise UserError(f"suite_mix is for SFT, GRPO and PPO data; {method} pairs need engine-made wrong "
                        "derivations, which suite items do not have")
    if mix:
        items += data.suite_items(mix, cfg.tasks, cfg.n_train, cfg.train_seed + 100, heldout=heldout, report=report)
    policy = data.read_policy_samples(cfg.policy_samples) if getattr(cfg, "policy_samples", "") else None
    if method == "sft":
        rows = data.sft_rows(items, cfg.derivation, report=report)
    elif method == "dpo":
        rows = data.dpo_rows(items, cfg.derivation, cfg.errors, policy, seed=cfg.seed, report=report)
    elif method == "kto":
        rows = data.kto_rows(items, cfg.derivation, cfg.desirable_ratio, cfg.errors, policy, seed=cfg.seed,
                             report=report)
    elif method in ("grpo", "ppo"):
        rows = data.rl_rows(items, report=report)
    else:
        raise UserError(f"unknown method {method!r}")
    if not rows:
        raise UserError(f"no training rows for {method}: raise n_train (now {cfg.n_train}) or check tasks")
    return rows, report.to_dict()


def drop_long_rows(rows: list[dict], method: str, tokenizer, max_length: int) -> tuple[list[dict], int]:
    """Rows whose chat-templated prompt plus (longest) completion fits in ``max_length`` tokens, and the number
    dropped. Dropping, not truncating: a truncated target loses its final answer, which is the point of it.
    RL rows are checked on the prompt alone."""
    keep, dropped = [], 0
    for r in rows:
        if method in ("grpo", "ppo"):
            conv = [r["prompt"]]
        elif method == "dpo":
            conv = [r["prompt"] + r["chosen"], r["prompt"] + r["rejected"]]
        else:
            conv = [r["prompt"] + r["completion"]]
        n = max(len(tokenizer.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"]) for c in conv)
        if n <= max_length:
            keep.append(r)
        else:
            dropped += 1
    return keep, dropped


def _to_dataset(rows: list[dict], method: str):
    import datasets

    cols = TRAIN_COLUMNS[method]
    return datasets.Dataset.from_list([{k: r[k] for k in cols} for r in rows])


# ----------------------------------------------------------------------------------------------- model
def load_model(spec: str):
    """(model, tokenizer) in fp32 from ``default`` or a checkpoint directory; a GGUF quantizer marker is removed
    (the converted default model has none; a model loaded with ``gguf_file=`` would carry one)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from whygym.models import resolve_model

    path = resolve_model(spec)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model, tok


def _prepare_tokenizer(tok) -> None:
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not getattr(tok, "chat_template", None):
        raise UserError("the tokenizer has no chat template; whygym trains on chat prompts")


def save_final(model, tok, out: Path) -> Path:
    """Save ``model`` (LoRA merged into the weights) and its tokenizer to ``out`` as a plain checkpoint."""
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft is a dependency
        PeftModel = ()  # type: ignore[assignment]
    m = model
    if PeftModel and isinstance(m, PeftModel):
        m = m.merge_and_unload()
    m = getattr(m, "module", m)  # unwrap DDP
    out.mkdir(parents=True, exist_ok=True)
    m.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


# -------------------------------------------------------------------------------------------- callbacks
def _callbacks(log_path: Path, minutes: float, t_start: float):
    from transformers import TrainerCallback

    class JsonlLog(TrainerCallback):
        """Appends every log record with the step, wall time and mean seconds per step since the last one."""

        def __init__(self):
            self.last_t = time.perf_counter()
            self.last_step = 0
            self.step_times: list[float] = []
            self._t0 = None

        def on_step_begin(self, args, state, control, **kw):
            self._t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if self._t0 is not None:
                self.step_times.append(time.perf_counter() - self._t0)

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero:
                return
            now = time.perf_counter()
            rec = {"step": state.global_step, "wall_s": round(now - t_start, 3)}
            dsteps = state.global_step - self.last_step
            if dsteps > 0:
                rec["step_time_s"] = round((now - self.last_t) / dsteps, 4)
            self.last_t, self.last_step = now, state.global_step
            for k, v in (logs or {}).items():
                rec[k] = v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
            if "frac_reward_zero_std" in rec:  # GRPO: the share of groups whose rewards are all equal (TRL's)
                rec["zero_signal_frac"] = rec["frac_reward_zero_std"]
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")

    log = JsonlLog()

    class TimeBudget(TrainerCallback):
        """Stops training when the next step would pass the wall-clock budget, or after the step that does
        (:func:`whygym.train.config.out_of_budget`), and saves a checkpoint there."""

        def __init__(self):
            self.hit = False

        def on_step_end(self, args, state, control, **kw):
            if out_of_budget(time.perf_counter() - t_start, minutes, log.step_times):
                self.hit = True
                control.should_training_stop = True
                control.should_save = True

    return log, TimeBudget()


# ------------------------------------------------------------------------------------------------ train
def _trl_common(cfg: TrainArgs, ckpt_dir: Path, use_cpu: bool) -> dict[str, Any]:
    return dict(output_dir=str(ckpt_dir), max_steps=cfg.steps, per_device_train_batch_size=cfg.batch_size,
                gradient_accumulation_steps=cfg.grad_accum, learning_rate=cfg.lr,
                lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_steps, logging_steps=cfg.logging_steps,
                save_strategy="steps", save_steps=cfg.save_steps, save_total_limit=cfg.save_total_limit,
                report_to=[], use_cpu=use_cpu, bf16=bool(cfg.bf16 and not use_cpu), seed=cfg.seed,
                activation_checkpointing=cfg.activation_checkpointing, disable_tqdm=True)


def _check_vllm(cfg: GRPOArgs) -> None:
    if not cfg.use_vllm:
        return
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise UserError("use_vllm is set but the vllm package is not installed; install it on a GPU machine "
                        "(`pip install vllm`, version supported by trl 1.16) or set use_vllm: false")


def train(method: str, cfg: TrainArgs, out_dir: str | os.PathLike, *, model=None, tokenizer=None,
          dataset=None, reward_fn=None, resume: bool = False, argv: list[str] | None = None) -> dict:
    """Train with ``method`` (sft, dpo, kto, grpo) under ``cfg``; write OUT (module docstring); return the summary.

    ``model``/``tokenizer`` replace ``cfg.model`` (tests pass a tiny model); ``dataset`` (rows or a
    ``datasets.Dataset`` with the method's :data:`TRAIN_COLUMNS`) replaces the generated data; ``reward_fn``
    (GRPO, TRL signature) replaces the configured whygym rewards.
    """
    import torch
    import trl

    if method not in ("sft", "dpo", "kto", "grpo"):
        raise UserError(f"unknown method {method!r}; use sft, dpo, kto or grpo (ppo: whygym.train.ppo)")
    cfg.validate()
    if method == "grpo":
        _check_vllm(cfg)  # before any data or model work
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / "checkpoints"
    log_path = out / "train_log.jsonl"
    t_start = time.perf_counter()

    last_ckpt = None
    if resume:
        from transformers.trainer_utils import get_last_checkpoint

        last_ckpt = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
        if last_ckpt is None:
            raise UserError(f"--resume: no checkpoint in {ckpt_dir}; start without --resume")
    elif log_path.exists():
        log_path.unlink()  # a fresh run starts a fresh log

    # model
    if model is None:
        model, tokenizer = load_model(cfg.model)
    elif tokenizer is None:
        raise ValueError("pass the tokenizer together with the model")
    _prepare_tokenizer(tokenizer)
    # data (rows that do not fit max_length are dropped, see drop_long_rows)
    report: dict[str, Any] = {}
    if dataset is None:
        rows, report = build_dataset(cfg, method)
        rows, report["dropped_too_long"] = drop_long_rows(rows, method, tokenizer, cfg.max_length)
        report["rows"] = len(rows)
        if not rows:
            raise UserError(f"every training row is longer than max_length={cfg.max_length} tokens; raise it")
        (out / "data").mkdir(exist_ok=True)
        atomic_write_text(out / "data" / "train.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                                for r in rows))
        dataset = _to_dataset(rows, method)
    elif isinstance(dataset, list):
        dataset = _to_dataset(dataset, method)

    use_cpu = not torch.cuda.is_available()
    peft_config = None
    if cfg.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                 target_modules=list(cfg.lora_targets), task_type="CAUSAL_LM")

    common = _trl_common(cfg, ckpt_dir, use_cpu)
    log_cb, budget_cb = _callbacks(log_path, cfg.minutes, t_start)
    kw: dict[str, Any] = dict(model=model, train_dataset=dataset, processing_class=tokenizer,
                              callbacks=[log_cb, budget_cb], peft_config=peft_config)
    reward = None
    if method == "sft":
        # group_by_length: rows of similar token length share a batch (transformers' LengthGroupedSampler,
        # over TRL's tokenized input_ids), so less padding is computed; the rows seen are the same
        args = trl.SFTConfig(**common, max_length=cfg.max_length, completion_only_loss=True,
                             train_sampling_strategy="group_by_length" if cfg.group_by_length else "random")
        trainer = trl.SFTTrainer(args=args, **kw)
    elif method == "dpo":
        assert isinstance(cfg, DPOArgs)
        args = trl.DPOConfig(**common, max_length=cfg.max_length, beta=cfg.beta, loss_type=[cfg.loss_type])
        # an in-memory policy has no hub id to rebuild the reference from: give TRL a frozen copy
        ref = None if cfg.lora else copy.deepcopy(model).eval()
        trainer = trl.DPOTrainer(args=args, ref_model=ref, **kw)
    elif method == "kto":
        assert isinstance(cfg, KTOArgs)
        args = trl.KTOConfig(**common, max_length=cfg.max_length, beta=cfg.beta,
                             desirable_weight=cfg.desirable_weight, undesirable_weight=cfg.undesirable_weight)
        ref = None if cfg.lora else copy.deepcopy(model).eval()
        trainer = trl.KTOTrainer(args=args, ref_model=ref, **kw)
    else:
        assert isinstance(cfg, GRPOArgs)
        from whygym.scoring.rewards import reward_functions

        # each reward its own function with its weight: TRL logs them apart (rewards/<name>/mean) and
        # measures the groups without signal itself (frac_reward_zero_std)
        if reward_fn is not None:
            funcs, weights = [reward_fn], [1.0]
        else:
            funcs, weights = reward_functions(cfg.reward_weights, cfg.closeness_scale, cfg.direction_weight,
                                              cfg.closeness_kind)
        reward = funcs
        extra = {"vllm_mode": cfg.vllm_mode} if cfg.use_vllm else {}
        args = trl.GRPOConfig(**common, num_generations=cfg.num_generations,
                              max_completion_length=cfg.max_completion_length, temperature=cfg.temperature,
                              beta=cfg.beta, use_vllm=cfg.use_vllm, log_completions=cfg.log_completions,
                              reward_weights=weights, **extra)
        from whygym.models.tools import parse_tools

        if parse_tools(cfg.tools) is not None:
            from whygym.train.rollout import ToolRollout

            kw["rollout_func"] = ToolRollout(cfg.tools)
        trainer = trl.GRPOTrainer(reward_funcs=funcs, args=args, **kw)

    result = trainer.train(resume_from_checkpoint=last_ckpt)
    final = out / "final"
    main_process = trainer.accelerator.is_main_process
    if getattr(trainer, "is_deepspeed_enabled", False) or getattr(trainer, "is_fsdp_enabled", False):
        trainer.save_model(str(final))  # gathers sharded weights (ZeRO-3 / FSDP); a LoRA run stays an adapter
        if main_process:
            tokenizer.save_pretrained(final)
    elif main_process:
        save_final(trainer.model, tokenizer, final)
    wall = time.perf_counter() - t_start

    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary: dict[str, Any] = {
        "method": method, "config": config_to_dict(cfg), "data": report or {"rows": len(dataset)},
        "steps": trainer.state.global_step, "resumed_from": last_ckpt, "stopped_by_budget": budget_cb.hit,
        "wall_s": round(wall, 2), "train_runtime_s": round(result.metrics.get("train_runtime", 0.0), 2),
        "mean_step_s": round(sum(log_cb.step_times) / len(log_cb.step_times), 4) if log_cb.step_times else None,
        "first_loss": losses[0] if losses else None, "final_loss": losses[-1] if losses else None,
        "final_dir": str(final), "device": "cpu" if use_cpu else "cuda",
        "world_size": int(getattr(trainer.args, "world_size", 1) or 1),  # processes under accelerate launch
        "versions": {"torch": torch.__version__, "trl": trl.__version__},
        "command": " ".join(argv if argv is not None else ["python"] + sys.argv),
    }
    if reward is not None:
        h = [x["frac_reward_zero_std"] for x in trainer.state.log_history if "frac_reward_zero_std" in x]
        summary["zero_signal_frac_mean"] = round(sum(h) / len(h), 4) if h else None
        summary["reward_first"], summary["reward_last"] = reward_ends(
            [x["reward"] for x in trainer.state.log_history if "reward" in x])
    if main_process:
        atomic_write_text(out / "train_summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    return summary
