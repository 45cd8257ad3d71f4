"""``whygym generate``: write a generated dataset to JSONL, Parquet or an HF datasets folder."""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path


from whygym.cliargs import COMMANDS
from whygym.items import to_hf_dataset, write_jsonl, write_parquet


def _node_range(s: str) -> tuple[int, int]:
    try:
        if "-" in s:
            a, b = s.split("-", 1)
            lo, hi = int(a), int(b)
        else:
            lo = hi = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX like 4-8 or a single number, got {s!r}") from None
    if not 3 <= lo <= hi <= 12:
        raise argparse.ArgumentTypeError(f"node counts must satisfy 3 <= MIN <= MAX <= 12, got {s!r}")
    return lo, hi


def register(sub) -> None:
    p = sub.add_parser("generate", help=COMMANDS["generate"].help,
                       description="Generate problems of the seven core causal tasks from random binary SCMs, "
                                   "in the CaLM/CauGym prompt format, with exact gold answers and derivations.")
    p.add_argument("--tasks", default="ATE,CDE,ETT,NDE,NIE,PN,PS",
                   help="comma-separated task names (default: all seven)")
    p.add_argument("--n", type=int, default=100, help="items per task (default 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same bytes (default 0)")
    p.add_argument("--out", required=True,
                   help="output: FILE.jsonl, FILE.parquet, or a folder (saved as an HF datasets folder)")
    p.add_argument("--nodes", type=_node_range, default=(3, 6), help="graph size range MIN-MAX within 3-12 (default 3-6)")
    p.add_argument("--density", type=float, default=0.5, help="edge probability before connecting (default 0.5)")
    p.add_argument("--names", default="mix", choices=["fake", "real", "random", "anticommonsense", "mix"],
                   help="variable names: fake words, real-world stories, random real words, reversed stories, "
                        "or a CaLM-like mix of fake/real/random (default)")
    p.add_argument("--no-path-rate", type=float, default=1 / 3,
                   help="share of questions whose answer is a structural 0 (default 1/3)")
    p.add_argument("--bound", default="random", choices=["upper", "lower", "random"], help="PN/PS bound asked for")
    p.add_argument("--decimals", type=int, default=4, help="decimals of the stated probabilities (default 4)")
    p.add_argument("--suite", default=None, metavar="NAME",
                   help="generate a test suite instead of the basic tasks: rephrased, omitted, deconfounding, "
                        "redundant, insufficient, shift, noisy (graph/name options then come from the suite; "
                        "a manifest is written beside the output)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from whygym.errors import UserError
    from whygym.tasks import GenConfig, generate, get_task

    if args.n < 1:
        raise UserError(f"--n must be at least 1 (got {args.n})")
    tasks = [t for t in (s.strip() for s in args.tasks.split(",")) if t]
    try:
        tasks = [get_task(t).name for t in tasks]
        cfg = GenConfig(nodes=args.nodes, density=args.density, names=args.names, no_path_rate=args.no_path_rate,
                        bound=args.bound, decimals=args.decimals).validate()
    except (KeyError, ValueError) as e:
        raise UserError(str(e).strip('"')) from None
    out = Path(args.out)
    t0 = time.perf_counter()
    if args.suite:
        from whygym.tasks.suites import SUITES, iter_suite, suite_manifest

        if args.suite not in SUITES:
            import difflib
            near = difflib.get_close_matches(args.suite, list(SUITES), n=1)
            raise UserError(f"--suite {args.suite}: unknown suite" + (f"; did you mean {near[0]}?" if near else "")
                            + f" Known suites: {', '.join(SUITES)}")
        source = iter_suite(SUITES[args.suite], args.n, args.seed, tasks)
    else:
        source = generate(tasks, args.n, args.seed, cfg)
    items = list(tqdm(source, total=args.n * len(tasks), unit="item", desc=args.suite or "generate",
                      disable=args.quiet, file=sys.stderr))
    if out.suffix == ".jsonl":
        write_jsonl(items, out)
    elif out.suffix == ".parquet":
        write_parquet(items, out)
    elif out.suffix == "":
        to_hf_dataset(items).save_to_disk(str(out))
    else:
        raise UserError(f"--out {out}: unknown format {out.suffix!r}; use .jsonl, .parquet or a folder name")
    if args.suite:
        import json

        from whygym.items import atomic_write_text

        manifest = suite_manifest(args.suite, args.n, args.seed, tasks, items)
        mpath = out.with_name(out.name + ".manifest.json") if out.suffix else out / "manifest.json"
        atomic_write_text(mpath, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    dt = time.perf_counter() - t0
    per_task = collections.Counter(it.task for it in items)
    zeros = sum(1 for it in items if it.meta.get("structural_zero"))
    print(f"wrote {len(items)} items ({', '.join(f'{k} {v}' for k, v in per_task.items())}; "
          f"{zeros} structural zeros) to {out} in {dt:.1f}s, seed {args.seed}")
    return 0


def register_dedup(sub) -> None:
    p = sub.add_parser("dedup", help=COMMANDS["dedup"].help,
                       description="Contamination check: items of TEST whose task, graph and question (variable "
                                   "names normalised away) also occur in TRAIN.")
    p.add_argument("train", metavar="TRAIN", help="training set: a file or registered benchmark name")
    p.add_argument("test", metavar="TEST", help="test set: a file or registered benchmark name")
    p.add_argument("--out", default=None, help="write the overlapping test ids to this JSONL file")
    p.set_defaults(func=run_dedup)


def run_dedup(args) -> int:
    import json

    from whygym.benchmarks import load_benchmark
    from whygym.errors import UserError
    from whygym.items import atomic_write_text
    from whygym.tasks.dedup import find_overlap, structure_key

    try:
        train, test = load_benchmark(args.train), load_benchmark(args.test)
    except (KeyError, FileNotFoundError, ValueError) as e:
        raise UserError(str(e)) from None
    overlap = find_overlap(train, test)
    keyed = sum(structure_key(it) is not None for it in test)
    for it, twin in overlap[:20]:
        print(f"  {it.id} [{it.task}] same graph and question as training item {twin}")
    if len(overlap) > 20:
        print(f"  ... {len(overlap) - 20} more")
    if args.out:
        atomic_write_text(args.out, "".join(json.dumps({"test_id": it.id, "train_id": t}) + "\n" for it, t in overlap))
    print(f"overlap: {len(overlap)}/{len(test)} test items ({keyed} had a parsed structure) appear in {args.train}")
    return 0
