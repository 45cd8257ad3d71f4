"""``whygym demo``: the main job end to end on the default model, offline, on a CPU.

1. problems with exact answers: a held-out test set of the seven tasks (the training set, generated
   inside the training step from another seed, drops every item that shares a graph and question with it);
2. the base model evaluated on the test set;
3. the model post-trained briefly: by default the recipe (``whygym train recipe``: SFT on calculator
   derivations, small graphs first, then PPO with the calculator and the process reward);
4. the post-trained model evaluated on the same test set, with the calculator (``--tools calculator``) and
   without it (for the recipe);
5. prompt-component attribution (knowledge = variable names, data = stated numbers) before and after;
6. a report folder (``report/report.html``) and the headline table.

Every stage is a whygym subcommand with its own output folder under ``--out``, run in-process with
the same arguments a user would type (recorded in ``demo.json``). A stage whose output is complete is
skipped, and the eval and attribution caches keep partial work, so Ctrl-C and a rerun resume.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from whygym.cliargs import COMMANDS

# (test items per task, training minutes, attribution base items, max new tokens); the recipe writes whole
# derivations, so its evaluation needs more tokens and its training more minutes
PROFILES = {
    "full": {"test_n": 8, "train_minutes": 6.0, "attr_n": 12, "max_new_tokens": 160, "n_train": 60},
    "quick": {"test_n": 2, "train_minutes": 0.5, "attr_n": 4, "max_new_tokens": 48, "n_train": 12},
}
RECIPE_PROFILES = {
    "full": {"train_minutes": 12.0, "max_new_tokens": 384, "n_train": 150},
    "quick": {"train_minutes": 0.5, "max_new_tokens": 48, "n_train": 12},
}
HELDOUT_SEED = 1000
ATTR_SEED = 5


def register(sub) -> None:
    p = sub.add_parser("demo", help=COMMANDS["demo"].help,
                       description="Generate a held-out test set of the seven causal tasks, evaluate the default "
                                   "model, post-train it briefly, evaluate again, run the prompt-component "
                                   "attribution before and after, and write a report. Reruns resume.")
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--quick", action="store_true", help="a ~3-minute version (tiny test set, 30 s of training)")
    p.add_argument("--model", default="default", help="model to start from (default: SmolLM2-135M-Instruct)")
    p.add_argument("--method", default="recipe", choices=["recipe", "sft", "dpo", "kto", "ppo", "grpo"],
                   help="post-training (default: the recipe, SFT on calculator derivations then PPO with the "
                        "calculator; or one method alone, see docs/results.md)")
    p.add_argument("--minutes", type=float, default=None, help="training budget in minutes (overrides the profile)")
    p.add_argument("--test-n", type=int, default=None, help="held-out test items per task (overrides the profile)")
    p.add_argument("--derivation", default="answer", choices=["calm", "spelled", "answer"],
                   help="SFT target style (default 'answer': the answer JSON only, the fastest to learn at 135M)")
    p.add_argument("--no-attribution", action="store_true", help="skip the attribution stages")
    p.set_defaults(func=run)


def _stage(name: str, argv: list[str], done: Path, log: list[dict[str, Any]]) -> None:
    from whygym.cli import main
    from whygym.errors import UserError

    if done.exists():
        print(f"[demo] {name}: already done ({done}), skipping", flush=True)
        log.append({"stage": name, "command": "whygym " + " ".join(argv), "skipped": True})
        return
    print(f"[demo] {name}: whygym {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    rc = main(argv)
    dt = time.perf_counter() - t0
    log.append({"stage": name, "command": "whygym " + " ".join(argv), "seconds": round(dt, 1), "rc": rc})
    if rc:
        raise UserError(f"stage {name} failed (exit {rc}); fix the cause and rerun `whygym demo` to resume")


def headline(before: dict, after: dict, bench: str, plain: dict | None = None) -> str:
    """Per-task table: PROB accuracy (all items, and items whose gold is not 0: a model that always answers
    0.0000 is right on the others) and yes/no label accuracy, before and after, with 95% Wilson intervals;
    with ``plain`` (the post-trained model evaluated without the calculator) its gold != 0 column too."""
    from whygym.scoring.metrics import wilson_interval

    def pct(k: int, n: int) -> str:
        if not n:
            return "-"
        lo, hi = wilson_interval(k, n)
        return f"{100 * k / n:5.1f} [{100 * lo:4.1f},{100 * hi:5.1f}]"

    def acc(b: dict | None) -> str:
        return pct(b["correct"], b["n"]) if b and b.get("n") else "-"

    def lab(b: dict | None) -> str:
        return pct(b["label_correct"], b["label_n"]) if b and b.get("label_n") else "-"

    def nz(b: dict | None) -> str:
        z = (b or {}).get("gold_nonzero") or {}
        return pct(z["correct"], z["n"]) if z.get("n") else "-"

    bb, ab = before["results"]["benchmarks"][bench], after["results"]["benchmarks"][bench]
    pb = plain["results"]["benchmarks"][bench] if plain else None
    rows = [("task", "PROB exact, before", "PROB exact, after", "gold!=0, before", "gold!=0, after",
             *(("gold!=0, after, no calc",) if pb else ()), "yes/no, before", "yes/no, after", "unparsed b/a")]
    blocks = [(t, bb["tasks"][t], ab["tasks"].get(t), (pb or {}).get("tasks", {}).get(t)) for t in sorted(bb["tasks"])]
    blocks.append(("all", bb["overall"], ab["overall"], (pb or {}).get("overall")))
    for t, x, y, z in blocks:
        rows.append((t, acc(x), acc(y), nz(x), nz(y), *((nz(z),) if pb else ()), lab(x), lab(y),
                     f"{100 * x['parse_fail_rate']:.0f}%/{100 * (y or {}).get('parse_fail_rate', 0):.0f}%"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def breakdown_table(runs: list[tuple[str, dict]], bench: str) -> str:
    """Where the reasoning breaks: the step verifier's first-wrong-step categories (counts) and the mean
    verified prefix, one column per run (``(label, results.json)``); "" when no run has a breakdown."""
    from whygym.scoring.verify import CATEGORIES

    cols = [(label, (r["results"]["benchmarks"][bench]["overall"].get("steps") or {})) for label, r in runs]
    if not any(c.get("categories") for _, c in cols):
        return ""
    rows = [("first wrong step", *(label for label, _ in cols))]
    for cat in CATEGORIES:
        counts = [c.get("categories", {}).get(cat, 0) for _, c in cols]
        if any(counts):
            rows.append((cat, *(str(k) for k in counts)))
    rows.append(("verified prefix", *(f"{c['verified_prefix']:.2f}" if c.get("n") else "-" for _, c in cols)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args) -> int:
    from whygym.errors import UserError
    from whygym.items import atomic_write_text

    prof = dict(PROFILES["quick" if args.quick else "full"])
    recipe = args.method == "recipe"
    if recipe:
        prof.update(RECIPE_PROFILES["quick" if args.quick else "full"])
    if args.minutes is not None:
        prof["train_minutes"] = args.minutes
    if args.test_n is not None:
        prof["test_n"] = args.test_n
    if prof["test_n"] < 1 or prof["train_minutes"] <= 0:
        raise UserError("--test-n must be >= 1 and --minutes > 0")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bench = f"gen:all:{prof['test_n']}:{HELDOUT_SEED}"
    gen_tokens = str(prof["max_new_tokens"])
    log: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    eval_common = ["--benchmark", bench, "--max-new-tokens", gen_tokens, "--batch-size", "8"]
    tools = ["--tools", "calculator"] if recipe else []
    _stage("evaluate the base model", ["eval", "--model", args.model, *eval_common, *tools, "--out",
                                       str(out / "before")], out / "before" / "results.json", log)
    final = out / "train" / "final"
    train_argv = ["train", args.method, "--out", str(out / "train"), "--model", args.model,
                  "--minutes", str(prof["train_minutes"]), "--steps", "100000", "--n-train", str(prof["n_train"]),
                  "--heldout-n", str(prof["test_n"]), "--heldout-seed", str(HELDOUT_SEED)]
    if recipe:
        train_argv = [a for a in train_argv if a not in ("--steps", "100000")]
        train_argv += ["--rl-max-new-tokens", gen_tokens, "--resume"]  # resume: the unfinished stage, if any
    elif args.method == "ppo":  # no target text: PPO learns from its own rollouts, as long as the eval's answers
        train_argv += ["--max-new-tokens", gen_tokens]
    else:
        train_argv += ["--derivation", args.derivation]
    if not recipe and (out / "train" / "checkpoints").exists():
        train_argv.append("--resume")
    _stage(f"post-train ({args.method}, {prof['train_minutes']:g} min)", train_argv, final / "config.json", log)
    _stage("evaluate the post-trained model" + (" (calculator)" if recipe else ""),
           ["eval", "--model", str(final), *eval_common, *tools, "--out", str(out / "after")],
           out / "after" / "results.json", log)
    if recipe:
        _stage("evaluate the post-trained model (no calculator)",
               ["eval", "--model", str(final), *eval_common, "--out", str(out / "after-plain")],
               out / "after-plain" / "results.json", log)
    if not args.no_attribution:
        attr_bench = f"gen:ATE,NDE,PN:{max(1, prof['attr_n'] // 3)}:{ATTR_SEED}"
        for tag, model in (("before", args.model), ("after", str(final))):
            _stage(f"prompt-component attribution ({tag})",
                   ["attribute", "--model", model, "--benchmark", attr_bench, "--components", "names,data",
                    "--max-new-tokens", gen_tokens, "--quiet", "--out", str(out / f"attribution_{tag}")],
                   out / f"attribution_{tag}" / "attribution.json", log)
    report_argv = ["report", str(out / "before"), str(out / "after")]
    report_argv += [str(out / "after-plain")] if recipe else []
    report_argv += [str(out / "train" / "sft")] if recipe else [str(out / "train")]
    report_argv += [str(out / f"attribution_{t}") for t in ("before", "after") if (out / f"attribution_{t}").exists()]
    report_argv += ["--out", str(out / "report"), "--title", "whygym demo"]
    from whygym.cli import main

    print(f"[demo] report: whygym {' '.join(report_argv)}", flush=True)
    if main(report_argv):
        raise UserError("the report stage failed; rerun `whygym demo` to retry")
    before = json.loads((out / "before" / "results.json").read_text())
    after = json.loads((out / "after" / "results.json").read_text())
    plain = json.loads((out / "after-plain" / "results.json").read_text()) if recipe else None
    table = headline(before, after, bench, plain)
    runs = [("before", before), ("after", after)] + ([("after, no calc", plain)] if plain else [])
    steps = breakdown_table(runs, bench)
    total = time.perf_counter() - t0
    summary = {"profile": "quick" if args.quick else "full", "settings": prof, "benchmark": bench,
               "method": args.method, "derivation": args.derivation, "stages": log, "seconds": round(total, 1),
               "headline": table, "breakdown": steps}
    atomic_write_text(out / "demo.json", json.dumps(summary, indent=2) + "\n")
    print("\n" + table)
    if steps:
        print("\nWhere the reasoning breaks (the step verifier's first wrong step, items):\n" + steps)
    print(f"\nPROB exact: |PROB - gold| < 5e-5 (whygym's strict scorer); gold!=0: the same over items whose gold "
          f"is not 0 (answering 0.0000 is right on the others); yes/no: the ANSWER label (ATE..NIE); 95% Wilson "
          f"intervals; {prof['test_n']} held-out items per task.")
    print(f"report: {(out / 'report' / 'report.html').resolve()}")
    print(f"demo finished in {total / 60:.1f} min (stages already done were skipped)", file=sys.stderr)
    return 0
