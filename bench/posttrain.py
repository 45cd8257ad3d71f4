"""Post-training at equal CPU budget: SFT, DPO, KTO, PPO and GRPO from the same start, evaluated before and after.

Recipe (each step is a `whygym` command, printed and recorded in the table)::

    .venv/bin/python bench/posttrain.py --minutes 3 --test-n 10 --calm-limit 70 --out runs/posttrain

1. evaluate the start model on the held-out generated test set ``gen:all:TEST_N:1000`` (seven tasks) and on
   CaLM Lite basic EN (``calm-lite:<TASK>-P_<TASK>-basic_EN``, the first CALM_LIMIT/7 items of each task);
2. for each method, train ``--minutes`` of wall clock from the start model with ``configs/<method>.yaml``
   (training items never share a graph and question with the test set: the trainers drop such twins);
   every trainer (PPO included) stops after the step that passes the budget, so the last step may overrun it;
3. evaluate each ``OUT/<method>/final`` the same way;
4. write ``OUT/posttrain.md`` (tables: strict accuracy per task with 95% Wilson intervals, yes/no label
   accuracy, unparsed rate, CaLM figures, training wall time and steps, the commands) and ``OUT/posttrain.json``.

The machine's other load changes wall-clock budgets into different step counts: the table reports the steps.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from whygym.train.config import reward_ends  # noqa: E402  (torch-free)

TASKS = ["ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS"]
METHODS = ["sft", "dpo", "kto", "ppo", "grpo"]
HELDOUT_SEED = 1000


REPORT_ONLY = False  # --report-only: rebuild the tables from what an earlier (maybe interrupted) run left in OUT


def _recorded(cmd: list[str]) -> tuple[int, float]:
    """(exit status, wall seconds) of a command as its outputs record it, without running it."""
    out = Path(cmd[cmd.index("--out") + 1])
    if not out.is_absolute():
        out = ROOT / out
    if "eval" in cmd and (out / "results.json").exists():
        return 0, float(json.loads((out / "results.json").read_text())["run"].get("wall_seconds") or 0.0)
    if "train" in cmd and (out / "train_summary.json").exists():
        s = json.loads((out / "train_summary.json").read_text())
        return 0, float(s.get("wall_s") or 0.0)
    return 1, 0.0


def _run(cmd: list[str], log: Path, timeout: float | None = None) -> tuple[int, float]:
    if REPORT_ONLY:
        return _recorded(cmd)
    print("$", shlex.join(cmd), flush=True)
    t = time.perf_counter()
    with open(log, "a") as f:
        f.write("$ " + shlex.join(cmd) + "\n")
        f.flush()
        try:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    dt = time.perf_counter() - t
    if rc:
        print(f"  -> exit {rc} after {dt:.0f} s (see {log})", flush=True)
    return rc, dt


def _whygym() -> list[str]:
    return [sys.executable, "-m", "whygym.cli"]


def evaluate(model: str, name: str, a, log: Path) -> dict:
    """Generated test set and CaLM Lite basic EN, in one ``whygym eval`` call when the per-task counts allow it
    (``gen:T:N:1000`` per task yields the same items as ``gen:all:N:1000``); returns records by kind."""
    out = Path(a.out) / "eval" / name
    common = ["--model", model, "--max-new-tokens", str(a.max_new_tokens), "--batch-size", str(a.batch_size),
              "--no-progress"] + (["--bf16"] if a.bf16_eval else [])
    per_task = max(1, a.calm_limit // len(TASKS))
    gen_b = [x for t in TASKS for x in ("--benchmark", f"gen:{t}:{a.test_n}:{HELDOUT_SEED}")]
    calm_b = [x for t in TASKS for x in ("--benchmark", f"calm-lite:{t}-P_{t}-basic_EN")]
    if a.test_n <= per_task:  # --limit per_task leaves the gen:T:N sets whole
        cmds = [[*_whygym(), "eval", *common, "--limit", str(per_task), *gen_b, *calm_b, "--out", str(out / "all")]]
    else:
        cmds = [[*_whygym(), "eval", *common, *gen_b, "--out", str(out / "gen")],
                [*_whygym(), "eval", *common, "--limit", str(per_task), *calm_b, "--out", str(out / "calm")]]
    res: dict = {"commands": [shlex.join(c) for c in cmds], "wall_s": 0.0, "gen": None, "calm": None}
    records: list[dict] = []
    ok = True
    for cmd in cmds:
        rc, dt = _run(cmd, log)
        res["wall_s"] += dt
        path = Path(cmd[cmd.index("--out") + 1]) / "samples.jsonl"
        if rc == 0 and path.exists():
            records += [json.loads(x) for x in path.read_text().splitlines()]
        else:
            ok = False
    if ok:
        res["gen"] = [r for r in records if str(r["benchmark"]).startswith("gen:")]
        res["calm"] = [r for r in records if not str(r["benchmark"]).startswith("gen:")]
    return res


def train(method: str, a, log: Path) -> dict:
    out = Path(a.out) / method
    cfg = ROOT / "configs" / f"{method}.yaml"
    base = [*_whygym(), "train", method, "--config", str(cfg), "--out", str(out), "--model", a.model]
    extra = ["--minutes", str(a.minutes), "--steps", "100000", "--heldout-n", str(a.test_n),
             "--heldout-seed", str(HELDOUT_SEED), "--n-train", str(a.n_train)]
    if method == "ppo":  # whygym's own trainer: no target text, rollouts of max_new_tokens
        extra += ["--save-steps", "0", "--max-new-tokens", str(a.gen_tokens)]
    else:
        extra += ["--save-steps", "100000", "--derivation", a.derivation]
    if method == "grpo":
        extra += ["--max-completion-length", str(a.gen_tokens)]
    rc, wall = _run(base + extra, log)
    cmds = [shlex.join(base + extra)]
    summary = {}
    if (out / "train_summary.json").exists():
        summary = json.loads((out / "train_summary.json").read_text())
    if (out / "train_log.jsonl").exists():  # recomputed, so that summaries of older runs read the same way
        rewards = [r["reward"] for r in map(json.loads, (out / "train_log.jsonl").read_text().splitlines())
                   if r.get("reward") is not None]
        if rewards:
            summary["reward_first"], summary["reward_last"] = reward_ends(rewards)
    return {"rc": rc, "commands": cmds, "wall_s": wall, "steps": summary.get("steps"),
            "final": str(out / "final"), "summary": {k: summary.get(k) for k in
                                                     ("first_loss", "final_loss", "mean_step_s",
                                                      "zero_signal_frac_mean", "reward_first", "reward_last", "data")}}


def _acc(records):
    from whygym.scoring import accuracy

    return accuracy(records).to_dict() if records else None


def _cell(a, key="accuracy") -> str:
    if a is None or not a.get("label_n" if key == "label_accuracy" else "n"):
        return "-"
    if key == "accuracy":
        return f"{100 * a['accuracy']:.0f} [{100 * a['ci_low']:.0f}, {100 * a['ci_high']:.0f}]"
    if key == "label_accuracy":
        return f"{100 * a['label_accuracy']:.0f} [{100 * a['label_ci_low']:.0f}, {100 * a['label_ci_high']:.0f}]"
    return f"{100 * a['parse_fail_rate']:.0f}"


def table(rows: list[dict], a, wall: float, argv: list[str]) -> str:
    lines = [f"Command: `{shlex.join(argv)}` (total wall time {wall / 60:.1f} min)", ""]
    for title, key in (("Strict accuracy, % [95% Wilson interval] (PROB within 5e-5 of the gold)", "accuracy"),
                       ("Yes/no label accuracy, % [95% CI] (ATE, CDE, ETT, NDE, NIE only)", "label_accuracy"),
                       ("Unparsed answers, %", "parse_fail_rate")):
        lines += [f"**{title}** on the held-out generated test set (gen:all:{a.test_n}:{HELDOUT_SEED}, "
                  f"{a.test_n} items per task) and CaLM Lite basic EN ({max(1, a.calm_limit // 7)} per task)", "",
                  "| model | " + " | ".join(TASKS) + " | all (gen) | gen, gold != 0 | CaLM Lite EN |",
                  "|---" * (len(TASKS) + 4) + "|"]
        for r in rows:
            gen = r["eval"].get("gen")
            cells = [_cell(_acc([x for x in gen if x["task"] == t]) if gen else None, key) for t in TASKS]
            # about a third of the items have a structural-zero gold (no causal path): "0.0000" is right there
            nonzero = [x for x in gen if (x.get("gold") or {}).get("prob") not in (0, 0.0)] if gen else None
            cells += [_cell(_acc(gen), key), _cell(_acc(nonzero), key), _cell(_acc(r["eval"].get("calm")), key)]
            lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["**Training** (same start model, same wall-clock budget per method)", "",
              "| method | steps | train wall (s) | mean step (s) | loss first -> last | reward, first -> last 5 steps "
              "| zero-signal groups | eval wall (s) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r.get("train")
        if not t:
            lines.append(f"| {r['name']} | - | - | - | - | - | - | {r['eval']['wall_s']:.0f} |")
            continue
        s = t.get("summary", {})

        def f(x, d=3):
            return "-" if x is None else (f"{x:.{d}f}" if isinstance(x, float) else str(x))

        lines.append(f"| {r['name']} | {f(t.get('steps'))} | {t['wall_s']:.0f} | {f(s.get('mean_step_s'), 1)} | "
                     f"{f(s.get('first_loss'))} -> {f(s.get('final_loss'))} | {f(s.get('reward_first'))} -> "
                     f"{f(s.get('reward_last'))} | {f(s.get('zero_signal_frac_mean'), 2)} | {r['eval']['wall_s']:.0f} |"
                     + ("" if t["rc"] == 0 else f" (exit {t['rc']})"))
    lines += ["", "Commands run:", "", "```"]
    for r in rows:
        for c in (r.get("train") or {}).get("commands", []) + r["eval"]["commands"]:
            lines.append(c)
    lines += ["```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=0.5, help="wall-clock training budget per method")
    p.add_argument("--methods", default=",".join(METHODS), help="comma list of " + ", ".join(METHODS))
    p.add_argument("--model", default="default", help="start model")
    p.add_argument("--test-n", type=int, default=2, help="held-out generated items per task")
    p.add_argument("--calm-limit", type=int, default=14, help="CaLM Lite basic EN items in all (split over 7 tasks)")
    p.add_argument("--n-train", type=int, default=100, help="generated training items per task")
    p.add_argument("--derivation", default="calm", choices=["calm", "spelled", "answer"], help="SFT/DPO/KTO targets")
    p.add_argument("--max-new-tokens", type=int, default=256, help="evaluation generation cap")
    p.add_argument("--gen-tokens", type=int, default=128, help="PPO/GRPO rollout length cap")
    p.add_argument("--batch-size", type=int, default=8, help="evaluation batch size")
    p.add_argument("--bf16-eval", action="store_true", help="evaluate under bf16 autocast (faster on CPUs with native bf16; fp32 with a warning elsewhere; say so)")
    p.add_argument("--out", default="runs/posttrain")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: rebuild the tables from the outputs an earlier run with the same arguments left")
    a = p.parse_args(argv)
    global REPORT_ONLY
    REPORT_ONLY = a.report_only
    argv = ["bench/posttrain.py"] + (sys.argv[1:] if argv is None else list(argv))
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    bad = set(methods) - set(METHODS)
    if bad:
        p.error(f"unknown method(s) {sorted(bad)}; use {', '.join(METHODS)}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "posttrain.log"
    t0 = time.perf_counter()
    rows = [{"name": f"start ({a.model})", "eval": evaluate(a.model, "start", a, log)}]
    for m in methods:
        tr = train(m, a, log)
        ev = evaluate(tr["final"], m, a, log) if tr["rc"] == 0 and Path(tr["final"]).is_dir() else \
            {"commands": [], "wall_s": 0.0, "gen": None, "calm": None}
        rows.append({"name": f"+ {m.upper()}", "train": tr, "eval": ev})
    wall = time.perf_counter() - t0
    if REPORT_ONLY:  # the recorded times, and the command that produced them
        wall = sum(r["eval"]["wall_s"] + (r.get("train") or {}).get("wall_s", 0.0) for r in rows)
        argv = [x for x in argv if x != "--report-only"]
    md = table(rows, a, wall, argv)
    (out / "posttrain.md").write_text(md)
    slim = [{"name": r["name"], "train": r.get("train"),
             "eval": {"commands": r["eval"]["commands"], "wall_s": r["eval"]["wall_s"],
                      "gen": _acc(r["eval"].get("gen")), "calm": _acc(r["eval"].get("calm")),
                      "gen_by_task": {t: _acc([x for x in r["eval"]["gen"] if x["task"] == t])
                                      for t in TASKS} if r["eval"].get("gen") else None}} for r in rows]
    (out / "posttrain.json").write_text(json.dumps({"args": vars(a), "argv": argv, "wall_s": wall, "rows": slim},
                                                   indent=1, default=str))
    print(md)
    return 0 if all((r.get("train") or {"rc": 0})["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
