"""SFT throughput: seconds per training row with random batches and with batches grouped by token length.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python bench/sft_throughput.py [--rows 32] [--batch-size 4] [--derivation worded]
                                                                [--compile]

Rows: the recipe's second-stage SFT rows (graphs of 3-6 nodes, ``configs/recipe.yaml``'s data settings, 300
items per task). ``random``: the first ``--rows`` of a seeded shuffle of them (what ``SFTTrainer`` samples by
default); ``grouped``: the first ``--rows`` of transformers' ``get_length_grouped_indices`` over all of them
(what ``group_by_length: true`` / the recipe's ``sft_group_by_length`` asks the trainer for: rows sorted by
length within mega-batches of 50 batches). The two contenders see different rows of the same distribution:
seconds per row compare them only together with the mean row length, which the script prints. Each batch
is right-padded to its longest row and gets one forward and backward pass of the default model (loss on the
completion only, as SFT); the optimizer step is left out (it costs the same in both). ``--compile`` adds
grouped batches through ``torch.compile(dynamic=True)``, its compilation timed apart. Prints the share of
computed tokens that are padding, seconds per row, and the ratio. Figures hold for the machine that printed
them (the script prints the CPU kind); compare the two in one run.
"""

from __future__ import annotations

import argparse
import os
import random
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=32, help="training rows timed (the same for both contenders)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--derivation", default="worded", help="target style of the rows")
    ap.add_argument("--max-length", type=int, default=1024, help="rows longer than this are dropped (as SFT)")
    ap.add_argument("--compile", action="store_true",
                    help="a third contender: grouped batches through torch.compile(dynamic=True) (its compile "
                         "time, on the first batch, is printed apart)")
    args = ap.parse_args()

    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    from whygym.models.encode import pad_id_of
    from whygym.train.config import SFTArgs
    from whygym.train.trainers import build_dataset, load_model

    cfg = SFTArgs(model="default", n_train=300, nodes=[3, 6], no_path_rate=0.2,
                  derivation=args.derivation, heldout_n=10, heldout_seed=1000, train_seed=2)
    rows, _ = build_dataset(cfg, "sft")
    model, tok = load_model("default")
    model.train()
    every = []  # (ids, prompt length) of every row that fits: the trainer groups over the whole set
    for r in rows:
        prompt = tok.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True)
        full = tok.apply_chat_template(r["prompt"] + r["completion"], tokenize=False)
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        ids = tok(full, add_special_tokens=False)["input_ids"]
        if len(ids) <= args.max_length:
            every.append((ids, len(p_ids)))
    pad = pad_id_of(tok)
    # the first --rows of each order over the whole set (transformers groups within mega-batches of up to
    # 50 batches, so grouping needs the whole set to mean anything), as the trainer would take them
    shuffled = list(range(len(every)))
    random.Random(0).shuffle(shuffled)
    gen = torch.Generator().manual_seed(0)
    grouped = get_length_grouped_indices([len(s[0]) for s in every], args.batch_size, generator=gen)
    n = args.rows - args.rows % args.batch_size
    seqs = [every[i] for i in shuffled[:n]] + [every[i] for i in grouped[:n]]
    order_random, order_grouped = list(range(n)), list(range(n, 2 * n))
    print(f"{n} rows of {len(every)} per contender (mean {sum(len(s[0]) for s in seqs[:n]) / n:.0f} and "
          f"{sum(len(s[0]) for s in seqs[n:]) / n:.0f} tokens), batch {args.batch_size}, "
          f"CPU kernels {torch.backends.cpu.get_cpu_capability()}, torch threads {torch.get_num_threads()}",
          flush=True)

    def batches(order):
        for k in range(0, len(order), args.batch_size):
            part = [seqs[i] for i in order[k:k + args.batch_size]]
            width = max(len(ids) for ids, _ in part)
            x = torch.full((len(part), width), pad, dtype=torch.long)
            m = torch.zeros((len(part), width), dtype=torch.long)
            y = torch.full((len(part), width), -100, dtype=torch.long)
            for r, (ids, n_prompt) in enumerate(part):
                x[r, :len(ids)] = torch.tensor(ids)
                m[r, :len(ids)] = 1
                y[r, n_prompt:len(ids)] = torch.tensor(ids[n_prompt:])
            yield x, m, y

    # warm-up: one small batch, so that neither contender pays the first call's allocations
    x, m, y = next(batches(order_random))
    model(input_ids=x[:1, :64], attention_mask=m[:1, :64], labels=y[:1, :64]).loss.backward()
    model.zero_grad(set_to_none=True)
    contenders = [("random", order_random, model), ("grouped", order_grouped, model)]
    if args.compile:
        compiled = torch.compile(model, dynamic=True)
        t0 = time.perf_counter()
        x, m, y = next(batches(order_grouped))
        compiled(input_ids=x, attention_mask=m, labels=y).loss.backward()  # compiles (forward and backward)
        model.zero_grad(set_to_none=True)
        print(f"torch.compile: first batch (compilation included) {time.perf_counter() - t0:.1f} s", flush=True)
        contenders.append(("grouped+compiled", order_grouped, compiled))
    results = []
    for name, order, net in contenders:
        computed = real = 0
        t0 = time.perf_counter()
        for x, m, y in batches(order):
            net(input_ids=x, attention_mask=m, labels=y).loss.backward()
            model.zero_grad(set_to_none=True)
            computed += x.numel()
            real += int(m.sum())
        dt = time.perf_counter() - t0
        results.append((name, dt, computed, real))
        print(f"{name}: {dt:.1f} s, {dt / n:.2f} s/row, padding {1 - real / computed:.1%} of "
              f"{computed} computed tokens", flush=True)
    print()
    print("| batches | seconds | s/row | computed tokens | padding share |")
    print("| --- | --- | --- | --- | --- |")
    for name, dt, computed, real in results:
        print(f"| {name} | {dt:.1f} | {dt / n:.2f} | {computed} | {1 - real / computed:.1%} |")
    for name, dt, _, _ in results[1:]:
        print(f"rows per second, {name} / random: {results[0][1] / dt:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
