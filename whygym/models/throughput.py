"""Greedy generation throughput of the transformers backend: batch 1 against batch N, wall and CPU time.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python -m whygym.models.throughput --n 8 --max-new-tokens 64 --threads 1 --bf16

Prompts: N CauGym ``base`` problems spread over the seven tasks (~240-370 tokens after the chat template with
the default system prompt), read from ``--data``; synthetic prompts of that size when the file is absent.
Tokens/s counts the tokens each completion kept (EOS included). A batch keeps stepping until its longest row
ends, so rows that stop early cost time they do not report.

On a shared machine read the per-CPU-second rates at ``--threads 1``: they are nearly unaffected by other
load. With 2 torch threads on 2 busy cores, each thread waits on the other and throughput collapses
(measured: 0.6 tokens/s wall, 1.3 per CPU-second, against 13.3 per CPU-second with 1 thread).

Measured (load ~6 on 2 cores, 1 thread, 8 prompts, max 64 new tokens; tokens per CPU-second):

==========  =======  =======
weights     batch 1  batch 8
==========  =======  =======
float32     13.3     23.0
bfloat16    14.2     43.4
==========  =======  =======
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def load_prompts(n: int, data: str) -> list[str]:
    """``n`` problems spread over the file (tasks come in blocks), or synthetic ~300-token prompts."""
    p = Path(data)
    if p.is_file():
        rows = json.loads(p.read_text())
        step = max(1, len(rows) // n)
        return [r["problem"] for r in rows[::step][:n]]
    base = ("Input Info: Imagine a self-contained, hypothetical world with only the following conditions: "
            "A has a direct effect on B. B has a direct effect on C. ")
    return [base * 10 + f"Question {i}: does A cause C? Answer yes or no." for i in range(n)]


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ap = argparse.ArgumentParser(prog="python -m whygym.models.throughput", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="prompts, and the batch size of the batched run")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--bf16", action="store_true", help="also measure bfloat16 weights")
    ap.add_argument("--model", default="default", help="a model spec for TransformersBackend")
    ap.add_argument("--data", default="../shared/data/caugym/base_dataset.json")
    a = ap.parse_args(argv)

    import torch

    from whygym.models.hf import TransformersBackend

    if a.threads:
        torch.set_num_threads(a.threads)
    prompts = load_prompts(a.n, a.data)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(prompts)} prompts, "
          f"max_new_tokens {a.max_new_tokens}, greedy", flush=True)
    for dtype in (["float32", "bfloat16"] if a.bf16 else ["float32"]):
        be = TransformersBackend(a.model, batch_size=1, dtype=dtype)
        n_prompt = [len(x) for x in be.chat_ids(prompts)]
        be.generate(prompts[:1], max_new_tokens=2)  # warm-up
        for bs in (1, a.n):
            be.batch_size = bs
            t, c = time.perf_counter(), time.process_time()
            res = be.generate(prompts, max_new_tokens=a.max_new_tokens)
            dt, dc = time.perf_counter() - t, time.process_time() - c
            toks = sum(r[0].n_completion_tokens for r in res)
            print(f"{be.config['precision']:9s} batch {bs}: prompts {min(n_prompt)}-{max(n_prompt)} tokens, {toks} new "
                  f"tokens, {dt:.1f} s wall ({toks / dt:.1f} tok/s), {dc:.1f} CPU-s ({toks / dc:.1f} tok/CPU-s), "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
