"""The recipe's evaluation matrix: one model, several benchmarks, with and without the calculator, two scorings.

Run (after ``whygym train recipe --config configs/recipe.yaml --out runs/recipe``)::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/recipe_eval.py --model runs/recipe/final --out runs/recipe-eval \
        [--gen-n 10] [--calm-per-task 10] [--suite-per-task 3] [--max-new-tokens 512] [--plain calm,gen]

Each cell is a ``whygym eval`` command (printed, and recorded in the table), greedy:

* ``gen``: the recipe's held-out generated items ``gen:all:GEN_N:1000`` (the trainers drop their twins);
* ``calm``: CaLM Lite basic EN, the first ``--calm-per-task`` items of each of the seven task files (all
  700 with ``--calm-per-task 100``);
* ``rephrased``, ``omitted``, ``insufficient``: the CauGym test sets, ``--suite-per-task`` items per task;

each with ``--tools calculator``, and without it for the benchmarks in ``--plain``. CauGym's scoring
(``--match caugym``, any answer within 5e-4) is computed from the same answers (the response cache
serves them; nothing is generated twice). Writes ``OUT/recipe_eval.md`` (accuracy with 95% Wilson
intervals, accuracy on the items whose gold is not 0, per task, and the step verifier's breakdown: where
the reasoning breaks) and ``OUT/recipe_eval.json``. Rerunning resumes from the caches.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
WHYGYM = [sys.executable, "-m", "whygym.cli"]
TASKS = ["ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS"]


def cells(args) -> list[tuple[str, str, list[str]]]:
    """(benchmark key, benchmark spec, extra eval flags)."""
    out = [("gen", f"gen:all:{args.gen_n}:1000", [])]
    if args.calm_per_task:
        out.append(("calm", "calm-lite:probability-en", ["--per-task", str(args.calm_per_task)]))
    if args.suite_per_task:
        for s in ("rephrased", "omitted", "insufficient"):
            out.append((s, f"caugym:{s}", ["--per-task", str(args.suite_per_task)]))
    return out


def run_eval(model: str, spec: str, extra: list[str], out: Path, tools: bool, match: str, max_new: int,
             cache: Path) -> tuple[dict, str]:
    cmd = [*WHYGYM, "eval", "--model", model, "--benchmark", spec, "--out", str(out), "--match", match,
           "--max-new-tokens", str(max_new), "--batch-size", "8", "--cache", str(cache), *extra]
    if tools:
        cmd += ["--tools", "calculator"]
    shown = shlex.join(["whygym", *cmd[3:]])
    print(f"$ {shown}", flush=True)
    p = subprocess.run(cmd, cwd=ROOT)
    if p.returncode != 0:
        sys.exit(f"bench/recipe_eval.py: `{shown}` failed with status {p.returncode}")
    doc = json.loads((out / "results.json").read_text())
    return doc, shown


def _block(doc: dict) -> dict:
    return next(iter(doc["results"]["benchmarks"].values()))


def _pct(k, n) -> str:
    return f"{k}/{n} = {100 * k / n:.1f}%" if n else "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model spec or checkpoint folder (e.g. runs/recipe/final)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--gen-n", type=int, default=10, help="held-out generated items per task")
    ap.add_argument("--calm-per-task", type=int, default=10, help="CaLM Lite items per task (0: skip)")
    ap.add_argument("--suite-per-task", type=int, default=3, help="CauGym suite items per task (0: skip)")
    ap.add_argument("--plain", default="gen,calm", help="benchmarks also evaluated without the calculator")
    ap.add_argument("--max-new-tokens", type=int, default=512)
    args = ap.parse_args()
    if args.gen_n < 1 or args.calm_per_task < 0 or args.suite_per_task < 0 or args.max_new_tokens < 1:
        ap.error("--gen-n and --max-new-tokens must be >= 1, the per-task counts >= 0")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plain = {s.strip() for s in args.plain.split(",") if s.strip()}
    import torch

    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch CPU capability "
               f"{torch.backends.cpu.get_cpu_capability()}")
    rows, commands, t0 = [], [], time.time()
    for key, spec, extra in cells(args):
        for tools in (True, False):
            if not tools and key not in plain:
                continue
            tag = f"{key}-{'tools' if tools else 'plain'}"
            cache = out / f"{tag}.sqlite"
            for match in ("strict", "caugym"):
                doc, shown = run_eval(args.model, spec, extra, out / f"{tag}-{match}", tools, match,
                                      args.max_new_tokens, cache)
                commands.append(shown)
                rows.append({"benchmark": key, "spec": spec, "tools": tools, "match": match,
                             "results": _block(doc), "wall_seconds": doc["run"]["wall_seconds"]})

    lines = [f"# Recipe evaluation: {args.model}", "", f"Machine: {machine}. Greedy, max_new_tokens "
             f"{args.max_new_tokens}. {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{(time.time() - t0) / 60:.0f} min.", "",
             "| benchmark | calculator | scoring | accuracy [95% CI] | gold != 0 | " + " | ".join(TASKS) + " |",
             "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in TASKS) + " |"]
    for r in rows:
        o = r["results"]["overall"]
        nz = o.get("gold_nonzero") or {}
        per = []
        for t in TASKS:
            b = r["results"]["tasks"].get(t)
            per.append("-" if not b else f"{b['correct']}/{b['n']}")
        lines.append(f"| {r['benchmark']} | {'yes' if r['tools'] else 'no'} | {r['match']} | "
                     f"{_pct(o['correct'], o['n'])} [{100 * o['ci_low']:.1f}, {100 * o['ci_high']:.1f}] | "
                     f"{_pct(nz.get('correct', 0), nz.get('n', 0))} | " + " | ".join(per) + " |")
    lines += ["", "Where the reasoning breaks (step verifier, first wrong step; strict runs):", "",
              "| benchmark | calculator | " + " | ".join(
                  ("correct", "path_claim", "adjustment_set", "mediator_set", "estimand", "substitution",
                   "arithmetic", "rounding", "sign_label", "answer", "no_answer")) + " | verified prefix |",
              "| --- | --- | " + " | ".join("---" for _ in range(11)) + " | --- |"]
    for r in rows:
        if r["match"] != "strict":
            continue
        st = r["results"]["overall"].get("steps") or {}
        cats = st.get("categories", {})
        if not st.get("n"):  # nothing verified (LACK_CONDITION golds have no derivation to check)
            lines.append(f"| {r['benchmark']} | {'yes' if r['tools'] else 'no'} | " + " | ".join("-" for _ in range(11))
                         + " | - |")
            continue
        lines.append(f"| {r['benchmark']} | {'yes' if r['tools'] else 'no'} | " + " | ".join(
            str(cats.get(c, 0)) for c in ("correct", "path_claim", "adjustment_set", "mediator_set", "estimand",
                                          "substitution", "arithmetic", "rounding", "sign_label", "answer",
                                          "no_answer")) + f" | {st['verified_prefix']:.2f} |")
    lines += ["", "Commands:", "", "```", *commands, "```", ""]
    from whygym.items import atomic_write_text

    atomic_write_text(out / "recipe_eval.md", "\n".join(lines))
    atomic_write_text(out / "recipe_eval.json", json.dumps({"model": args.model, "machine": machine,
                                                            "rows": rows, "commands": commands}, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
