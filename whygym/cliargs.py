"""Command-line conventions every ``whygym`` command shares: one spelling per concept.

Flags are written with hyphens (``--max-new-tokens``, ``--batch-size``, ``--limit``), in every command; the
training commands' flags are their config fields with ``_`` written ``-`` (the YAML keys keep ``_``). An
old spelling still works as a hidden alias that prints one deprecation line.

>>> import argparse, contextlib, io
>>> p = argparse.ArgumentParser()
>>> _ = p.add_argument("--limit", type=int)
>>> deprecated_alias(p, "--n", "--limit", type=int)
>>> err = io.StringIO()
>>> with contextlib.redirect_stderr(err):
...     ns = p.parse_args(["--n", "3"])
>>> ns.limit, err.getvalue().strip()
(3, 'whygym: --n is deprecated; use --limit')
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NamedTuple

__all__ = ["COMMANDS", "Command", "deprecated_alias", "flag"]


class Command(NamedTuple):
    """A subcommand: the module whose ``registrar(subparsers)`` adds its parser, and its one-line help."""
    module: str
    registrar: str
    help: str


#: Every ``whygym`` subcommand, in the order ``whygym --help`` lists them. ``whygym CMD`` imports only
#: CMD's module (the CLI starts without the engine, numpy or torch); the one-line help lives here so that
#: the list can be printed without importing any of them.
COMMANDS: dict[str, Command] = {
    "generate": Command("whygym.tasks.cli", "register", "generate causal problems with exact answers"),
    "dedup": Command("whygym.tasks.cli", "register_dedup",
                     "report test items whose graph and question appear in a training set"),
    "audit": Command("whygym.benchmarks.cli", "register",
                     "re-derive benchmark gold answers exactly and report disagreements"),
    "eval": Command("whygym.eval.cli", "register", "evaluate a model: results.json, samples.jsonl, a per-task table"),
    "train": Command("whygym.train.cli", "register",
                     "post-train a model: sft, dpo, kto, ppo, grpo, the recipe; export data for verl/OpenRLHF"),
    "demo": Command("whygym.demo", "register", "run the main job end to end on the default model (about 35 "
                                               "minutes on 2 CPU cores, estimated)"),
    "attribute": Command("whygym.attribution.cli", "register",
                         "causal attribution: do() on prompt components or on model layers"),
    "report": Command("whygym.report.cli", "register", "a static HTML report (plots, tables, samples) of run folders"),
}


def flag(name: str) -> str:
    """The flag of a config field: ``max_new_tokens`` -> ``--max-new-tokens``."""
    return "--" + name.replace("_", "-")


class _Deprecated(argparse.Action):
    def __init__(self, option_strings, dest, new: str = "", inner: str = "store", **kw: Any):
        self.new, self.inner = new, inner
        if inner == "store_true":
            kw.update(nargs=0)
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"whygym: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, True if self.inner == "store_true" else values)


def deprecated_alias(parser, old: str, new: str, *, dest: str | None = None, store_true: bool = False,
                     **kw: Any) -> None:
    """Accept ``old`` for the option ``new`` (same ``dest``), hidden from ``--help``, with a deprecation line."""
    dest = dest or new.lstrip("-").replace("-", "_")
    parser.add_argument(old, dest=dest, action=_Deprecated, new=new, inner="store_true" if store_true else "store",
                        help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kw)
