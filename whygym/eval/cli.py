"""``whygym eval``: score a model on benchmarks, generated tasks or test suites (see :mod:`whygym.eval`).

Example::

    whygym eval --model default --benchmark calm-lite:probability-en --limit 20 --out runs/eval/smoke
"""

from __future__ import annotations

import argparse

from whygym.cliargs import COMMANDS
from whygym.eval._sources import SOURCE_HELP


def register(sub) -> None:
    from whygym.scoring import MODES

    p = sub.add_parser(
        "eval", help=COMMANDS["eval"].help,
        description="Generate answers with a model (batched, cached in SQLite, resumable), score them and write "
                    "results.json and samples.jsonl. Rerunning the same command reuses every cached answer, "
                    "so a killed run resumes where it stopped.")
    p.add_argument("--model", required=True,
                   help="'default' (SmolLM2-135M-Instruct), a checkpoint directory, 'hf:DIR', 'gguf:FILE[?n_ctx=N]', "
                        "'openai:MODEL@URL[?n_in_request=false&concurrency=4&timeout=60&api_key_env=NAME"
                        "&completions=true&chat_template=DIR|server...]' (see whygym.models.load), "
                        "'mock:text=ANSWER' or 'mock:pkg.module:function'")
    p.add_argument("--benchmark", action="append", required=True, metavar="NAME[:SUBSET]",
                   help=f"repeatable: {SOURCE_HELP}")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--limit", type=int, default=None, help="first N items of each benchmark")
    p.add_argument("--per-task", type=int, default=None, metavar="N",
                   help="first N items of each task of each benchmark (a balanced subset; before --limit)")
    p.add_argument("--samples", type=int, default=1, metavar="K", help="completions per item (default 1)")
    p.add_argument("--match", choices=MODES, default="strict",
                   help="strict: final answer within 5e-5; caugym: any answer within 5e-4; calm: 4-dp rounding (default strict)")
    p.add_argument("--max-new-tokens", type=int, default=256, metavar="T", help="per completion (default 256)")
    p.add_argument("--batch-size", type=int, default=8, metavar="B", help="prompts per model call and per cache commit (default 8)")
    p.add_argument("--temperature", type=float, default=None,
                   help="0 = greedy; default 0 for one sample, 0.7 for several")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus mass when sampling (default 1)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--system", default=None, help="system message (default: the chat template's)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (transformers only; faster where the CPU has native bf16 (AMX), other numbers; fp32 with a warning elsewhere)")
    p.add_argument("--tools", default=None, metavar="TOOL",
                   help="tool-integrated decoding: 'calculator' (each <<EXPR= the model writes gets its exact value "
                        "and >>; options as calculator:decimals=4,max_calls=16) or 'none' (default)")
    p.add_argument("--cache", default=None, metavar="PATH", help="response cache file (default DIR/cache.sqlite)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from whygym.eval._run import EvalConfig, run_eval

    cfg = EvalConfig(model=args.model, benchmarks=list(args.benchmark), out=args.out, limit=args.limit,
                     per_task=args.per_task,
                     samples=args.samples, match=args.match, max_new_tokens=args.max_new_tokens,
                     batch_size=args.batch_size, temperature=args.temperature, top_p=args.top_p, seed=args.seed,
                     system=args.system, bf16=args.bf16, cache=args.cache, tools=args.tools)
    run_eval(cfg, argv=command_line(args), progress=not args.no_progress)
    return 0


def command_line(args: argparse.Namespace) -> list[str]:
    """The parsed command as an argument list (every option spelled out, defaults included), so the record
    is exact however the command was typed or called (``whygym eval``, ``python -m whygym.eval``, tests)."""
    argv = ["whygym", "eval"]
    for key, value in vars(args).items():
        if key in ("command", "func") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, list):
            for v in value:
                argv += [flag, str(v)]
        else:
            argv += [flag, str(value)]
    return argv
