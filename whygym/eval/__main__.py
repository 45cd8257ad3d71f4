"""``python -m whygym.eval ARGS`` is ``whygym eval ARGS`` without loading the other subcommands' modules
(some import torch at parse time, seconds that a mock-model run or a test need not pay)."""

import sys

import whygym.cli as _cli

if __name__ == "__main__":
    _cli._SUBCOMMAND_MODULES = ["whygym.eval.cli"]
    sys.exit(_cli.main(["eval", *sys.argv[1:]]))
