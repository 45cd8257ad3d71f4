"""The ``whygym`` entry point: every command in the table is reachable with its own parser, ``whygym
--help`` lists them all without importing any command module (nor numpy or torch), and the help each
module registers is the table's."""

import argparse
import json
import subprocess
import sys

import pytest

from whygym.cli import build_parser, main
from whygym.cliargs import COMMANDS


def _subparsers(p: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))


def test_full_parser_registers_the_table():
    sub = _subparsers(build_parser())
    assert list(sub.choices) == list(COMMANDS)
    assert {a.dest: a.help for a in sub._choices_actions} == {n: c.help for n, c in COMMANDS.items()}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_gets_its_real_parser(name, capsys):
    full = _subparsers(build_parser()).choices[name]
    lazy = _subparsers(build_parser([name, "--help"])).choices[name]
    assert [a.option_strings for a in lazy._actions] == [a.option_strings for a in full._actions]
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0 and f"usage: whygym {name}" in capsys.readouterr().out


def test_top_level_help_imports_no_command_module():
    code = ("import sys, json, contextlib, io\n"
            "from whygym.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
            "print(json.dumps({'help': out.getvalue(), 'mods': sorted(sys.modules)}))")
    got = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    heavy = {"numpy", "torch", "transformers"} | {c.module for c in COMMANDS.values()}
    assert not heavy & set(got["mods"])
    for name, cmd in COMMANDS.items():
        assert name in got["help"]


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["evaluate"])
    assert e.value.code == 2 and "invalid choice: 'evaluate'" in capsys.readouterr().err
