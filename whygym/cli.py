"""Command line entry point: ``whygym SUBCOMMAND ...``.

Thin by design: each subcommand lives beside the library code it calls, in a module exposing
``register(subparsers)`` which adds its parser and sets ``func`` (called with the parsed args, returns
an exit code). Modules are listed in ``_SUBCOMMAND_MODULES``; add one line to plug in a new command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Nothing is ever downloaded from a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

_SUBCOMMAND_MODULES = [
    "whygym.tasks.cli",        # generate, dedup
    "whygym.benchmarks.cli",   # audit
    "whygym.eval.cli",         # eval
    "whygym.train.cli",  # train
    "whygym.demo",             # demo
    "whygym.attribution.cli",  # attribute
    "whygym.report.cli",  # report
]


# Defined in its own module so that ``python -m whygym.cli`` (which loads this file twice: as __main__
# and as whygym.cli) still catches the UserError that subcommands raise.
from whygym.errors import UserError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    from whygym import __version__

    p = argparse.ArgumentParser(prog="whygym", description="Verifiable causal reasoning tasks, evaluation, "
                                "post-training and causal attribution for language models.")
    p.add_argument("--version", action="version", version=f"whygym {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        mod = importlib.import_module(name)
        mod.register(sub)
        if hasattr(mod, "register_dedup"):
            mod.register_dedup(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"whygym {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nwhygym {args.command}: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
