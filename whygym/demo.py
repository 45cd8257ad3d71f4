"""``whygym demo``: the main job on the default model. For now: generate a small dataset of all seven
tasks, show a few items, and summarise it."""

from __future__ import annotations

import collections
import statistics
import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job end to end (for now: generate and summarise a dataset)",
                       description="Generate a small dataset of the seven core causal tasks, print a few items and "
                                   "a summary table.")
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--n", type=int, default=50, help="items per task (default 50)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--show", type=int, default=2, help="items to print in full (default 2)")
    p.set_defaults(func=run)


def run(args) -> int:
    from whygym.items import write_jsonl
    from whygym.tasks import DEFAULT_TASKS, generate

    t0 = time.perf_counter()
    items = list(generate(DEFAULT_TASKS, args.n, args.seed))
    dt = time.perf_counter() - t0
    out = Path(args.out)
    write_jsonl(items, out / "items.jsonl")
    for it in items[: args.show]:
        print("=" * 100)
        print(it.prompt)
        print("--- gold answer:", it.answer)
        for k, v in it.reason.items():
            print(f"  {k}: {v}")
    print("=" * 100)
    by = collections.defaultdict(list)
    for it in items:
        by[it.task].append(it)
    header = f"{'task':<5} {'items':>5} {'zero':>5} {'yes':>5} {'nodes':>6} {'given':>6} {'|PROB| mean':>12}"
    print(header)
    print("-" * len(header))
    for task in DEFAULT_TASKS:
        rows = by[task]
        yes = sum(1 for it in rows if it.gold.get("label") == "yes")
        print(f"{task:<5} {len(rows):>5} {sum(it.meta['structural_zero'] for it in rows):>5} "
              f"{yes if task not in ('PN', 'PS') else '-':>5} "
              f"{statistics.mean(it.meta['n_nodes'] for it in rows):>6.1f} "
              f"{statistics.mean(len(it.given) for it in rows):>6.1f} "
              f"{statistics.mean(abs(it.gold['prob']) for it in rows):>12.4f}")
    print(f"\n{len(items)} items in {dt:.2f}s ({len(items) / dt:,.0f} items/s) -> {out / 'items.jsonl'}")
    return 0
