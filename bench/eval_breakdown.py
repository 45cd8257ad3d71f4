"""Where batched evaluation time goes: the prefill of the prompts alone, then whole greedy generation at
several batch sizes, on the items ``bench/eval_throughput.py`` uses (CaLM Lite basic EN, ``--per-task`` each).

Run:  HF_HUB_OFFLINE=1 .venv/bin/python bench/eval_breakdown.py [--per-task 8] [--max-new-tokens 128]
                                                               [--batch-sizes 16,32,56]

The prefill is one forward pass over each length-sorted, left-padded batch of the first batch size, only the
last position through the output layer (as generation does it); it costs the same per token batched or not,
so it bounds what batching can gain. Prints seconds per stage.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-task", type=int, default=8, help="items per task (7 tasks)")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-sizes", default="16,32,56", help="comma list; the first also sets the prefill batches")
    args = ap.parse_args()
    try:
        sizes = [int(x) for x in args.batch_sizes.split(",")]
        assert sizes and min(sizes) >= 1
    except (ValueError, AssertionError):
        ap.error(f"--batch-sizes wants positive integers separated by commas, got {args.batch_sizes!r}")

    import torch

    from whygym.eval import load_items
    from whygym.models import TransformersBackend

    prompts = [it.prompt for it in load_items("calm-lite:probability-en", per_task=args.per_task)]
    be = TransformersBackend("default", batch_size=sizes[0])
    ids = be.chat_ids(prompts)
    print(f"{len(prompts)} prompts, {sum(map(len, ids))} prompt tokens; fp32, torch threads "
          f"{torch.get_num_threads()}", flush=True)
    order = sorted(range(len(ids)), key=lambda j: -len(ids[j]))
    t0 = time.perf_counter()
    for k in range(0, len(order), sizes[0]):
        x, m = be._left_pad([ids[j] for j in order[k:k + sizes[0]]])
        with torch.inference_mode():
            be.model(input_ids=x, attention_mask=m, position_ids=(m.cumsum(-1) - 1).clamp(min=0), logits_to_keep=1)
    print(f"prefill only (batches of {sizes[0]}): {time.perf_counter() - t0:.1f} s", flush=True)
    for bs in sizes:
        be.batch_size = bs
        t0 = time.perf_counter()
        gens = be.generate(prompts, max_new_tokens=args.max_new_tokens)
        tok = sum(g[0].n_completion_tokens for g in gens)
        print(f"greedy generation, batch {bs}: {time.perf_counter() - t0:.1f} s ({tok} completion tokens)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
