"""Audit speed: items per second, parsing included, on the shipped CaLM Lite and CauGym files.

Run:  .venv/bin/python bench/audit.py

For each set: load (parse the item text into graph, query and stated numbers) and audit (derive the
answer from the stated numbers, compare with the gold), best of 3. Goal (issue 3): >= 1,000 items/s.
"""

from __future__ import annotations

import time

SETS = ["calm-lite:probability-en", "calm-lite:probability-cn", "caugym:base", "caugym:insufficient"]


def main() -> None:
    from whygym.benchmarks import load_benchmark
    from whygym.benchmarks.audit import audit_items

    total_n = total_t = 0.0
    for name in SETS:
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            items = load_benchmark(name)
            t1 = time.perf_counter()
            res = audit_items(items)
            t2 = time.perf_counter()
            if best is None or t2 - t0 < best[0]:
                best = (t2 - t0, t1 - t0, t2 - t1, len(items), sum(r.status == "agree" for r in res))
        t, tl, ta, n, agree = best
        total_n += n
        total_t += t
        print(f"{name:28s} {n:4d} items: parse {n / tl:7,.0f}/s, solve {n / ta:7,.0f}/s, "
              f"together {n / t:7,.0f} items/s (agree {agree}/{n})")
    rate = total_n / total_t
    print(f"overall: {rate:,.0f} items audited per second, parsing included "
          f"(goal >= 1,000: {'met' if rate >= 1000 else 'NOT met'})")


if __name__ == "__main__":
    main()
