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
from typing import Any

__all__ = ["deprecated_alias", "flag"]


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
