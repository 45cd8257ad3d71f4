"""``whygym audit``: re-derive benchmark gold answers exactly and report agreement per file."""

from __future__ import annotations

import collections
import json
import sys
import time
from pathlib import Path

from whygym.cliargs import COMMANDS


def register(sub) -> None:
    p = sub.add_parser("audit", help=COMMANDS["audit"].help,
                       description="Parse each item's graph and stated probabilities, compute the answer with the "
                                   "exact engine, and compare with the item's gold. Prints per-file agreement, each "
                                   "disagreement with the solver's derivation, and ends with 'agreement: K/N'.")
    p.add_argument("targets", nargs="+", metavar="NAME_OR_PATH",
                   help="registered benchmark names (e.g. calm-lite:probability-en, caugym:base) or file paths")
    p.add_argument("--pair", default=None, metavar="NAME_OR_PATH",
                   help="twin items (same Reason) whose parsed structure stands in for items whose rewritten "
                        "prose cannot be parsed; default: a base_dataset.json beside a CauGym file")
    p.add_argument("--limit", type=int, default=None, help="audit only the first N items of each target")
    p.add_argument("--show", type=int, default=20, help="disagreements to print per target (default 20)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write every result to FILE (JSON Lines)")
    p.add_argument("--witnesses", action="store_true",
                   help="where no formula has all its terms stated, search for two SCMs that fit every stated number "
                        "and disagree (category 'not determined'); seconds per such item")
    p.set_defaults(func=run)


def _twins_for(target: str, items, explicit: str | None):
    from whygym.benchmarks import load_benchmark

    if explicit:
        return load_benchmark(explicit)
    files = {it.meta.get("path") for it in items}
    if len(files) != 1 or not any(it.meta.get("parse_error") for it in items):
        return None
    path = Path(next(iter(files)) or "")
    base = path.with_name("base_dataset.json")
    if it_is_caugym(items) and base.exists() and base != path:
        return load_benchmark(str(base))
    return None


_SHOWN = {"rounding": "agree under rounding"}
_ORDER = ("rounding", "label error", "not determined", "assumption-dependent", "parse failure", "solver gap")


def _order(kv):
    return (_ORDER.index(kv[0]) if kv[0] in _ORDER else len(_ORDER), kv[0])


def it_is_caugym(items) -> bool:
    return all(it.meta.get("benchmark") == "caugym" for it in items)


def run(args) -> int:
    from whygym.benchmarks import load_benchmark
    from whygym.benchmarks.audit import audit_items
    from whygym.errors import UserError
    from whygym.items import atomic_write_text

    total_agree = total = 0
    total_cats: collections.Counter = collections.Counter()
    all_results = []
    t0 = time.perf_counter()
    for target in args.targets:
        try:
            items = load_benchmark(target, limit=args.limit)
        except (KeyError, FileNotFoundError, ValueError) as e:
            raise UserError(f"{target}: {e}") from None
        twins = _twins_for(target, items, args.pair)
        results = audit_items(items, twins, witnesses=args.witnesses)
        all_results += results
        by_file = collections.defaultdict(list)
        for r in results:
            by_file[r.file or target].append(r)
        print(f"== {target}" + (f" (structure of unparsed items from {len(twins)} twin items)" if twins else ""))
        for f, rs in by_file.items():
            agree = sum(r.status == "agree" for r in rs)
            cats = collections.Counter(r.category or "not a whygym task" for r in rs if r.status != "agree")
            labels = collections.Counter(r.label_status for r in rs if r.label_status)
            extra = "; ".join(f"{_SHOWN.get(k, k)}: {v}" for k, v in sorted(cats.items(), key=_order))
            lab = (f"; ANSWER labels: {labels.get('agree', 0)} agree, {labels.get('label error', 0)} label errors"
                   if labels else "")
            print(f"  {f}: {agree}/{len(rs)} agree ({100 * agree / len(rs):.1f}%)"
                  + (f"; {extra}" if extra else "") + lab)
            read = [r.reader for r in rs if r.reader]
            if read and any(not x["strict"] for x in read):
                print(f"    a perfect reader of the prompt (the stated numbers' answer to 4 decimals) fails "
                      f"{sum(not x['strict'] for x in read)} of {len(read)} items under strict scoring (5e-5), "
                      f"{sum(not x['caugym'] for x in read)} under CauGym's 5e-4")
        bad = [r for r in results if r.status != "agree"]
        for r in bad[: args.show]:
            print(f"  - {r.item_id} [{r.task}] gold {r.gold}, solver {r.solved or '-'}: {r.category}; {r.note}")
            for k, v in r.steps.items():
                print(f"      {k}: {v}".replace("\n", "\n        "))
        if len(bad) > args.show:
            print(f"  ... {len(bad) - args.show} more (use --show or --json)")
        total += len(results)
        total_agree += sum(r.status == "agree" for r in results)
        total_cats.update(r.category for r in results if r.status != "agree" and r.category)
    if args.json:
        atomic_write_text(args.json, "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in all_results))
    dt = time.perf_counter() - t0
    print(f"audited {total} items in {dt:.1f}s", file=sys.stderr)
    if total_cats:
        print("not agreeing: " + "; ".join(f"{_SHOWN.get(k, k)} {v}" for k, v in sorted(total_cats.items(), key=_order)))
    print(f"agreement: {total_agree}/{total}")
    return 0
