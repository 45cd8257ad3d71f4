"""Exact decimal arithmetic: the one evaluator behind the calculator tool (:mod:`whygym.models.tools`), the
step verifier (:mod:`whygym.scoring.verify`) and the spelled training targets (:mod:`whygym.train.spelled`).

An expression of decimal numbers, ``+ - * /``, round or square brackets, ``min{a, b}`` and ``max{a, b}`` is
parsed into a small tuple tree and evaluated as an exact :class:`fractions.Fraction`; no binary floating
point is involved anywhere.

>>> exact_value(parse_expression("0.8315-0.9066"))
Fraction(-751, 10000)
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["ArithmeticParseError", "parse_expression", "exact_value", "minmax_braces"]

_TOKEN = re.compile(r"\s*(?:(\d+\.\d+|\d+)|(min\{|max\{)|([-+*/()\[\],{}]))")

class ArithmeticParseError(ValueError):
    """The text is not a plain arithmetic expression of numbers, + - * /, brackets, min{} and max{}."""


def _tokens(s: str) -> list[str]:
    out, pos = [], 0
    s = s.strip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m or m.end() == pos:
            raise ArithmeticParseError(f"unexpected text at {s[pos:pos + 10]!r}")
        out.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
        while pos < len(s) and s[pos].isspace():
            pos += 1
    return out


# AST nodes are tuples: ("num", Decimal, text) | ("neg", node) | (op, left, right) | ("min"/"max", a, b)
def parse_expression(s: str):
    """Parse an arithmetic expression into a small tuple tree (raises :class:`ArithmeticParseError`)."""
    toks = _tokens(s)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take(expected=None):
        nonlocal pos
        t = peek()
        if t is None or (expected is not None and t != expected):
            raise ArithmeticParseError(f"expected {expected or 'more'} in {s!r}")
        pos += 1
        return t

    def expr():
        node = term()
        while peek() in ("+", "-"):
            op = take()
            node = (op, node, term())
        return node

    def term():
        node = unary()
        while peek() in ("*", "/"):
            op = take()
            node = (op, node, unary())
        return node

    def unary():
        if peek() == "-":
            take()
            return ("neg", unary())
        return atom()

    def atom():
        t = take()
        if t in ("(", "["):
            node = expr()
            take(")" if t == "(" else "]")
            return ("group", node)
        if t in ("min{", "max{"):
            a = expr()
            take(",")
            b = expr()
            take("}")
            return (t[:3], a, b)
        if t[0].isdigit():
            return ("num", Decimal(t), t)
        raise ArithmeticParseError(f"unexpected {t!r} in {s!r}")

    node = expr()
    if pos != len(toks):
        raise ArithmeticParseError(f"trailing text {toks[pos:]} in {s!r}")
    return node


def exact_value(node, atoms=None):
    """The exact rational value (``fractions.Fraction``) of a tree from :func:`parse_expression`, or None where
    it is undefined (a division by zero, an ``("atom", name)`` leaf missing from ``atoms``, nesting too deep).
    Tools, the verifier and the spelled targets all evaluate through this one function.

    >>> exact_value(parse_expression("min{1, (0.2210-0.0613)/0.6681}"))
    Fraction(1597, 6681)
    """
    from fractions import Fraction

    def ev(n):
        kind = n[0]
        if kind == "num":
            return n[1] if isinstance(n[1], Fraction) else Fraction(n[1])
        if kind == "atom":
            return None if atoms is None else atoms.get(n[1])
        if kind == "group":
            return ev(n[1])
        if kind == "neg":
            v = ev(n[1])
            return None if v is None else -v
        a, b = ev(n[1]), ev(n[2])
        if a is None or b is None:
            return None
        if kind == "+":
            return a + b
        if kind == "-":
            return a - b
        if kind == "*":
            return a * b
        if kind == "/":
            return None if b == 0 else a / b
        if kind == "min":
            return min(a, b)
        if kind == "max":
            return max(a, b)
        return None

    try:
        return ev(node)
    except RecursionError:
        return None


def minmax_braces(expr: str) -> str:
    """``min(a, b)`` / ``max(a, b)`` rewritten as ``min{a, b}``, the form :func:`parse_expression` reads
    (brackets inside are kept).

    >>> minmax_braces("max(0, (0.5-0.2)/0.6)")
    'max{0, (0.5-0.2)/0.6}'
    """
    out, stack = [], []
    i = 0
    while i < len(expr):
        m = re.match(r"(min|max)\s*\(", expr[i:])
        if m:
            out.append(m.group(1) + "{")
            stack.append("}")
            i += m.end()
            continue
        ch = expr[i]
        if ch == "(":
            stack.append(")")
        elif ch == ")" and stack:
            ch = stack.pop()
        out.append(ch)
        i += 1
    return "".join(out)
