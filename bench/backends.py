"""Backends compared on the same prompts in one run: transformers, in-process llama.cpp, the llama.cpp server.

Run:  HF_HUB_OFFLINE=1 .venv/bin/python bench/backends.py [--per-task 4] [--max-new-tokens 128]
                                                           [--batch-size 8] [--concurrency 1 2 4]

Needs the ``llamacpp-server`` extra (``make test-servers`` installs it). Items: the first ``--per-task`` items
of each of the seven tasks of ``calm-lite:probability-en``, the prompts ``whygym eval`` sends. Model: the
default SmolLM2-135M-Instruct: its Q4_1 GGUF for llama.cpp, the same GGUF dequantized to fp32 for
transformers (the weights agree up to the Q4_1 kernels' arithmetic). Greedy, the same ``max_new_tokens``,
no response cache: every figure is generation.

* ``transformers``: :class:`whygym.models.hf.TransformersBackend`, batches of ``--batch-size`` (what
  ``whygym eval --batch-size`` sends);
* ``llama.cpp``: :class:`whygym.models.llamacpp.LlamaCppBackend` (``gguf:``), one prompt at a time;
* ``server cN``: ``python -m llama_cpp.server`` on a loopback port, started here, and
  :class:`whygym.models.openai_compat.OpenAIBackend` with ``N`` requests in flight.

Contenders run one after another (the server sits idle while the others run). Prints items/s, completion
tokens/s, the ratio to transformers, and on how many items each contender's extracted answer equals
transformers' and in-process llama.cpp's. Every figure depends on the machine: the script prints it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def answer_key(text: str):
    from whygym.scoring import extract

    a = extract(text).final
    return None if a is None else (a.label, a.prob)


def run(be, prompts: list[str], max_new_tokens: int, chunk: int) -> tuple[float, list]:
    t0 = time.perf_counter()
    gens = []
    for i in range(0, len(prompts), chunk):
        gens += [g[0] for g in be.generate(prompts[i:i + chunk], max_new_tokens=max_new_tokens)]
    return time.perf_counter() - t0, gens


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-task", type=int, default=4, help="items per task (7 tasks)")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8, help="transformers: prompts per batch")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4], help="server: requests in flight")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="llama.cpp threads")
    ap.add_argument("--n-ctx", type=int, default=2048)
    args = ap.parse_args()
    if args.per_task < 1 or args.max_new_tokens < 1 or args.batch_size < 1 or min(args.concurrency) < 1:
        ap.error("--per-task, --max-new-tokens, --batch-size and --concurrency must be >= 1")
    try:
        import llama_cpp  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        sys.exit("bench/backends.py needs llama-cpp-python with its server: `make test-servers` installs it "
                 "(pip install -e '.[llamacpp-server]' with CMAKE_ARGS, see the Makefile)")

    import torch

    from whygym.eval import load_items
    from whygym.models import load_backend
    from whygym.models.resolve import default_gguf_path

    items = load_items("calm-lite:probability-en", per_task=args.per_task)
    prompts = [it.prompt for it in items]
    gguf = str(default_gguf_path())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; {len(prompts)} CaLM Lite items, greedy, "
          f"max_new_tokens {args.max_new_tokens}, llama.cpp threads {args.threads}")

    results: dict[str, tuple[float, list]] = {}
    be = load_backend("default")
    results["transformers"] = run(be, prompts, args.max_new_tokens, args.batch_size)
    del be
    be = load_backend(f"gguf:{gguf}", n_ctx=args.n_ctx, n_threads=args.threads)
    results["llama.cpp"] = run(be, prompts, args.max_new_tokens, len(prompts))
    del be
    import tempfile

    from whygym.models.llamacpp_server import ServerStartError, llamacpp_server

    log = os.path.join(tempfile.gettempdir(), "whygym-bench-backends-server.log")
    try:
        with llamacpp_server(gguf, threads=args.threads, n_ctx=args.n_ctx, log_path=log) as base:
            for c in args.concurrency:
                be = load_backend(f"openai:smollm2@{base}?concurrency={c}&timeout=600&extra.repeat_penalty=1")
                results[f"server c{c}"] = run(be, prompts, args.max_new_tokens, len(prompts))
    except ServerStartError as e:
        sys.exit(f"bench/backends.py: {e}")

    ref = [answer_key(g.text) for g in results["transformers"][1]]
    local = [answer_key(g.text) for g in results["llama.cpp"][1]]
    base_rate = len(prompts) / results["transformers"][0]
    print(f"\n{'backend':<14} {'seconds':>8} {'items/s':>8} {'tok/s':>7} {'x tf':>6} {'=tf':>6} {'=llama':>7}")
    for name, (sec, gens) in results.items():
        toks = sum(g.n_completion_tokens for g in gens)
        keys = [answer_key(g.text) for g in gens]
        same_tf = sum(a == b for a, b in zip(keys, ref))
        same_ll = sum(a == b for a, b in zip(keys, local))
        print(f"{name:<14} {sec:8.1f} {len(prompts) / sec:8.3f} {toks / sec:7.1f} {len(prompts) / sec / base_rate:6.2f} "
              f"{same_tf:>3}/{len(prompts):<2} {same_ll:>3}/{len(prompts):<2}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
