"""Precision fine-tuning vs plain LoRA at the same number of steps, judged by attribution on held-out items.

Run (after bench/attribution.py has written OUT/model and OUT/layers):

    OMP_NUM_THREADS=1 .venv/bin/python bench/attribution_precision.py --attr runs/attribution --steps 20

* precision: SFT with LoRA on the plan's targets (top-attributed modules) and the plan's data mix
  (``whygym.attribution.precision``), rows built by ``whygym.train.data.sft_rows``;
* plain: SFT with LoRA on the trainer's default targets (q/k/v/o_proj of every layer) and the generator's
  default items (names mixed fake/real/random), same steps, batch, learning rate and seeds;
* both, and the untrained model, are scored on held-out items (generator seed 1000, real names) under the
  names x data factorial by the log-probability of the gold answer (no generation, so it is cheap), giving
  per-arm means and CAK/CAD/MAK/MAD on log p(gold).

The trainer is called through its Python API ``whygym.train.trainers.train(method, cfg, out, dataset=rows)``,
which is where ``whygym train METHOD --from-attribution FILE`` plugs the plan in.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np


def _plan(attr: Path) -> dict:
    from whygym.attribution.precision import plan_from_attribution

    doc = json.loads((attr / "model" / "attribution.json").read_text())
    lay = attr / "layers" / "attribution.json"
    if lay.exists():
        doc["layers"] = json.loads(lay.read_text())["layers"]
    return plan_from_attribution(doc)


def _score(model_spec: str, items, design) -> dict:
    from whygym.attribution import attribution_scores, build_arms
    from whygym.models import load_backend

    be = load_backend(model_spec, bf16=True, batch_size=8)
    arms = build_arms(items, design)
    y = np.stack([be.loglikelihood([it.prompt for it in arms[a]], [it.answer for it in arms[a]])
                  for a in design.arms], axis=1)
    s = attribution_scores(y, design.components, design.arms, n_boot=1000)
    return {"arm_means": s["arm_means"], "CAK": s["conditional"]["names"], "CAD": s["conditional"]["data"],
            "MAK": s["marginal"]["names"], "MAD": s["marginal"]["data"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attr", default="runs/attribution")
    ap.add_argument("--out", default=None, help="default ATTR/precision")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--n-eval", type=int, default=6, help="held-out base items per task")
    args = ap.parse_args()
    from whygym.attribution import Design, base_items
    from whygym.attribution.precision import build_precision_dataset
    from whygym.tasks import GenConfig
    from whygym.train.config import SFTArgs
    from whygym.train.data import heldout_items, sft_rows, train_items
    from whygym.train.trainers import train

    attr = Path(args.attr)
    out = Path(args.out or attr / "precision")
    plan = _plan(attr)
    tasks = plan["generator"]["tasks"]
    n = args.steps * 4
    heldout = heldout_items(tasks, 10, 1000)
    common = dict(tasks=tasks, steps=args.steps, batch_size=4, max_length=640, lora=True, lr=2e-4, save_steps=10_000,
                  n_train=max(1, n // len(tasks)))
    runs = {
        "precision": (sft_rows(build_precision_dataset(plan, n, seed=1)),
                      dict(common, lora_targets=plan["lora"]["target_modules"] or ["q_proj", "k_proj", "v_proj",
                                                                                     "o_proj"])),
        "plain": (sft_rows(train_items(tasks, max(1, n // len(tasks)), 1, GenConfig(nodes=(3, 5)), heldout=heldout)),
                  dict(common)),
    }
    summary = {"plan": {k: plan[k] for k in ("signals", "lora", "rationale")}, "steps": args.steps, "runs": {}}
    for name, (rows, kw) in runs.items():
        # A finished run with the same settings and rows is reused (its record is kept beside it).
        spec = hashlib.sha256(json.dumps([kw, rows], sort_keys=True, default=str).encode()).hexdigest()
        rec_path = out / name / "run_record.json"
        if rec_path.exists() and json.loads(rec_path.read_text()).get("spec") == spec:
            summary["runs"][name] = json.loads(rec_path.read_text())
            print(name, "reused", flush=True)
            continue
        t = time.perf_counter()
        s = train("sft", SFTArgs(**kw), out / name, dataset=rows)
        summary["runs"][name] = {"train_seconds": time.perf_counter() - t, "first_loss": s.get("first_loss"),
                                 "final_loss": s.get("final_loss"), "lora_targets": kw.get("lora_targets"),
                                 "n_rows": len(rows), "final_dir": s.get("final_dir", str(out / name / "final")),
                                 "spec": spec}
        rec_path.write_text(json.dumps(summary["runs"][name], indent=2) + "\n")
        print(name, json.dumps(summary["runs"][name]), flush=True)
    items = base_items(tasks, args.n_eval, 1000)
    design = Design(["names", "data"])
    for name, spec in (("base", "default"), ("plain", summary["runs"]["plain"]["final_dir"]),
                       ("precision", summary["runs"]["precision"]["final_dir"])):
        summary.setdefault("eval", {})[name] = _score(spec, items, design)
        e = summary["eval"][name]
        print(name, {k: round(v, 3) for k, v in e["arm_means"].items()},
              " ".join(f"{k} {e[k]['point']:+.3f} [{e[k]['low']:+.3f},{e[k]['high']:+.3f}]"
                       for k in ("CAK", "CAD", "MAK", "MAD")), flush=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
