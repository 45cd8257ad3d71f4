"""Evaluation throughput: whygym's batched transformers backend vs a plain per-item ``model.generate`` loop.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python bench/eval_throughput.py [--per-task 8] [--max-new-tokens 128]
                                                                [--batch-size 16] [--bf16] [--dtype bfloat16]

Items: the first ``--per-task`` items of each of the seven tasks of ``calm-lite:probability-en`` (8 -> 56
items), the CaLM prompts as ``whygym eval`` sends them. Model: the default SmolLM2-135M-Instruct (fp32 unless
``--bf16`` or ``--dtype bfloat16``), loaded once and shared by both contenders, greedy decoding, the same ``max_new_tokens``.

* batched: ``TransformersBackend.generate`` over all prompts (length-sorted, left-padded batches of
  ``--batch-size``); no response cache, so the figure is pure generation.
* per-item: for each prompt, the chat template, ``model.generate(do_sample=False)`` at batch size 1, decode.

Both runs must give the same extracted answer (``whygym.scoring.extract(...).final``) on every item: the
script exits with status 1 otherwise. Prints items/s of each, the ratio (goal >= 4x), tokens/s, and how many
raw texts are byte-identical (float ties may flip a token after which texts diverge yet still end in the
same answer). A batch keeps stepping until its longest row stops, so its rows that stop early cost time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def answer_key(text: str):
    from whygym.scoring import extract

    a = extract(text).final
    return None if a is None else (a.label, a.prob)


def per_item_loop(model, tok, prompts: list[str], max_new_tokens: int, bf16: bool) -> list[tuple[str, int]]:
    """The plain way: one prompt at a time through ``model.generate``; returns (text, completion tokens)."""
    import contextlib

    import torch

    eos = tok.eos_token_id
    out = []
    for p in prompts:
        text = tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        ids = tok(text, add_special_tokens=False, return_tensors="pt")
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with torch.inference_mode(), ctx:
            gen = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=model.generation_config.eos_token_id or eos,
                                 pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else eos)
        new = gen[0, ids["input_ids"].shape[1]:].tolist()
        out.append((tok.decode(new, skip_special_tokens=True), len(new)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-task", type=int, default=8, help="items per task (7 tasks)")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast for both contenders (fp32 with a warning on CPUs without native bf16)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                    help="weight dtype of the model both contenders share (bfloat16: faster on CPUs with native bf16, e.g. AMX; fp32 with a warning elsewhere)")
    args = ap.parse_args()

    import torch

    from whygym.eval import load_items
    from whygym.models import TransformersBackend
    from whygym.models.precision import use_bf16

    # on a CPU without native bf16 (AVX2 only) both bf16 settings fall back to fp32, with a warning
    args.bf16 = use_bf16(args.bf16, "eval_throughput --bf16")
    if args.dtype == "bfloat16" and not use_bf16(True, "eval_throughput --dtype bfloat16"):
        args.dtype = "float32"

    items = load_items("calm-lite:probability-en", per_task=args.per_task)
    prompts = [it.prompt for it in items]
    t0 = time.perf_counter()
    be = TransformersBackend("default", batch_size=args.batch_size, bf16=args.bf16, dtype=args.dtype)
    print(f"{len(items)} items ({args.per_task} per task) of calm-lite:probability-en; default model loaded in "
          f"{time.perf_counter() - t0:.1f} s; greedy, max_new_tokens={args.max_new_tokens}, "
          f"{args.dtype} weights{', bf16 autocast' if args.bf16 else ''}, torch threads {torch.get_num_threads()}",
          flush=True)

    t0 = time.perf_counter()
    batched = [s[0] for s in be.generate(prompts, max_new_tokens=args.max_new_tokens)]
    t_batched = time.perf_counter() - t0
    print(f"batched (batch {args.batch_size}): {t_batched:.1f} s", flush=True)

    t0 = time.perf_counter()
    loop = per_item_loop(be.model, be.tokenizer, prompts, args.max_new_tokens, args.bf16)
    t_loop = time.perf_counter() - t0
    print(f"per-item loop: {t_loop:.1f} s", flush=True)

    tok_b = sum(g.n_completion_tokens for g in batched)
    tok_l = sum(n for _, n in loop)
    same_answer = [answer_key(g.text) == answer_key(t) for g, (t, _) in zip(batched, loop)]
    same_text = sum(g.text == t for g, (t, _) in zip(batched, loop))
    rate_b, rate_l = len(items) / t_batched, len(items) / t_loop
    print()
    print(f"| contender | seconds | items/s | completion tokens/s |")
    print(f"| --- | --- | --- | --- |")
    print(f"| whygym batched (batch {args.batch_size}) | {t_batched:.1f} | {rate_b:.3f} | {tok_b / t_batched:.1f} |")
    print(f"| plain per-item model.generate | {t_loop:.1f} | {rate_l:.3f} | {tok_l / t_loop:.1f} |")
    print(f"\nspeed-up (items/s ratio): {rate_b / rate_l:.2f}x  (goal >= 4x)")
    print(f"identical extracted answers: {sum(same_answer)}/{len(items)}; identical raw texts: {same_text}/{len(items)}")
    if not all(same_answer):
        bad = [it.id for it, ok in zip(items, same_answer) if not ok]
        print(f"FAIL: extracted answers differ on {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
