"""Realistic run folders for the report tests, written by the real code or in the schema it writes."""

from __future__ import annotations

import hashlib
import json
import math
import random
from pathlib import Path

from whygym.cli import main

BENCH = "gen:ATE,PN:6:0"


# ------------------------------------------------------------------------------------------- run folders
def _mock_model(gold_by_prompt: dict[str, dict], right_per_100: int):
    """A model that is right for about ``right_per_100`` prompts in 100, wrong or unparseable otherwise."""
    def respond(prompt: str) -> str:
        g = gold_by_prompt[prompt]
        h = int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 100
        if h < right_per_100:
            label = g.get("label") or "yes"
            return json.dumps({"ANSWER": label.capitalize(), "PROB": f"{g['prob']:.4f}"})
        if h >= 88:
            return "Let me think.\nThe effect is unclear, so I cannot give a number."
        return json.dumps({"ANSWER": "No", "PROB": "0.1234"})
    return respond


def write_eval_pair(root: Path) -> None:
    """``root/before`` and ``root/after``: real ``run_eval`` runs of a scripted model that improves."""
    from whygym.eval import EvalConfig, load_items, run_eval
    from whygym.models.mock import MockBackend

    gold = {it.prompt: it.gold for it in load_items(BENCH, None, None)}
    for side, right in (("before", 30), ("after", 75)):
        run_eval(EvalConfig(model="mock:scripted", benchmarks=[BENCH], out=str(root / side)),
                 backend=MockBackend(_mock_model(gold, right), name=f"scripted-{side}"),
                 argv=["whygym", "eval", "--model", f"runs/{side}", "--benchmark", BENCH, "--out", str(root / side)],
                 progress=False, echo=None)


def write_grpo_train(out: Path, steps: int = 24) -> None:
    """A GRPO training folder as :func:`whygym.train.trainers.train` writes it (TRL's log keys)."""
    rnd = random.Random(1)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in range(1, steps + 1):
        reward = 0.15 + 0.5 * (1 - math.exp(-s / 8)) + rnd.gauss(0, 0.03)
        rows.append({"step": s, "wall_s": round(2.1 * s, 3), "step_time_s": 2.1, "loss": round(0.02 * math.exp(-s / 10)
                     + rnd.gauss(0, 0.002), 6), "grad_norm": 0.5, "learning_rate": 1e-5,
                     "rewards/whygym_reward/mean": reward, "reward": reward, "reward_std": 0.2,
                     "frac_reward_zero_std": max(0.0, 0.8 - s / 30), "zero_signal_frac": max(0.0, 0.8 - s / 30),
                     "entropy": 2.0, "epoch": s / steps})
    rows.append({"step": steps, "wall_s": 51.0, "train_runtime": 50.2, "train_loss": 0.01, "epoch": 1.0})
    (out / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = {"method": "grpo", "config": {"model": "default", "steps": steps, "num_generations": 4, "lr": 1e-5},
               "data": {"rows": 64}, "steps": steps, "resumed_from": None, "stopped_by_budget": False, "wall_s": 51.3,
               "train_runtime_s": 50.2, "mean_step_s": 2.1, "first_loss": rows[0]["loss"],
               "final_loss": rows[steps - 1]["loss"], "final_dir": str(out / "final"), "device": "cpu",
               "versions": {"torch": "2.13.0", "trl": "1.16.0"},
               "command": "whygym train grpo --config configs/grpo.yaml --out runs/grpo",
               "zero_signal_frac_mean": 0.42, "reward_first": rows[0]["reward"], "reward_last": rows[steps - 1]["reward"]}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2))


def write_ppo_train(out: Path, steps: int = 16) -> None:
    """A PPO folder with :data:`whygym.train.ppo.LOG_KEYS` rows (no ``loss``, no zero-signal fraction)."""
    from whygym.train.ppo import LOG_KEYS

    rnd = random.Random(2)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in range(1, steps + 1):
        vals = {k: 0.0 for k in LOG_KEYS}
        vals.update(step=s, reward=0.1 + 0.03 * s + rnd.gauss(0, 0.02), policy_loss=-0.04 + rnd.gauss(0, 0.01),
                    value_loss=0.9 * math.exp(-s / 6), kl_coef=0.05, lr=1e-5, step_time_s=3.0, wall_s=3.0 * s)
        rows.append({k: vals[k] for k in LOG_KEYS})
    (out / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "train_summary.json").write_text(json.dumps(
        {"method": "ppo", "steps": steps, "start_step": 0, "steps_run": steps, "resumed_from": None,
         "reward_first": 0.14, "reward_last": 0.55, "kl_coef": 0.05, "trainable_params": 1000, "wall_s": 48.0,
         "device": "cpu",
         "config": {"lr": 1e-5, "steps": steps}}, indent=1))


def layers_section(n_layers: int = 4, n_items: int = 3) -> dict:
    """A ``layers`` section in the shape :func:`whygym.attribution.layers.layer_attribution` returns."""
    rnd = random.Random(3)

    def ci(mu):
        per = [mu + rnd.gauss(0, 0.3) for _ in range(n_items)]
        p = sum(per) / n_items
        return {"point": p, "low": p - 0.4, "high": p + 0.4, "n": n_items, "per_item": per}

    rows = []
    for i in range(n_layers):
        for kind, mod in (("attention", "self_attn"), ("mlp", "mlp")):
            rows.append({"module": f"model.layers.{i}.{mod}", "layer": i, "kind": kind,
                         "mean_ablation": ci(-2.5 / (i + 1) if kind == "mlp" else -0.5 * i),
                         "patching": ci(-1.0 + 0.2 * i), "recovered": ci(0.3)})
    ranking = {m: [r["module"] for r in sorted(rows, key=lambda r: -abs(r[m]["point"]))]
               for m in ("mean_ablation", "patching")}
    return {"modules": [r["module"] for r in rows], "methods": ["mean_ablation", "patching"],
            "baseline": {"clean_logp": [-3.1, -2.7, -4.0], "counterfactual_logp": [-5.0, -4.2, -6.1],
                         "patch_alignment": "whole sequence when token lengths match"},
            "rows": rows, "ranking": ranking, "n_items": n_items, "counterfactual": {"names": "fake"},
            "model": {"name": "tiny-llama"}, "benchmark": "gen:ATE:4:0",
            "argv": ["attribute", "--layers", "--model", "default", "--out", "runs/attr"], "wall_seconds": 3.0}


def write_attribution(out: Path) -> None:
    """Real ``whygym attribute`` runs (scripted model: prompt components; mock: discovery) plus a layers section."""
    import sys

    saved = sys.argv
    try:  # the attribute command records sys.argv: make it the command line a user would have typed
        for argv in (["attribute", "--model", "scripted:data", "--benchmark", "gen:ATE,NDE:4:0", "--components",
                      "names,data", "--out", str(out), "--n-boot", "100", "--quiet"],
                     ["attribute", "--model", "mock:text=a -> b", "--discovery", "pairwise-uniform", "--trials", "3",
                      "--rows", "5", "--out", str(out), "--n-boot", "50", "--quiet"]):
            sys.argv = ["whygym"] + argv
            assert main(argv) == 0
    finally:
        sys.argv = saved
    doc = json.loads((out / "attribution.json").read_text())
    doc["layers"] = layers_section()
    (out / "attribution.json").write_text(json.dumps(doc, indent=2))
