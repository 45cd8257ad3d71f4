"""Step verifier: where does a free-text derivation first depart from the exact engine's?

:func:`verify` reads a derivation a model wrote and checks it, step by step, against the reference
derivation of an item (:attr:`whygym.items.Item.reason`, CaLM's Reason format, which generated and
loaded CaLM/CauGym items both carry), using the numbers the prompt states (:attr:`~whygym.items.Item.given`).
Nothing is matched by line number or exact string: lines are found by their patterns and formulas are
compared as algebraic objects, so ``P(Y=1|X=0,Z=1)*P(Z=1)`` and ``P(Z=1) P(Y=1 | Z=1, X=0)`` are the same.

Checks, in order (each a :class:`StepCheck`)
--------------------------------------------
``path_claim``
    The first claim that the treatment is / is not a cause of the outcome (ATE, ETT), that the edge
    exists (CDE, NDE) or that an indirect path exists (NIE): the first sentence (questions such as
    "Check whether ..." skipped) mentioning a cause / path / edge / connection, read as negative when it
    holds a negation ("not", "no", "does not", ...). A derivation that says "no directed path ... answer
    0" where the reference has a path fails here (the shortcut a model learns), and vice versa.
``adjustment_set``, ``mediator_set``
    The sets stated (``backdoor adjustment set: {A, C}`` / ``empty set``, ``mediator set: {B}``) equal
    the reference's. When the text states none, the set is read off its formula: the variables of its
    conditional-probability terms other than treatment, outcome and the fixed mediators (CDE); for
    NDE/NIE the reference's mediators among them are mediators, the rest covariates. PN/PS references
    state no set: theirs is read the same way from the ``P(y|do(x)) = ...`` line.
``estimand``
    The formula line (``ATE=P(C=0|do(A=0))-P(C=0|do(A=1))=...``, ``max{0, [...]/P(...)}``): every one of
    its ``=``-separated probability expressions must equal one of the reference's as a polynomial in the
    probability terms (terms keyed by their event, condition and do() assignments, order-free; sums
    ``sum_{B}`` are notation; ``x/D`` is ``x`` times an atom ``1/D``; ``min``/``max`` are atoms of their
    arguments), or, for expressions of stated terms only, take the reference's value exactly (a
    complement ``1-P(B=0)`` in place of ``P(B=1)``). A contrast the wrong way round (sign flip), another
    task's estimand, or the other Tian-Pearl bound gives other polynomials. The leading estimand name
    (``ATE``, ``Upper bound of PN``) must also be the reference's.
``substitution``
    Each arithmetic expression of the reference (``0.4642-0.2392``, ``max{0, (0.0519-0.1041)/0.0232}``)
    appears in the text: the same expression tree up to the order of terms and factors (nothing
    expanded or cancelled, so the same numbers stand in the same places; a ``P(y|do(x))`` value the
    text computed itself stands for the reference's), or another arrangement with exactly the
    reference's value from at least as many stated numbers (given values, their complements ``1-p``,
    the reference's listed values: ``(1-0.1108)`` for ``0.8892``, ``a*c-b*c`` for ``(a-b)*c``); and
    every ``P(...)=number`` the text lists for a stated term has the stated value.
``arithmetic``
    Every ``EXPR=VALUE`` (plain, in chains of ``=`` lines, or a calculator call ``<<EXPR=VALUE>>``) holds:
    ``EXPR`` is evaluated exactly (:func:`whygym.arith.parse_expression`, rational arithmetic)
    and ``|EXPR - VALUE| <= 0.5 * 10^-d`` for a VALUE written with ``d`` decimals (an integer VALUE must
    be exact; a VALUE that is itself an expression gets that slack per literal). A calculator call whose
    expression cannot be read, or that returned ``ERROR``, fails.
``rounding``
    The final ``PROB`` is the text's own computed value (the exact value of the last computation it
    writes) rounded to 4 decimals: ``|PROB - value| <= 5e-5`` (either rounding of an exact tie).
``sign_label``
    For yes/no tasks, the final ``ANSWER`` (or else the last "the answer is yes/no") is the label the
    reference's last step gives; it is read, not re-derived, so CaLM's ETT convention (Yes iff ETT < 0)
    holds as the reference writes it.
``answer``
    A final answer is present and parseable (:func:`whygym.scoring.score`) and agrees with the gold: a
    safety net, so that no derivation is called correct with a wrong final answer.

Only the checks the reference supports are made (a structural zero has path_claim, sign_label and
answer; PN/PS have no path claim). A check whose step the text does not contain at all fails, with
``found=None`` (missing, not silently ok).

Verdict
-------
``first_error`` is the kind of the first failed check (None if all pass); ``category`` is
``"no_answer"`` when no final answer parses, else ``first_error`` or ``"correct"``; ``verified_prefix``
is the share of the reference's checks passed before the first failure (1.0 when all pass).
One exception to the order: when the text's causal *target* (the ``do()``/counterfactual side of its
formula, the bound taken, or the estimand's name) is not the reference's, the estimand check moves
right after path_claim, since a set chosen for another question is a consequence of asking it.

API
---
* :func:`verify` ``(text, item) -> Verdict``; :class:`Verdict` (``steps``, ``first_error``, ``category``,
  ``verified_prefix``), :class:`StepCheck` (``kind``, ``ok``, ``expected``, ``found``).
* :class:`process_reward` (= :class:`ProcessReward`): ``process_reward()`` is a picklable TRL reward,
  ``verified_prefix`` from the columns ``reason``, ``gold``, ``task``, ``given`` (those
  :func:`whygym.train.data.rl_rows` writes).
* :func:`breakdown`: counts per category (and per task) for results tables.

Examples
--------
>>> from whygym.tasks import generate
>>> from whygym.train.data import render_target
>>> it = next(i for i in generate(["ATE"], n=5, seed=0) if not i.meta.get("structural_zero"))
>>> verify(render_target(it.reason, it.answer), it).category
'correct'
>>> shortcut = "There is no directed path from the treatment to the outcome, so the answer is 0. " + it.answer
>>> v = verify(shortcut, it)
>>> v.category, v.verified_prefix
('path_claim', 0.0)
>>> verify("I am not sure.", it).category
'no_answer'
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from whygym.arith import ArithmeticParseError, exact_value, minmax_braces, parse_expression
from whygym.items import BOUND_TASKS, PROB_TASKS, YESNO_PROB_TASKS, Item, value_words, with_letters, with_value_numbers

__all__ = ["StepCheck", "Verdict", "verify", "ProcessReward", "process_reward", "breakdown", "CHECKS",
           "CATEGORIES"]

#: The checks, in the order they are made.
CHECKS = ("path_claim", "adjustment_set", "mediator_set", "estimand", "substitution", "arithmetic", "rounding",
          "sign_label", "answer")
#: Every verdict category.
CATEGORIES = ("correct", "no_answer") + CHECKS

_YESNO = {t.upper() for t in YESNO_PROB_TASKS}
_BOUND = {t.upper() for t in BOUND_TASKS}
_TASK_NAMES = PROB_TASKS
_MAX_TEXT = 50_000      # longer outputs are cut (a derivation is a few thousand characters)
_MAX_SEG = 4000         # longer '='-segments are not parsed
_MAX_MONOS = 512        # polynomial expansion cap (adversarial products)
_MAX_OPS = 300          # longer expressions are not parsed (keeps the recursive walks shallow)
_ROUND_TOL = Fraction(5, 100000) + Fraction(1, 10 ** 9)


# ================================================================================================ results
@dataclass(frozen=True)
class StepCheck:
    """One check: ``kind`` (see :data:`CHECKS`), ``ok``, what the reference has (``expected``) and what
    the text has (``found``; None when the text does not contain the step)."""

    kind: str
    ok: bool
    expected: Any = None
    found: Any = None

    @property
    def missing(self) -> bool:
        return self.found is None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ok": self.ok, "expected": self.expected, "found": self.found}


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`verify` (see the module docstring)."""

    steps: tuple[StepCheck, ...]
    first_error: str | None
    category: str
    verified_prefix: float

    @property
    def correct(self) -> bool:
        return self.category == "correct"

    def step(self, kind: str) -> StepCheck | None:
        """The check of that kind, or None when the reference does not support it."""
        return next((s for s in self.steps if s.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "first_error": self.first_error, "verified_prefix": self.verified_prefix,
                "steps": [s.to_dict() for s in self.steps]}


# ============================================================================================ text basics
_THINK = re.compile(r"</?think(?:ing)?\s*>", re.IGNORECASE)
_CALL = re.compile(r"<<([^<>]{0,2000}?)=([^<>=]{0,200})>>")
_CALM_DO = re.compile(r"P\(([^()|]*)\)\s*\|\s*do\(([^()]*)\)")  # CaLM's "P(B=0)|do(A=0)"
_STEP_LABEL = re.compile(r"^\s*(?:\*\*)?\s*step\s*\d+\s*(?:\*\*)?\s*[:.)]\s*(?:\*\*)?", re.IGNORECASE)
_UNICODE = str.maketrans({"\u2212": "-", "\u2013": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*",
                          "\u2217": "*", "\uff1d": "=", "\u2205": " empty set "})


def _normalize(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Plain text for the analysis and the calculator calls ``(expr, value)`` it held."""
    text = _THINK.sub("\n", text[:_MAX_TEXT]).translate(_UNICODE).replace("\r", "")
    calls: list[tuple[str, str]] = []

    def call(m):
        calls.append((m.group(1), m.group(2).strip()))
        return f"{m.group(1)}={m.group(2)}"

    text = _CALL.sub(call, text).replace("<<", "").replace(">>", "")
    return _CALM_DO.sub(r"P(\1|do(\2))", text), calls


def _split_top(s: str, sep: str) -> list[str]:
    """Split on ``sep`` outside brackets (``P(B=0)`` and ``do(A=1)`` keep their ``=``)."""
    out, depth, start = [], 0, 0
    for i, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif c == sep and depth == 0:
            if sep == "=" and (s[i - 1:i] in ("<", ">", "!", "=") or s[i + 1:i + 2] == "="):
                continue  # <=, >=, ==: comparisons, not chain links
            out.append(s[start:i])
            start = i + 1
    out.append(s[start:])
    return out


def _chains(text: str) -> list[list[str]]:
    """``=``-chains: one per line (lines starting with ``=`` continue the previous one; tabs separate
    listings), each a list of segments."""
    lines: list[str] = []
    for raw in text.split("\n"):
        line = _STEP_LABEL.sub("", raw).strip()
        if not line:
            continue
        if line.startswith("=") and lines:
            lines[-1] += line
        else:
            lines.append(line)
    out = []
    for line in lines:
        for part in line.split("\t"):
            if "=" in part and len(part) <= 20 * _MAX_SEG:
                segs = _split_top(part, "=")
                if len(segs) >= 2:
                    out.append(segs)
    return out[:2000]


# ======================================================================================= numeric parsing
_NUMTOK = re.compile(r"\s+|(?:min|max)\s*[{(]|\d+(?:\.\d+)?|\.\d+|[-+*/()\[\]{},]")


def _numeric_runs(seg: str) -> tuple[str, str]:
    """The longest numeric prefix and suffix of a segment (numbers, operators, brackets, min/max)."""
    pos, first_break, last_break_end = 0, None, 0
    n = len(seg)
    while pos < n:
        m = _NUMTOK.match(seg, pos)
        if m is None:
            if first_break is None:
                first_break = pos
            pos += 1
            last_break_end = pos
            continue
        pos = m.end()
    prefix = seg if first_break is None else seg[:first_break]
    suffix = seg[last_break_end:]
    return _clean_num(prefix, trailing=True), _clean_num(suffix, trailing=False)


def _clean_num(s: str, trailing: bool) -> str:
    s = s.strip()
    if trailing:
        s = s.rstrip(" ,([{").strip()
    else:
        s = s.lstrip(" ,)]}").strip()
    return s


@lru_cache(maxsize=4096)
def _num_parse(s: str):
    """AST of a numeric expression (spelled parser) or None."""
    if not s or len(s) > _MAX_SEG or not any(c.isdigit() for c in s) or sum(map(s.count, "+-*/([{")) > _MAX_OPS:
        return None
    try:
        return parse_expression(minmax_braces(s.replace(" ", "")))
    except (ArithmeticParseError, RecursionError, InvalidOperation, ValueError, IndexError):
        return None


def _is_plain(node) -> bool:
    while node[0] in ("group",):
        node = node[1]
    return node[0] == "num" or (node[0] == "neg" and _is_plain(node[1]))


def _exact(node, table: Mapping[str, Fraction] | None = None) -> Fraction | None:
    """Exact rational value of an AST (numbers, + - * /, min/max; atoms from ``table``), None if undefined."""
    return exact_value(node, table)


def _literals(node) -> list:
    """The number literals of an AST as ``(value, text)``."""
    try:
        return _literals_r(node, [])
    except RecursionError:
        return []


def _literals_r(node, out: list) -> list:
    if node[0] == "num":
        out.append((node[1] if isinstance(node[1], Fraction) else Fraction(node[1]), node[2]))
    elif node[0] != "atom":
        for child in node[1:]:
            if isinstance(child, tuple):
                _literals_r(child, out)
    return out


def _decimals(text: str) -> int:
    return len(text.partition(".")[2]) if "." in text else 0


# ===================================================================================== symbolic parsing
_ASSIGN = re.compile(r"([A-Za-z][A-Za-z0-9_']*)(?:=([A-Za-z0-9]+))?")
_SUM = re.compile(r"\\?(?:sum|Sum|\u2211|\u03a3)(?:_\{[^{}]*\}|_[A-Za-z](?:,[A-Za-z])*)?")
_SYMNUM = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_MINMAX = re.compile(r"(min|max)\s*([{(])")
_CF = re.compile(r"\s*([+-]?)\s*([A-Za-z][A-Za-z0-9']*)_\{([^{}]*)\}")


def _close(s: str, i: int) -> int:
    """Index of the bracket closing the one opened just before ``i`` (-1 if none)."""
    depth = 1
    for j in range(i, len(s)):
        c = s[j]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return j
    return -1


def _assignments(part: str) -> list[str] | None:
    out = []
    for a in _split_top(part, ","):
        a = a.strip()
        if not a:
            continue
        m = _ASSIGN.fullmatch(a)
        if m is None:
            return None
        val = m.group(2)
        out.append(f"{m.group(1)}={val if val in ('0', '1') else '?'}")
    return out


def _term_key(body: str) -> tuple[str, str] | None:
    """Canonical key of ``P(body)`` and its kind (``p`` or ``do``), None when it is not a term."""
    body = body.replace(" ", "")
    ev, _, cond = body.partition("|")
    evs = _assignments(ev)
    if not evs:
        return None
    conds, dos = [], []
    for part in _split_top(cond, ","):
        if not part:
            continue
        if part.startswith("do(") and part.endswith(")"):
            got = _assignments(part[3:-1])
            if got is None:
                return None
            dos += got
        else:
            got = _assignments(part)
            if got is None:
                return None
            conds += got
    key = f"P({','.join(sorted(evs))}|{','.join(sorted(conds))}|{','.join(sorted(dos))})"
    return key, ("do" if dos else "p")


def _cf_atoms(body: str) -> list[tuple[int, str]] | None:
    """``E[Y_{X=1}-Y_{X=0}|X=1]`` -> signed counterfactual atoms."""
    inner, _, cond = body.replace(" ", "").partition("|")
    conds = _assignments(cond) if cond else []
    if conds is None:
        return None
    out, pos = [], 0
    while pos < len(inner):
        m = _CF.match(inner, pos)
        if m is None:
            return None
        sub = _assignments(m.group(3))
        if not sub:
            return None
        out.append((-1 if m.group(1) == "-" else 1,
                    f"E({m.group(2)}|{','.join(sorted(sub))}|{','.join(sorted(conds))})"))
        pos = m.end()
    return out or None


def _sym_tokens(s: str) -> list | None:
    """Tokens of a probability expression up to the first character of prose; None on a malformed term."""
    toks: list = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if c == "P" and s.startswith("P(", i) and (i == 0 or not s[i - 1].isalnum()):
            j = _close(s, i + 2)
            if j < 0:
                return None
            got = _term_key(s[i + 2:j])
            if got is None:
                return None
            toks.append(("atom", got[0], got[1]))
            i = j + 1
            continue
        if c == "E" and s.startswith("E[", i) and (i == 0 or not s[i - 1].isalnum()):
            j = _close(s, i + 2)
            if j < 0:
                return None
            got = _cf_atoms(s[i + 2:j])
            if got is None:
                return None
            toks.append(("cf", got))
            i = j + 1
            continue
        m = _MINMAX.match(s, i)
        if m:
            toks.append(("minmax", m.group(1), "}" if m.group(2) == "{" else ")"))
            i = m.end()
            continue
        m = _SUM.match(s, i)
        if m and m.end() > i:
            i = m.end()
            continue
        m = _SYMNUM.match(s, i)
        if m:
            toks.append(("num", Fraction(Decimal(m.group(0))), m.group(0)))
            i = m.end()
            continue
        if c in "+-*/()[]{},":
            toks.append(("op", c))
            i += 1
            continue
        break  # prose follows: the expression ends here
    while toks and toks[-1] in (("op", ","), ("op", ".")):
        toks.pop()
    return toks


class _Fail(Exception):
    pass


def _sym_ast(toks: list):
    """Recursive-descent parse of tokens into the numeric AST shape plus ``("atom", key, kind)`` nodes."""
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take():
        nonlocal pos
        if pos >= len(toks):
            raise _Fail
        pos += 1
        return toks[pos - 1]

    def expr(depth):
        if depth > 60:
            raise _Fail
        node = term(depth)
        while peek() in (("op", "+"), ("op", "-")):
            op = take()[1]
            node = (op, node, term(depth))
        return node

    def starts_factor(t):
        return t is not None and (t[0] in ("atom", "cf", "minmax") or t in (("op", "("), ("op", "["), ("op", "{")))

    def term(depth):
        node = unary(depth)
        while True:
            t = peek()
            if t in (("op", "*"), ("op", "/")):
                take()
                node = (t[1], node, unary(depth))
            elif starts_factor(t):  # juxtaposition: P(A)P(B)
                node = ("*", node, unary(depth))
            else:
                return node

    def unary(depth):
        if peek() == ("op", "-"):
            take()
            return ("neg", unary(depth + 1))
        if peek() == ("op", "+"):
            take()
        return atom(depth)

    def atom(depth):
        t = take()
        if t[0] == "atom":
            return ("atom", t[1], t[2])
        if t[0] == "num":
            return ("num", t[1], t[2])
        if t[0] == "cf":
            node = None
            for sign, key in t[1]:
                a = ("atom", key, "cf")
                node = (a if sign > 0 else ("neg", a)) if node is None else ("+" if sign > 0 else "-", node, a)
            return ("group", node)
        if t[0] == "minmax":
            a = expr(depth + 1)
            if take() != ("op", ","):
                raise _Fail
            b = expr(depth + 1)
            if take() != ("op", t[2]):
                raise _Fail
            return (t[1], a, b)
        if t in (("op", "("), ("op", "["), ("op", "{")):
            closer = {"(": ")", "[": "]", "{": "}"}[t[1]]
            node = expr(depth + 1)
            if take() != ("op", closer):
                raise _Fail
            return ("group", node)
        raise _Fail

    node = expr(0)
    if pos != len(toks):
        raise _Fail
    return node


def _atoms_of(node) -> list:
    try:
        return _atoms_r(node, [])
    except RecursionError:
        return []


def _atoms_r(node, out: list) -> list:
    if node[0] == "atom":
        out.append(node)
    elif node[0] != "num":
        for child in node[1:]:
            if isinstance(child, tuple):
                _atoms_r(child, out)
    return out


def _has_minmax(node) -> bool:
    try:
        return _has_minmax_r(node)
    except RecursionError:
        return False


def _has_minmax_r(node) -> bool:
    if node[0] in ("min", "max"):
        return True
    return node[0] not in ("num", "atom") and any(isinstance(c, tuple) and _has_minmax_r(c) for c in node[1:])


@lru_cache(maxsize=4096)
def _sym_parse(seg: str, lead: bool = False):
    """AST of a probability expression in a segment (None if it holds no term). ``lead``: the segment
    starts a chain, so prose before the expression (``Lower bound of PN: max{...}``) is skipped."""
    if len(seg) > _MAX_SEG or ("P(" not in seg and "E[" not in seg):
        return None
    starts = [0]
    if lead:
        k = seg.rfind(":")
        if k >= 0:
            starts.append(k + 1)
        m = re.search(r"(?<![A-Za-z0-9])(?:P\(|E\[|min\s*[{(]|max\s*[{(]|sum_)", seg)
        if m:
            starts.append(m.start())
    for st in starts:
        toks = _sym_tokens(seg[st:])
        if not toks or len(toks) > 2 * _MAX_OPS:
            continue
        try:
            node = _sym_ast(toks)
        except (_Fail, RecursionError):
            continue
        if _atoms_of(node):
            return node
    return None


# ============================================================================ canonical polynomial forms
def _padd(a: dict, b: dict, sign: int = 1) -> dict:
    out = a  # every caller owns ``a`` (a fresh result of _canon): add in place, no quadratic copying
    for k, v in b.items():
        out[k] = out.get(k, 0) + sign * v
        if out[k] == 0:
            del out[k]
    return out


def _pmul(a: dict, b: dict) -> dict:
    if len(a) * len(b) > _MAX_MONOS:
        raise _Fail
    out: dict = {}
    for ka, va in a.items():
        for kb, vb in b.items():
            k = tuple(sorted(ka + kb))
            out[k] = out.get(k, 0) + va * vb
            if out[k] == 0:
                del out[k]
    return out


def _frozen(p: dict) -> str:
    return repr(tuple(sorted((m, str(c)) for m, c in p.items())))


def _canon(node) -> dict:
    """The expression as a polynomial ``{(atom, ...): coefficient}`` (numbers are coefficients)."""
    kind = node[0]
    if kind == "num":
        v = node[1] if isinstance(node[1], Fraction) else Fraction(node[1])
        return {(): v} if v else {}
    if kind == "atom":
        return {(node[1],): Fraction(1)}
    if kind == "group":
        return _canon(node[1])
    if kind == "neg":
        return {k: -v for k, v in _canon(node[1]).items()}
    a, b = _canon(node[1]), _canon(node[2])
    if kind == "+":
        return _padd(a, b)
    if kind == "-":
        return _padd(a, b, -1)
    if kind == "*":
        return _pmul(a, b)
    if kind == "/":
        if not b:
            raise _Fail
        if list(b) == [()]:
            return {k: v / b[()] for k, v in a.items()}
        return _pmul(a, {(f"INV{_frozen(b)}",): Fraction(1)})
    if kind in ("min", "max"):
        return {(f"{kind}{sorted([_frozen(a), _frozen(b)])}",): Fraction(1)}
    raise _Fail


def _tree(node, remap: Mapping[Fraction, Fraction] | None = None) -> str | None:
    """Canonical text of an arithmetic expression as written: sums and products flattened and sorted
    (order-free), nothing expanded or cancelled, so each number keeps its place (``(a-a)/c`` is not 0).
    ``remap`` substitutes literal values first."""
    try:
        return _tree_r(node, remap or {})
    except (RecursionError, _Fail):
        return None


def _tree_r(node, remap) -> str:
    kind = node[0]
    if kind == "num":
        v = node[1] if isinstance(node[1], Fraction) else Fraction(node[1])
        return f"I:{v}" if v.denominator == 1 else f"N:{remap.get(v, v)}"
    if kind == "atom":
        return node[1]
    if kind == "group":
        return _tree_r(node[1], remap)
    if kind in ("+", "-", "neg"):
        terms: list[str] = []

        def collect(n, sign):
            k = n[0]
            if k == "group":
                collect(n[1], sign)
            elif k == "+":
                collect(n[1], sign)
                collect(n[2], sign)
            elif k == "-":
                collect(n[1], sign)
                collect(n[2], -sign)
            elif k == "neg":
                collect(n[1], -sign)
            else:
                terms.append(("+" if sign > 0 else "-") + _tree_r(n, remap))

        collect(node, 1)
        return "S(" + ",".join(sorted(terms)) + ")"
    if kind in ("*", "/"):
        factors: list[str] = []

        def collect_m(n):
            k = n[0]
            if k == "group" and n[1][0] in ("*", "/"):
                collect_m(n[1])
            elif k == "*":
                collect_m(n[1])
                collect_m(n[2])
            elif k == "/":
                collect_m(n[1])
                factors.append("D(" + _tree_r(n[2], remap) + ")")
            else:
                factors.append(_tree_r(n, remap))

        collect_m(node)
        return "M(" + ",".join(sorted(factors)) + ")"
    if kind in ("min", "max"):
        return f"{kind}(" + ",".join(sorted([_tree_r(node[1], remap), _tree_r(node[2], remap)])) + ")"
    raise _Fail


def _canon_str(node) -> str | None:
    try:
        return _frozen(_canon(node))
    except (_Fail, RecursionError, ZeroDivisionError):
        return None


# ===================================================================================== text analysis
_CLAIM_KEY = re.compile(r"\bcause[sd]?\b|\bpaths?\b|\bpath\(s\)|\bedges?\b|\bindirect\b|\bconnect\w*|\bancestors?\b|"
                        r"\baffects?\b|\binfluences?\b|->", re.IGNORECASE)
_CLAIM_SKIP = re.compile(r"back-?door|adjust|mediator set|identif|^\s*(?:check|determine|decide|find|first)\b|"
                         r"^\s*(?:whether|is there|does|do)\b|^\s*edges from\b", re.IGNORECASE)
_NEG = re.compile(r"\b(?:not|no|never|none|cannot|neither|nor|without)\b|n['\u2019]t\b", re.IGNORECASE)
_SENT = re.compile(r"(?<=[.!?;])\s+|\n")
_SET_BODY = (r"\s*(?:(?:is|are|=|:|to be|would be)\s*)*(?:the\s+)?"
             r"(?:(\{[^{}\n]{0,200}\})|(empty(?:\s+set)?|none|nothing|no\s+variables?))")
_ADJ_SET = re.compile(r"(?:adjustment|covariate|back-?door)\s+(?:variable\s+)?set\b[^{}\n.]{0,40}?" + _SET_BODY,
                      re.IGNORECASE)
_MED_SET = re.compile(r"mediators?(?:\s+set)?\b[^{}\n.]{0,40}?" + _SET_BODY, re.IGNORECASE)
_LABEL = re.compile(r"answer\s*(?:is|would\s+be|should\s+be|:)\s*[\"'*`]*\s*(yes|no)\b", re.IGNORECASE)
_NAME = re.compile(r"(?<![A-Za-z])(ATE|CDE|ETT|NDE|NIE|PN|PS)(?![A-Za-z])")
_TREAT = re.compile(r"treatment\s*\(\s*([A-Za-z][A-Za-z0-9_']*)\s*\)")
_OUTCOME = re.compile(r"outcome\s*\(\s*([A-Za-z][A-Za-z0-9_']*)\s*\)")


def _set_members(m) -> frozenset | None:
    if m is None:
        return None
    if m.group(2):
        return frozenset()
    body = m.group(1)[1:-1]
    return frozenset(t for t in re.split(r"[\s,;]+|\band\b", body) if t and re.fullmatch(r"[A-Za-z][A-Za-z0-9_']*", t))


def _claim(text: str) -> tuple[bool | None, str | None]:
    """(True: a path/edge/cause is claimed, False: denied, None: no claim) and the sentence."""
    text = re.sub(r"\be\.g\.|\bi\.e\.", "eg", text, flags=re.IGNORECASE)
    for sent in _SENT.split(text):
        s = _STEP_LABEL.sub("", sent).strip()
        if not s or s.endswith("?") or not _CLAIM_KEY.search(s) or _CLAIM_SKIP.search(s):
            continue
        return _NEG.search(s) is None, s[:300]
    return None, None


@dataclass
class _Chain:
    segs: list[str]
    name: str | None = None
    psegs: list = field(default_factory=list)     # (index, ast)
    pairs: list = field(default_factory=list)     # (lhs text, lhs ast, rhs text, rhs ast)
    exprs: list = field(default_factory=list)     # (text, ast) numeric expressions with an operator
    facts: list = field(default_factory=list)     # (atom key, kind, value, text)
    do_result: tuple | None = None                # (do-atom key, value)


@dataclass
class _Analysis:
    chains: list
    calls: list
    claim: bool | None
    claim_text: str | None
    adj: frozenset | None
    med: frozenset | None
    label: str | None
    text: str


def _analyse_chain(segs: list[str]) -> _Chain:
    ch = _Chain(segs)
    m = None
    for m in _NAME.finditer(segs[0]):
        pass
    if m is not None:
        ch.name = m.group(1)
    runs = [_numeric_runs(s) if len(s) <= _MAX_SEG else ("", "") for s in segs]
    for i, s in enumerate(segs):
        node = _sym_parse(s.strip(), i == 0)
        if node is not None:
            ch.psegs.append((i, node))
    seen = set()
    for i in range(len(segs) - 1):
        lt, rt = runs[i][1], runs[i + 1][0]
        la, ra = _num_parse(lt), _num_parse(rt)
        if la is not None and not _is_plain(la):
            if lt not in seen:
                seen.add(lt)
                ch.exprs.append((lt, la))
            if ra is not None:
                ch.pairs.append((lt, la, rt, ra))
        if ra is not None and not _is_plain(ra) and rt not in seen:
            seen.add(rt)
            ch.exprs.append((rt, ra))
        # a listed value: a lone term followed by a plain number
        if ra is not None and _is_plain(ra):
            left = segs[i].rstrip()
            k = left.rfind("P(")
            if k >= 0 and (k == 0 or left[k - 1] in " \t,;:("):
                node = _sym_parse(left[k:])
                if node is not None and node[0] == "atom" and left.endswith(")"):
                    ch.facts.append((node[1], node[2], _exact(ra), f"{left[k:]}={rt}"))
    if len(segs) >= 2 and ch.psegs and ch.psegs[0][0] == 0:
        first = ch.psegs[0][1]
        last = _num_parse(runs[-1][0])
        if first[0] == "atom" and first[2] == "do" and last is not None and _is_plain(last):
            ch.do_result = (first[1], _exact(last))
    return ch


def _analyse(text: str) -> _Analysis:
    norm, calls = _normalize(text)
    chains = [_analyse_chain(segs) for segs in _chains(norm)]
    claim, claim_text = _claim(norm)
    adj = _set_members(_ADJ_SET.search(norm))
    med = _set_members(_MED_SET.search(norm))
    labels = _LABEL.findall(norm)
    label = labels[-1].lower() if labels else None
    return _Analysis(chains, calls, claim, claim_text, adj, med, label, norm)


# ============================================================================ estimand and sets helpers
def _target(node) -> bool:
    """Whether an expression is about the causal target (do()/counterfactual terms or a bound)."""
    return _has_minmax(node) or any(a[2] in ("do", "cf") for a in _atoms_of(node))


def _compound(node) -> bool:
    if node[0] == "group":
        return _compound(node[1])
    return node[0] != "atom"


def _estimand_chain(an: _Analysis, bound: bool) -> _Chain | None:
    """The formula line: for PN/PS the first with a min/max over terms; else the first named chain with a
    compound probability expression, then any with a contrast of do()/counterfactual terms, then any
    compound one."""
    if bound:
        return next((c for c in an.chains if any(_has_minmax(n) for _, n in c.psegs)), None)
    rules = (lambda c: c.name is not None and any(_compound(n) for _, n in c.psegs),
             lambda c: any(_compound(n) and _target(n) for _, n in c.psegs),
             lambda c: any(_compound(n) for _, n in c.psegs))
    for rule in rules:
        got = next((c for c in an.chains if rule(c)), None)
        if got is not None:
            return got
    return None


def _do_chain(an: _Analysis) -> _Chain | None:
    """The ``P(y|do(x)) = expansion`` line (PN/PS)."""
    for c in an.chains:
        if c.psegs and c.psegs[0][0] == 0 and c.psegs[0][1][0] == "atom" and c.psegs[0][1][2] == "do" \
                and any(i > 0 for i, _ in c.psegs):
            return c
    return None


def _vars(nodes: Iterable) -> set[str]:
    out = set()
    for node in nodes:
        for a in _atoms_of(node):
            if a[2] != "p":
                continue
            for part in a[1][2:-1].split("|"):
                for asg in part.split(","):
                    if asg:
                        out.add(asg.partition("=")[0])
    return out


def _inferred_sets(chain: _Chain | None, roles: tuple, ref_med: frozenset | None):
    """(adjustment, mediators) read off a formula's conditional terms, or (None, None)."""
    if chain is None:
        return None, None
    exp = [n for _, n in chain.psegs if not _target(n)]
    if not exp:
        return None, None
    x, y, fixed = roles
    vs = _vars(exp) - {x, y} - set(fixed)
    med = frozenset(vs & set(ref_med or ()))
    return frozenset(vs - med), med


def _set_text(s: frozenset | None) -> str | None:
    return None if s is None else ("empty set" if not s else "{" + ", ".join(sorted(s)) + "}")


def _chain_text(c: _Chain | None) -> str | None:
    return None if c is None else "=".join(s.strip() for s in c.segs)[:600]


# ================================================================================================ reference
@dataclass
class _Reference:
    task: str
    an: _Analysis
    claim: bool | None
    adj: frozenset | None
    med: frozenset | None
    estimand: _Chain | None
    est_forms: set
    est_target_forms: set
    est_value: Fraction | None
    exprs: list              # (text, ast, value, canonical tree)
    table: dict              # stated values: term key -> value
    allowed: set             # numbers a substitution may use
    do_results: dict
    label: str | None
    roles: tuple
    has_arith: bool
    final_value: bool


def _given_table(given: Mapping[str, Any]) -> dict:
    table: dict = {}
    for k, v in (given or {}).items():
        node = _sym_parse(str(k))
        try:
            val = Fraction(Decimal(str(v)))
        except (InvalidOperation, ValueError, TypeError):
            continue
        if node is not None and node[0] == "atom" and node[2] == "p":
            table[node[1]] = val
    # complements of single-event terms: P(B=1|.) = 1 - P(B=0|.)
    for key, val in list(table.items()):
        ev, cond, do = key[2:-1].split("|")
        if "," not in ev and ev.endswith(("=0", "=1")):
            other = ev[:-1] + ("1" if ev.endswith("0") else "0")
            table.setdefault(f"P({other}|{cond}|{do})", 1 - val)
    return table


def _roles(item: Item, an: _Analysis) -> tuple:
    q = item.query or {}
    x, y = q.get("treatment"), q.get("outcome")
    fixed = tuple((q.get("fixed") or {}).keys())
    if x is None:
        m = _TREAT.search(an.text)
        x = m.group(1) if m else None
    if y is None:
        m = _OUTCOME.search(an.text)
        y = m.group(1) if m else None
    if x is None or y is None or not fixed:
        for c in an.chains:
            for _, node in c.psegs:
                for a in _atoms_of(node):
                    if a[2] == "do":
                        ev, _, do = a[1][2:-1].split("|")
                        dvars = [d.partition("=")[0] for d in do.split(",") if d]
                        y = y or ev.partition("=")[0]
                        x = x or (dvars[0] if dvars else None)
                        if not fixed and x is not None:
                            fixed = tuple(v for v in dvars if v != x)
    return x, y, fixed


def _reference(item: Item) -> _Reference:
    task = str(item.task).upper()
    steps = item.reason or {}
    text = "\n".join(f"{k}: {v}" for k, v in steps.items() if v)
    an = _analyse(text)
    bound = task in _BOUND
    first = next((str(v) for v in steps.values() if v), "")
    claim = None if bound else _claim(_normalize(first)[0])[0]
    roles = _roles(item, an)
    est = None if claim is False else _estimand_chain(an, bound)
    adj, med = an.adj, an.med
    if claim is not False and adj is None:
        adj = _inferred_sets(_do_chain(an) if bound else est, roles, med)[0]
    forms, tforms, value = set(), set(), None
    table = _given_table(item.given)
    for c in an.chains:  # the reference's listed values are stated values too (Step 5)
        for key, kind, val, _ in c.facts:
            if kind == "p" and val is not None:
                table.setdefault(key, val)
    if est is not None:
        for _, node in est.psegs:
            f = _canon_str(node)
            if f is not None:
                forms.add(f)
                if _target(node):
                    tforms.add(f)
            v = _exact(node, table)
            if v is not None:
                value = v
    exprs, allowed, do_results = [], {Fraction(0), Fraction(1)}, {}
    allowed |= set(table.values())
    for c in an.chains:
        if c.do_result is not None and c.do_result[1] is not None:
            do_results[c.do_result[0]] = c.do_result[1]
        if c.exprs and claim is not False:
            t, node = c.exprs[0]
            exprs.append((t, node, _exact(node), _tree(node)))
            allowed |= {v for v, _ in _literals(node)}
    labels = _LABEL.findall(an.text)
    label = labels[-1].lower() if labels else None
    if label is None and isinstance(item.gold, Mapping) and str(item.gold.get("label", "")).lower() in ("yes", "no"):
        label = str(item.gold["label"]).lower()
    if task not in _YESNO:
        label = None
    has_arith = any(c.pairs for c in an.chains) and claim is not False
    return _Reference(task, an, claim, adj, med, est, forms, tforms, value, exprs, table, allowed, do_results,
                      label, roles, has_arith, has_arith)


@lru_cache(maxsize=2048)
def _reference_cached(task: str, reason: str, given: str, query: str, gold: str) -> _Reference:
    it = Item(id="", task=task, rung=0, prompt="", answer="", gold=json.loads(gold), reason=json.loads(reason),
              query=json.loads(query), given=json.loads(given))
    return _reference(it)


def _reference_of(item: Item) -> _Reference:
    try:
        key = (str(item.task), json.dumps(item.reason, sort_keys=False, default=str),
               json.dumps(item.given, sort_keys=True, default=str), json.dumps(item.query, sort_keys=True, default=str),
               json.dumps(item.gold, sort_keys=True, default=str))
    except (TypeError, ValueError):
        return _reference(item)
    return _reference_cached(*key)


# =================================================================================================== checks
def _check_estimand(ref: _Reference, an: _Analysis) -> tuple[StepCheck, bool]:
    """The estimand check and whether the text's target (do side, bound, name) differs."""
    chain = _estimand_chain(an, ref.task in _BOUND)
    expected = _chain_text(ref.estimand)
    if chain is None or not chain.psegs:
        return StepCheck("estimand", False, expected, None), False
    ok, target_off = True, False
    if chain.name and ref.estimand is not None and ref.estimand.name and chain.name != ref.estimand.name:
        ok, target_off = False, True
    for _, node in chain.psegs:
        f = _canon_str(node)
        if f is not None and f in ref.est_forms:
            continue
        v = None if _target(node) else _exact(node, ref.table)
        if v is not None and ref.est_value is not None and v == ref.est_value:
            continue
        ok = False
        if _target(node) and ref.est_target_forms:
            target_off = True
    return StepCheck("estimand", ok, expected, _chain_text(chain)), target_off


def _check_substitution(ref: _Reference, an: _Analysis) -> StepCheck:
    expected = "; ".join(t for t, *_ in ref.exprs)
    for c in an.chains:  # a stated term listed with another value
        for key, kind, val, txt in c.facts:
            if kind == "p" and key in ref.table and val is not None and val != ref.table[key]:
                return StepCheck("substitution", False, expected, txt)
    computed: dict = {}
    for c in an.chains:  # a computed do-term restated (a lookup line) with another value than it got
        if c.do_result is not None and c.do_result[1] is not None:
            first = computed.setdefault(c.do_result[0], c.do_result[1])
            if first != c.do_result[1]:
                return StepCheck("substitution", False, expected, "=".join(c.segs))
    cands = [(t, node) for c in an.chains for t, node in c.exprs]
    if not cands:
        return StepCheck("substitution", False, expected, None)
    remap = {}
    for c in an.chains:
        if c.do_result is not None and c.do_result[1] is not None:
            r = ref.do_results.get(c.do_result[0])
            if r is not None and r != c.do_result[1]:
                remap[c.do_result[1]] = r
    forms = [(t, node, _tree(node, remap)) for t, node in cands]
    for rt, rnode, rval, rform in ref.exprs:
        hit = False
        need = sum(v.denominator != 1 for v, _ in _literals(rnode))
        for t, node, f in forms:
            if f is not None and f == rform:
                hit = True
                break
            # the same value from stated numbers only, and as many of them (so not a later, simplified
            # line such as max{0, 0.0000}): e.g. (1-0.1108) where the reference writes 0.8892
            lits = [v for v, _ in _literals(node) if v.denominator != 1]
            if rval is not None and len(lits) >= need and all(v in ref.allowed for v in lits) \
                    and _exact(node) == rval:
                hit = True
                break
        if not hit:
            rlits = {v for v, _ in _literals(rnode)}
            best = max(forms, key=lambda tf: len(rlits & {v for v, _ in _literals(tf[1])}))
            return StepCheck("substitution", False, expected, best[0])
    return StepCheck("substitution", True, expected, "; ".join(t for t, _ in cands[:4]))


def _pair_ok(la, rt: str, ra) -> tuple[bool, Fraction | None]:
    lv, rv = _exact(la), _exact(ra)
    if lv is None or rv is None:
        return False, lv
    lits = [(v, t) for v, t in _literals(ra) if "." in t]
    tol = sum((Fraction(1, 2 * 10 ** _decimals(t)) for _, t in lits), Fraction(0)) + Fraction(1, 10 ** 12)
    return abs(lv - rv) <= tol, lv


def _check_arithmetic(an: _Analysis) -> tuple[StepCheck, Fraction | None]:
    """The arithmetic check and the text's computed value (its last computation, exactly)."""
    n, bad, computed = 0, None, None
    for expr, value in an.calls:
        if value.strip().upper() == "ERROR" or _num_parse(_normalize(expr)[0].strip()) is None:
            bad = bad or f"<<{expr}={value}>>"
    for c in an.chains:
        first = True
        for lt, la, rt, ra in c.pairs:
            n += 1
            ok, lv = _pair_ok(la, rt, ra)
            if first:
                computed, first = (lv if lv is not None else computed), False
            if not ok and bad is None:
                bad = f"{lt}={rt} (exact {_fmt(lv)})"
    if n == 0 and not an.calls:
        return StepCheck("arithmetic", False, "every EXPR=VALUE holds", None), computed
    return StepCheck("arithmetic", bad is None, "every EXPR=VALUE holds", bad or f"all {n} hold"), computed


def _fmt(v: Fraction | None) -> str:
    if v is None:
        return "undefined"
    from whygym.tasks.core import fmt4

    return fmt4(float(v), 8).rstrip("0").rstrip(".") if v.denominator != 1 else str(v.numerator)


def _verify(text: Any, item: Item) -> Verdict:
    from whygym.scoring.extract import completion_text, extract
    from whygym.scoring.match import score
    from whygym.tasks.core import fmt4

    text = completion_text(text)
    names = (item.graph or {}).get("names") if isinstance(item.graph, Mapping) else None
    names = {str(k): str(v) for k, v in names.items()} if isinstance(names, Mapping) else {}
    words = value_words(item.graph) if isinstance(item.graph, dict) else {}
    if words:
        text = with_value_numbers(text, names, words)  # a derivation in value words (before the names go)
    if names:
        text = with_letters(text, names)  # a derivation in names
    ref = _reference_of(item)
    an = _analyse(text)
    ex = extract(text)
    try:
        outcome = score(ex, item.gold)
    except (ValueError, TypeError):
        outcome = None
    final = ex.final
    task = ref.task
    zero = ref.claim is False
    checks: list[StepCheck] = []
    target_off = False

    if ref.claim is not None:
        want = "path" if ref.claim else "no path"
        got = None if an.claim is None else ("path" if an.claim else "no path")
        checks.append(StepCheck("path_claim", got == want, want, got if got is None else f"{got}: {an.claim_text}"))
    if not zero:
        chain = _estimand_chain(an, task in _BOUND)
        adj, med = an.adj, an.med
        if adj is None or (med is None and ref.med is not None):
            inf_adj, inf_med = _inferred_sets(_do_chain(an) if task in _BOUND else chain, ref.roles, ref.med)
            adj = inf_adj if adj is None else adj
            med = inf_med if med is None else med
        if ref.adj is not None:
            checks.append(StepCheck("adjustment_set", adj == ref.adj, _set_text(ref.adj), _set_text(adj)))
        if ref.med is not None:
            checks.append(StepCheck("mediator_set", med == ref.med, _set_text(ref.med), _set_text(med)))
        if ref.estimand is not None:
            est, target_off = _check_estimand(ref, an)
            checks.append(est)
        if ref.exprs:
            checks.append(_check_substitution(ref, an))
    arith, computed = _check_arithmetic(an)
    if ref.has_arith:
        checks.append(arith)
    prob = final.prob if final is not None else None
    if ref.final_value:
        ok = prob is not None and computed is not None and abs(Fraction(prob) - computed) <= _ROUND_TOL
        exp = None if computed is None else fmt4(float(computed))
        found = final.prob_text if final is not None and prob is not None else None
        checks.append(StepCheck("rounding", ok, exp, found))
    if ref.label is not None:
        got = final.label if final is not None and final.label in ("yes", "no") else an.label
        checks.append(StepCheck("sign_label", got == ref.label, ref.label, got))
    gold = item.gold if isinstance(item.gold, Mapping) else {}
    exp = fmt4(float(gold["prob"])) if isinstance(gold.get("prob"), (int, float)) else gold.get("label")
    found = None if final is None else (final.prob_text if final.prob_text is not None else final.label)
    checks.append(StepCheck("answer", outcome is not None and outcome.outcome == "correct", exp, found))

    if target_off:  # asking another question comes before the sets chosen for it
        k = next(i for i, c in enumerate(checks) if c.kind == "estimand")
        est = checks.pop(k)
        checks.insert(1 if checks and checks[0].kind == "path_claim" else 0, est)
    return _verdict(checks, outcome is None or outcome.outcome == "unparsed")


def _verdict(checks: list[StepCheck], unparsed: bool) -> Verdict:
    first = next((i for i, c in enumerate(checks) if not c.ok), None)
    first_error = None if first is None else checks[first].kind
    passed = len(checks) if first is None else first
    prefix = passed / len(checks) if checks else 0.0
    category = "no_answer" if unparsed else (first_error or "correct")
    return Verdict(tuple(checks), first_error, category, prefix)


def verify(text: Any, item: Item) -> Verdict:
    """Check a derivation step by step against ``item``'s reference derivation.

    Parameters
    ----------
    text : the model's output (a string or a conversational message list).
    item : the item; its ``reason``, ``given``, ``gold``, ``task`` (and ``query`` when present) are used.

    Returns
    -------
    Verdict
        ``steps`` (:class:`StepCheck` in order), ``first_error``, ``category`` and ``verified_prefix``
        (see the module docstring). Never raises: an internal error on a pathological input gives a
        verdict with every check failed (and a warning).
    """
    try:
        return _verify(text, item)
    except Exception as err:  # noqa: BLE001 - a verifier inside a training loop must not raise
        warnings.warn(f"verify: internal error ({type(err).__name__}: {err}); every check counts as failed",
                      RuntimeWarning, stacklevel=2)
        return _verdict([StepCheck(k, False) for k in CHECKS], True)


# =============================================================================================== rewards
def _json_col(v: Any) -> Any:
    if isinstance(v, (str, bytes)):
        try:
            return json.loads(v)
        except ValueError:
            return None
    return v


class ProcessReward:
    """A process reward for TRL trainers: ``verified_prefix`` of each completion (the share of the
    reference's checks passed before the first wrong step).

    ``__call__(completions, **columns) -> list[float | None]`` reads the columns ``reason`` (JSON string
    of the steps dict, or the dict), ``gold`` (JSON or dict), ``task`` and ``given`` (JSON or dict;
    ``{}`` when absent) and, where the derivation may name the variables, ``names`` (letter -> name) and
    ``values`` (letter -> [word for 0, word for 1]); a row without a readable ``reason`` (or with an empty one:
    a ``LACK_CONDITION`` item), ``gold`` or ``task`` gets None (not applicable). A plain class, not a closure, so it pickles (multiprocess data loaders, Accelerate).

    >>> import json, pickle
    >>> reason = {"Step 1": "Check whether treatment (A) is a cause of outcome (B). Node A is not a cause "
    ...           "of node B because there is no directed path from A to B. So the answer is No."}
    >>> cols = {"reason": [json.dumps(reason)] * 2, "gold": ['{"prob": 0.0, "label": "no"}'] * 2,
    ...         "task": ["ATE"] * 2, "given": ["{}"] * 2}
    >>> r = pickle.loads(pickle.dumps(process_reward()))
    >>> r([reason["Step 1"] + ' {"ANSWER": "No", "PROB": "0.0000"}', "A causes B."], **cols)
    [1.0, 0.0]
    >>> r(["x"], gold=['{"prob": 0.1}'], task=["ATE"])
    [None]
    >>> r.__name__
    'process_reward'
    """

    def __init__(self, name: str = "process_reward"):
        self.__name__ = name  # TRL logs a reward under its __name__

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        from whygym.scoring.rewards import _column, _texts

        texts = _texts(completions)
        n = len(texts)
        cols = {k: _column(columns, k, n) for k in ("reason", "gold", "task", "given", "names", "values")}
        out: list[float | None] = []
        for i, c in enumerate(texts):
            reason, gold, task = _json_col(cols["reason"][i]), _json_col(cols["gold"][i]), cols["task"][i]
            given = _json_col(cols["given"][i]) if cols["given"][i] is not None else {}
            if not isinstance(reason, Mapping) or not reason or not isinstance(gold, Mapping) or not task:
                out.append(None)  # no derivation to check (a LACK_CONDITION row has none)
                continue
            names = _json_col(cols["names"][i]) if cols["names"][i] is not None else {}
            values = _json_col(cols["values"][i]) if cols["values"][i] is not None else {}
            graph = {"names": dict(names)} if isinstance(names, Mapping) else {}
            if isinstance(values, Mapping) and values:
                graph["values"] = dict(values)
            item = Item(id="", task=str(task), rung=0, prompt="", answer="", gold=dict(gold),
                        reason={str(k): str(v) for k, v in reason.items()},
                        given=dict(given) if isinstance(given, Mapping) else {}, graph=graph)
            out.append(float(verify(c, item).verified_prefix))
        return out

    def __repr__(self) -> str:
        return f"ProcessReward(name={self.__name__!r})"


#: The reward's class under its functional name: ``process_reward()`` is the TRL reward function
#: (``reward_funcs=[process_reward()]``).
process_reward = ProcessReward


# ================================================================================================ tables
def breakdown(verdicts: Iterable[Verdict | tuple[str, Verdict]]) -> dict[str, Any]:
    """Counts per category for a results table; per task too when given ``(task, verdict)`` pairs.

    Returns ``{"n", "category": {cat: count}, "mean_verified_prefix", "failed": {check: count}}`` (every
    category and check listed, zeros included; ``failed`` counts each check failing anywhere, not only
    first) and, for pairs, ``"by_task": {task: the same dict}``.

    >>> v = Verdict((StepCheck("path_claim", True), StepCheck("answer", False)), "answer", "answer", 0.5)
    >>> b = breakdown([("ATE", v), ("PN", v)])
    >>> b["category"]["answer"], b["by_task"]["PN"]["n"], b["mean_verified_prefix"]
    (2, 1, 0.5)
    """
    def table(vs: list[Verdict]) -> dict[str, Any]:
        cats = {c: 0 for c in CATEGORIES}
        failed = {k: 0 for k in CHECKS}
        for v in vs:
            cats[v.category] = cats.get(v.category, 0) + 1
            for s in v.steps:
                if not s.ok:
                    failed[s.kind] = failed.get(s.kind, 0) + 1
        mean = sum(v.verified_prefix for v in vs) / len(vs) if vs else 0.0
        return {"n": len(vs), "category": cats, "mean_verified_prefix": mean, "failed": failed}

    all_v: list[Verdict] = []
    by_task: dict[str, list[Verdict]] = {}
    paired = False
    for x in verdicts:
        if isinstance(x, tuple):
            paired = True
            t, v = x
            by_task.setdefault(str(t), []).append(v)
        else:
            v = x
        all_v.append(v)
    out = table(all_v)
    if paired:
        out["by_task"] = {t: table(vs) for t, vs in sorted(by_task.items())}
    return out
