"""Arithmetic written out so that a small model can copy it digit by digit.

The ``spelled`` derivation style of :mod:`whygym.train.data` keeps every reasoning step of the engine and,
after each line that evaluates a numeric expression (``ATE=0.6803*0.31-0.2102*0.31=0.1456``), inserts the
work: one operation per line, innermost first, products expanded over the digits of the second factor,
exact decimal values (no binary floating point), the rounding written last.

Why: the pilot in NOTES found that SmolLM2-135M learns the format and the sign from short derivations but
none of the 4-digit results; each line here asks the model for one small, local operation only.

>>> print(spell_expression("0.6803-0.2102"))
0.6803-0.2102 = 0.4701
>>> print(spell_expression("0.25*0.31+0.1"))
0.25*0.31 = 0.25*0.3 + 0.25*0.01 = 0.075 + 0.0025 = 0.0775
0.0775+0.1 = 0.1775
>>> print(spell_expression("0.2177-0.3173"))
0.2177-0.3173 = -(0.3173-0.2177) = -0.0996
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, getcontext
from typing import Sequence

# the exact arithmetic lives in whygym.arith (the calculator and the verifier use it too); re-exported here
from whygym.arith import ArithmeticParseError, exact_value, parse_expression

__all__ = ["spell_expression", "spell_steps", "parse_expression", "exact_value", "ArithmeticParseError"]

getcontext().prec = 40
_DIV_PLACES = Decimal("0.00000001")  # quotients are carried to 8 decimals


def _has_op(node) -> bool:
    return node[0] not in ("num",) and not (node[0] == "neg" and node[1][0] == "num") and not (
        node[0] == "group" and not _has_op(node[1]))


def _fmt(d: Decimal) -> str:
    s = format(d.normalize(), "f") if d != 0 else "0"
    if "." in s:
        s = s.rstrip("0").rstrip(".") if s.rstrip("0").rstrip(".") else "0"
    if s in ("-0", ""):
        s = "0"
    return s


def _mul_lines(a: Decimal, b: Decimal, sa: str, sb: str) -> str:
    """``a*b`` expanded over the nonzero digits of ``b`` (both non-negative, written ``sa`` and ``sb``)."""
    digits = []
    intpart, _, frac = sb.partition(".")
    for k, ch in enumerate(intpart):
        if ch != "0":
            digits.append(Decimal(ch) * (Decimal(10) ** (len(intpart) - 1 - k)))
    for k, ch in enumerate(frac):
        if ch != "0":
            digits.append(Decimal(ch) * (Decimal(10) ** (-(k + 1))))
    prod = a * b
    if len(digits) <= 1:
        return f"{sa}*{sb} = {_fmt(prod)}"
    parts = [a * d for d in digits]
    return (f"{sa}*{sb} = " + " + ".join(f"{sa}*{_fmt(d)}" for d in digits) + " = "
            + " + ".join(_fmt(p) for p in parts) + f" = {_fmt(prod)}")


def _spell(node, lines: list[str]) -> tuple[Decimal, str]:
    """Evaluate ``node``, appending one line per operation; returns (value, how the value is written)."""
    kind = node[0]
    if kind == "num":
        return node[1], node[2]  # operands stay as written (0.4800, not 0.48): the model copies them
    if kind == "group":
        return _spell(node[1], lines)
    if kind == "neg":
        v, _ = _spell(node[1], lines)
        return -v, _fmt(-v)
    if kind in ("min", "max"):
        a, ta = _spell(node[1], lines)
        b, tb = _spell(node[2], lines)
        r = min(a, b) if kind == "min" else max(a, b)
        lines.append(f"{kind}{{{ta}, {tb}}} = {_fmt(r)}")
        return r, _fmt(r)
    a, ta = _spell(node[1], lines)
    b, tb = _spell(node[2], lines)
    pb = f"({tb})" if b < 0 else tb
    if kind == "+":
        r = a + b
        if b < 0:
            lines.append(f"{ta}+{pb} = {ta}-{_fmt(-b)} = {_fmt(r)}")
        else:
            lines.append(f"{ta}+{tb} = {_fmt(r)}")
    elif kind == "-":
        r = a - b
        if b < 0:
            lines.append(f"{ta}-{pb} = {ta}+{_fmt(-b)} = {_fmt(r)}")
        elif a >= 0 and b > a:
            lines.append(f"{ta}-{tb} = -({tb}-{ta}) = {_fmt(r)}")
        else:
            lines.append(f"{ta}-{tb} = {_fmt(r)}")
    elif kind == "*":
        r = a * b
        neg = (a < 0) != (b < 0)
        ua, ub = ta.lstrip("-"), tb.lstrip("-")
        core = _mul_lines(abs(a), abs(b), ua, ub)
        if a < 0 or b < 0:
            pa = f"({ta})" if a < 0 else ta
            sign = "-" if neg else ""
            lines.append(f"{pa}*{pb} = {sign}({ua}*{ub})")
            lines.append(core + (f", so the product is {_fmt(r)}" if neg else ""))
        else:
            lines.append(core)
    elif kind == "/":
        if b == 0:
            raise ArithmeticParseError("division by zero")
        r = (a / b).quantize(_DIV_PLACES, rounding=ROUND_HALF_EVEN)
        lines.append(f"{ta}/{pb} = {_fmt(r)} (to 8 decimals)")
    else:  # pragma: no cover - parser makes no other nodes
        raise ArithmeticParseError(f"unknown node {kind}")
    return r, _fmt(r)


def spell_expression(text: str, round_to: int | None = None) -> str:
    """The step-by-step evaluation of an arithmetic expression, one operation per line.

    ``round_to`` adds a last line rounding the result to that many decimals.

    >>> print(spell_expression("min{1, (0.8183-0.6279)/0.0479}", round_to=4))
    0.8183-0.6279 = 0.1904
    0.1904/0.0479 = 3.97494781 (to 8 decimals)
    min{1, 3.97494781} = 1
    rounded to 4 decimals: 1.0000
    """
    lines: list[str] = []
    v, _ = _spell(parse_expression(text), lines)
    if round_to is not None:
        q = v.quantize(Decimal(1).scaleb(-round_to), rounding=ROUND_HALF_EVEN)
        q = Decimal(0).quantize(q) if q == 0 else q  # never -0.0000
        lines.append(f"rounded to {round_to} decimals: {q}")
    return "\n".join(lines)


def _spell_line(line: str, decimals: int) -> list[str]:
    """Work lines for every ``...=EXPR=RESULT`` part of one reasoning line (none if it has no arithmetic)."""
    parts = line.split("=")
    out: list[str] = []
    for k in range(len(parts) - 1):
        seg = parts[k].strip()
        if not seg or not any(c.isdigit() for c in seg):
            continue
        try:
            node = parse_expression(seg)
        except ArithmeticParseError:
            continue
        if not _has_op(node):
            continue
        nxt = parts[k + 1].strip()
        m = re.match(r"-?\d+\.(\d+)", nxt)
        places = len(m.group(1)) if m else decimals
        try:
            out.append(spell_expression(seg, round_to=places))
        except ArithmeticParseError:
            continue
    return out


def spell_steps(steps: Sequence[str], decimals: int = 4) -> list[str]:
    """Each step text followed by the worked arithmetic of its numeric expressions.

    >>> spell_steps(["ATE=0.6803-0.2102=0.4701", "ATE=0.4701>0 so the answer is Yes."])[0]
    'ATE=0.6803-0.2102=0.4701\\nWork: 0.6803-0.2102 = 0.4701\\nrounded to 4 decimals: 0.4701'
    """
    out = []
    for step in steps:
        pieces = []
        for line in step.split("\n"):
            pieces.append(line)
            for work in _spell_line(line, decimals):
                pieces.append("Work: " + work)
        out.append("\n".join(pieces))
    return out
