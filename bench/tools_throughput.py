"""Tool-integrated decoding: completion tokens/s of the transformers backend with and without the calculator.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python bench/tools_throughput.py [--model runs/sft-calc/final] [--n 14]
                                                                 [--max-new-tokens 256] [--batch-size 8]

Items: ``--n`` held-out generated items (``gen:all``, seed 1000: the items ``whygym eval --benchmark
gen:all:..:1000`` uses), greedy, one model loaded once and shared by both contenders, no response cache. The
calculator's cost is the decode of each row's text at every step (to see whether a call is open) and the
masking of the tokens that cross an ``=``; its inserted tokens are fed through the KV cache like generated
ones (no second prefill). A model that never writes ``<<`` pays only the per-step check. Prints seconds,
completion tokens/s of each, the ratio, and how many completions held a calculator call. Compare the two in
one run (figures hold for the machine that printed them: the script prints the CPU kind).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default", help="a transformers model spec (default: the default model)")
    ap.add_argument("--n", type=int, default=14, help="held-out items (spread over the seven tasks)")
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()

    import torch

    from whygym.eval import load_items
    from whygym.models import TransformersBackend
    from whygym.models.tools import ToolSpec

    per_task = max(1, -(-args.n // 7))
    items = load_items(f"gen:all:{per_task}:1000")[:args.n]
    prompts = [it.prompt for it in items]
    plain = TransformersBackend(args.model, batch_size=args.batch_size)
    tools = TransformersBackend(plain.model, plain.tokenizer, batch_size=args.batch_size, tools=ToolSpec())
    print(f"{len(items)} items, greedy, max_new_tokens {args.max_new_tokens}, batch {args.batch_size}, model "
          f"{args.model}, CPU kernels {torch.backends.cpu.get_cpu_capability()}, torch threads "
          f"{torch.get_num_threads()}", flush=True)
    rows = []
    for name, be in (("without tools", plain), ("calculator", tools)):
        be.generate(prompts[:1], max_new_tokens=2)  # warm-up (and the calculator's token table)
        t0 = time.perf_counter()
        res = [g[0] for g in be.generate(prompts, max_new_tokens=args.max_new_tokens)]
        dt = time.perf_counter() - t0
        toks = sum(g.n_completion_tokens for g in res)
        calls = sum("<<" in g.text for g in res)
        rows.append((name, dt, toks, calls))
        print(f"{name}: {dt:.1f} s, {toks} completion tokens, {toks / dt:.1f} tok/s, {calls} completions with a "
              "call", flush=True)
    print()
    print("| decoding | seconds | completion tokens | tokens/s | completions with a call |")
    print("| --- | --- | --- | --- | --- |")
    for name, dt, toks, calls in rows:
        print(f"| {name} | {dt:.1f} | {toks} | {toks / dt:.1f} | {calls}/{len(items)} |")
    (_, d0, t0_, _), (_, d1, t1, _) = rows
    print(f"\ntokens/s with the calculator / without: {(t1 / d1) / (t0_ / d0):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
