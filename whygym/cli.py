"""Command line entry point: ``whygym SUBCOMMAND ...``.

Thin by design: each subcommand lives beside the library code it calls, in a module exposing
``register(subparsers)`` which adds its parser and sets ``func`` (called with the parsed args, returns
an exit code). Commands are listed in :data:`whygym.cliargs.COMMANDS` (module, registrar, one-line help);
add one line there to plug in a new command. Only the command run is imported.
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

# Defined in its own module so that ``python -m whygym.cli`` (which loads this file twice: as __main__
# and as whygym.cli) still catches the UserError that subcommands raise.
from whygym.errors import UserError  # noqa: E402


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``whygym`` parser. With ``argv``, only the named subcommand's module is imported (the others are
    listed by their one-line help, :data:`whygym.cliargs.COMMANDS`), so ``whygym --help`` and
    ``whygym CMD`` start without loading what other commands need; without it, every command is built."""
    from whygym import __version__
    from whygym.cliargs import COMMANDS

    p = argparse.ArgumentParser(prog="whygym", description="Verifiable causal reasoning tasks, evaluation, "
                                "post-training and causal attribution for language models.")
    p.add_argument("--version", action="version", version=f"whygym {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    wanted = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name, cmd in COMMANDS.items():
        if wanted is None or name == wanted:
            getattr(importlib.import_module(cmd.module), cmd.registrar)(sub)
        else:
            sub.add_parser(name, help=cmd.help)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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
