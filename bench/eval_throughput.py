"""Generation and scoring throughput of the transformers backend on the default model.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python bench/eval_throughput.py [--n 8] [--max-new-tokens 64] [--bf16]

Prompts: the first N CauGym `base` problems (CaLM prompts, ~300 tokens after the chat template with the
default system prompt), or synthetic ones of that size when the reference data is absent. Greedy decoding,
same prompts, batch size 1 (unbatched) against batch size N (left-padded). Tokens/s counts the tokens each
completion kept (up to and including EOS); a batch keeps stepping until its longest row ends, so rows that
stop early cost time they do not report. Prints a table, precision included (bf16 changes the numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "caugym" / "base_dataset.json"


def load_prompts(n: int) -> list[str]:
    if DATA.is_file():
        return [d["problem"] for d in json.loads(DATA.read_text())[:n]]
    base = ("Input Info: Imagine a self-contained, hypothetical world with only the following conditions: "
            "A has a direct effect on B. B has a direct effect on C. ")
    return [base * 12 + f"Question {i}: does A cause C? Answer yes or no." for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="prompts (and the batched batch size)")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--bf16", action="store_true", help="also measure bf16 autocast")
    args = ap.parse_args()

    import torch

    from whygym.models import TransformersBackend, ensure_default_model

    t0 = time.perf_counter()
    path = ensure_default_model(verbose=True)
    print(f"default model ready in {time.perf_counter() - t0:.1f} s ({path})")
    prompts = load_prompts(args.n)
    rows = []
    for bf16 in ([False, True] if args.bf16 else [False]):
        be = TransformersBackend(path, batch_size=1, bf16=bf16)
        n_prompt = [len(x) for x in be.chat_ids(prompts)]
        be.generate(prompts[:1], max_new_tokens=4)  # warm-up
        for bs in (1, args.n):
            be.batch_size = bs
            t = time.perf_counter()
            res = be.generate(prompts, max_new_tokens=args.max_new_tokens)
            dt = time.perf_counter() - t
            toks = sum(r[0].n_completion_tokens for r in res)
            rows.append((be.config["precision"], bs, sum(n_prompt) / len(n_prompt), toks, dt, toks / dt))
        t = time.perf_counter()
        be.batch_size = args.n
        be.next_token_logprobs(prompts, ["Yes", "No"])
        dt = time.perf_counter() - t
        rows.append((be.config["precision"], f"{args.n} (yes/no scoring)", sum(n_prompt) / len(n_prompt), len(prompts), dt,
                     len(prompts) / dt))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, max_new_tokens {args.max_new_tokens}")
    print("| precision | batch | mean prompt tokens | tokens (items) | seconds | tokens/s (items/s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for prec, bs, mp, toks, dt, rate in rows:
        print(f"| {prec} | {bs} | {mp:.0f} | {toks} | {dt:.1f} | {rate:.1f} |")


if __name__ == "__main__":
    main()
