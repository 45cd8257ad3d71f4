"""The recipe: SFT warm start on calculator derivations with a curriculum, then PPO with the calculator in the
rollouts and a process reward, within one wall-clock budget.

    whygym train recipe --config configs/recipe.yaml --out runs/recipe
    whygym eval --model runs/recipe/final --tools calculator --benchmark gen:all:10:1000 --out runs/recipe-eval

Stages (each a run of its own under OUT, skipped when its ``final/`` exists, so an interrupted recipe resumes at
the stage it was in; within a stage, ``--resume`` continues from the stage's last checkpoint):

1. ``OUT/sft-small``: SFT of ``model`` on graphs of ``small_nodes`` (short derivations first), the
   ``worded`` target style (``derivation``: every computation a ``<<EXPR=VALUE>>`` call, every variable written
   by its name from the prompt, not by the engine's letter, and every value by the prompt's word for it,
   ``P(wnse=high|ujmz=low)``; the path check is the first step of every target), structural zeros at
   ``no_path_rate``;
2. ``OUT/sft``: SFT of stage 1's model on graphs of ``nodes``, with ``suite_mix`` (robustness suites: rephrased
   prompts, no instruction, a needed number withheld with the answer ``LACK_CONDITION``) mixed in;
3. ``OUT/ppo``: PPO of stage 2's model (``rl_minutes`` > 0) with ``tools: calculator`` rollouts (the inserted
   values are the tool's, not the policy's actions) and the reward ``reward_weights`` over format, accuracy,
   closeness and ``process`` (the step verifier's credit for each verified step before the first wrong one,
   :mod:`whygym.scoring.verify`): a "no causal path" claim where a path exists is a wrong first step, so the
   structural-zero shortcut earns nothing there.

``OUT/final`` is a link to the last stage's ``final/``; ``OUT/recipe_summary.json`` records the stages, their
budgets and summaries. The budget ``minutes`` is split: ``sft_share`` of it to SFT (half to each stage),
``rl_minutes`` (the rest when 0) to PPO. On a GPU the same config runs unchanged (``accelerate launch``);
vLLM generation belongs to GRPO (``whygym train grpo --use-vllm true``), not to this PPO loop.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from whygym.errors import UserError
from whygym.train.config import _f, shared_field  # fields with their help text; data fields as TrainArgs'

__all__ = ["RecipeArgs", "run_recipe"]


@dataclass
class RecipeArgs:
    """SFT on calculator derivations (small graphs first), then PPO with the calculator and a process reward."""

    model: str = _f("default", "model to start from: 'default' (SmolLM2-135M-Instruct) or a checkpoint directory")
    minutes: float = _f(60.0, "wall-clock budget of the whole recipe in minutes (model loading included)")
    sft_share: float = _f(0.8, "share of the budget for the two SFT stages (split evenly)")
    rl_minutes: float = _f(0.0, "PPO budget in minutes (0: what the SFT stages leave of the budget; set "
                                "sft_share 1 and this 0 to skip PPO)")
    seed: int = _f(0, "seed of the trainers")
    tasks: list = shared_field("tasks")
    n_train: int = _f(300, "generated training items per task and stage (the budget decides how many are seen)")
    train_seed: int = _f(1, "generator seed of the training items (stage k uses train_seed + k)")
    heldout_n: int = shared_field("heldout_n")
    heldout_seed: int = shared_field("heldout_seed")
    small_nodes: list = _f([3, 4], "graph sizes of the first SFT stage, [min, max]")
    nodes: list = _f([3, 6], "graph sizes of the second SFT stage and of PPO, [min, max]")
    no_path_rate: float = _f(0.2, "share of structural-zero questions in the training items")
    suite_mix: dict = _f({}, "robustness suites mixed into the second SFT stage's items, {suite: share of "
                             "n_train per task} (e.g. {rephrased: 0.1, insufficient: 0.1})")
    derivation: str = _f("worded", "SFT target style: 'worded' (calculator calls, variables by their names and "
                                   "values by their words from the prompt), 'traced' (worded, the treatment's "
                                   "edges listed before the path check), 'named' (names, values 0/1) or "
                                   "'calculator' (calculator calls, the engine's node letters and 0/1)")
    sft_lr: float = _f(1e-4, "SFT learning rate")
    sft_batch_size: int = _f(4, "SFT rows per step")
    max_length: int = _f(1024, "SFT: longer rows are dropped")
    sft_group_by_length: bool = _f(False, "SFT: batch rows of similar token length (less padding computed, "
                                          "more rows per minute; bench/sft_throughput.py measures it)")
    rl_lr: float = _f(1e-5, "PPO learning rate")
    rl_batch_size: int = _f(8, "PPO prompts per rollout")
    rl_mini_batch_size: int = _f(4, "PPO sequences per optimizer step")
    rl_max_new_tokens: int = _f(384, "PPO completion length")
    rl_temperature: float = _f(0.7, "PPO sampling temperature")
    kl_coef: float = _f(0.05, "PPO per-token KL penalty")
    reward_weights: dict = _f({"format": 0.1, "accuracy": 0.4, "closeness": 0.2, "process": 0.3},
                              "PPO reward weights (format, accuracy, closeness, process)")
    save_steps: int = _f(20, "checkpoint every N steps in each stage")

    method = "recipe"

    def validate(self) -> None:
        if self.minutes <= 0:
            raise UserError(f"minutes must be > 0, got {self.minutes}")
        if not 0 < self.sft_share <= 1:
            raise UserError(f"sft_share must be in (0, 1], got {self.sft_share}")
        from whygym.train.data import CALCULATOR_STYLES

        if self.derivation not in CALCULATOR_STYLES:
            raise UserError(f"derivation must be one of {', '.join(CALCULATOR_STYLES)} (the tool is used at "
                            f"decoding), got {self.derivation!r}")
        if self.rl_minutes < 0:
            raise UserError(f"rl_minutes must be >= 0, got {self.rl_minutes}")
        from whygym.train.config import check_suite_mix

        check_suite_mix(self.suite_mix)
        from whygym.scoring.rewards import check_weights

        try:
            check_weights(self.reward_weights)
        except ValueError as e:
            raise UserError(f"reward_weights: {e}") from None


def _stage_budgets(cfg: RecipeArgs) -> tuple[float, float, float]:
    sft = cfg.minutes * cfg.sft_share / 2
    rl = cfg.rl_minutes if cfg.rl_minutes > 0 else cfg.minutes * (1 - cfg.sft_share)
    return sft, sft, rl


def _sft_args(cfg: RecipeArgs, model: str, nodes: list, minutes: float, stage: int):
    from whygym.train.config import SFTArgs

    return SFTArgs(model=model, seed=cfg.seed, tasks=list(cfg.tasks), n_train=cfg.n_train,
                   train_seed=cfg.train_seed + stage, heldout_n=cfg.heldout_n, heldout_seed=cfg.heldout_seed,
                   nodes=list(nodes), no_path_rate=cfg.no_path_rate, derivation=cfg.derivation, lr=cfg.sft_lr,
                   suite_mix=dict(cfg.suite_mix) if stage == 1 else {},
                   steps=1_000_000, minutes=minutes, batch_size=cfg.sft_batch_size, max_length=cfg.max_length,
                   group_by_length=cfg.sft_group_by_length, save_steps=cfg.save_steps)


def _ppo_config(cfg: RecipeArgs, model: str, minutes: float):
    from whygym.train.ppo_config import PPOConfig

    return PPOConfig(model=model, lr=cfg.rl_lr, steps=1_000_000, minutes=minutes, tasks=list(cfg.tasks),
                     n_train=cfg.n_train, train_seed=cfg.train_seed + 2, heldout_n=cfg.heldout_n,
                     heldout_seed=cfg.heldout_seed, nodes=list(cfg.nodes), no_path_rate=cfg.no_path_rate,
                     batch_size=cfg.rl_batch_size, mini_batch_size=cfg.rl_mini_batch_size,
                     max_new_tokens=cfg.rl_max_new_tokens, temperature=cfg.rl_temperature, kl_coef=cfg.kl_coef,
                     reward_weights=dict(cfg.reward_weights), tools="calculator", save_steps=cfg.save_steps,
                     seed=cfg.seed)


def _link_final(out: Path, target: Path) -> Path:
    link = out / "final"
    tmp = out / ".final.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(target, out), tmp)
    os.replace(tmp, link)  # atomic: OUT/final always names a complete model
    return link


def run_recipe(cfg: RecipeArgs, out_dir: str | os.PathLike, *, resume: bool = False,
               argv: list[str] | None = None) -> dict[str, Any]:
    """Run the stages that are not finished yet; return (and write) ``OUT/recipe_summary.json``."""
    from whygym.items import atomic_write_text
    from whygym.train.trainers import train

    cfg.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    b1, b2, b3 = _stage_budgets(cfg)
    stages: list[dict[str, Any]] = []
    model = cfg.model
    for k, (name, nodes, minutes) in enumerate((("sft-small", cfg.small_nodes, b1), ("sft", cfg.nodes, b2))):
        d = out / name
        if not (d / "final").is_dir():
            s = train("sft", _sft_args(cfg, model, nodes, minutes, k), d,
                      resume=resume and (d / "checkpoints").is_dir(), argv=argv)
        else:
            s = json.loads((d / "train_summary.json").read_text()) if (d / "train_summary.json").is_file() else {}
        stages.append({"stage": name, "minutes_budget": round(minutes, 3), "nodes": list(nodes),
                       "steps": s.get("steps"), "wall_s": s.get("wall_s"), "final_loss": s.get("final_loss")})
        model = str(d / "final")
    last = Path(model)
    if b3 > 0:
        from whygym.train.ppo import train_ppo
        from whygym.train.trainers import _to_dataset, build_dataset

        d = out / "ppo"
        if not (d / "final").is_dir():
            pcfg = _ppo_config(cfg, model, b3)
            rows, _ = build_dataset(pcfg)
            s = train_ppo(pcfg, d, dataset=_to_dataset(rows, "ppo"),
                          resume=resume and (d / "checkpoints").is_dir()) or {}
        else:
            s = json.loads((d / "train_summary.json").read_text()) if (d / "train_summary.json").is_file() else {}
        stages.append({"stage": "ppo", "minutes_budget": round(b3, 3), "nodes": list(cfg.nodes),
                       "steps": s.get("steps"), "wall_s": s.get("wall_s"),
                       "reward_first": s.get("reward_first"), "reward_last": s.get("reward_last")})
        last = d / "final"
    link = _link_final(out, last)
    summary = {"method": "recipe", "config": asdict(cfg), "stages": stages, "final_dir": str(link),
               "wall_s_this_call": round(time.perf_counter() - t0, 1), "argv": argv}
    atomic_write_text(out / "recipe_summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    return summary
