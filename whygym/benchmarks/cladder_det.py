"""CLadder's ``det-counterfactual`` questions, solved exactly from the item's own structural equations.

A det-counterfactual item states a deterministic SCM on binary variables in words ("We know that pexu or
hwax causes rukz.", "X causes not V2"), the values of the observed roots ("We observed an individual is
hwax."), and asks "Would Y=y if X=x instead of X=1-x?". The answer is yes iff Y, computed forward from the
observed roots with X set to x, equals y; no abduction is needed when every root but X is observed, and a
root left unobserved is tried at both values (the answer is *not determined* when they differ).

The equations are read from the record's ``reasoning.step4`` (``V2 = X``, ``Y = X or V2``, evidence lines
``V2 = 1``), the action, the asked value of Y and the evidence from ``meta`` (checked against the formal
form ``Y_{X=1} = 0 | V2=1``). Each equation is checked against the stated graph: an equation whose inputs
are not the node's parents is a misprint (CLadder's diamond-cut items print ``V3 = not X`` where the graph
has V1 -> V3), and that node's mechanism is then read from the prompt's own sentence ("V1 causes not X and
V3"): the sentence naming the parent as the cause of two effects, one of them the treatment, whose nouns
are known from the question ("if X1 instead of X0"); the other effect is un-negated when its noun is the one
another sentence uses for it as a cause.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from whygym.items import Item

__all__ = ["audit_det_counterfactual", "evaluate", "parse_equation"]

_LINE = re.compile(r"^\s*([A-Za-z]\w*)\s*=\s*(.+?)\s*$")
_FORMAL = re.compile(r"^\s*(\w+)_\{(\w+)=([01])\}\s*=\s*([01])\s*\|\s*(.*?)\s*$")


def parse_equation(expr: str) -> tuple[str, list[tuple[str, bool]]]:
    """``"X or not V2"`` -> ``("or", [("X", False), ("V2", True)])`` (operator, (input, negated) pairs); one
    input: operator ``"id"``. Mixed and/or or anything else raises ValueError.

    >>> parse_equation("V1 and X"), parse_equation("not X")
    (('and', [('V1', False), ('X', False)]), ('id', [('X', True)]))
    """
    toks = expr.split()
    ops = {t for t in toks if t in ("and", "or")}
    if len(ops) > 1:
        raise ValueError(f"mixed and/or in {expr!r}")
    op = ops.pop() if ops else "id"
    terms = []
    for part in " ".join(toks).split(f" {op} ") if op != "id" else [" ".join(toks)]:
        w = part.split()
        neg = False
        while w and w[0] == "not":
            neg, w = not neg, w[1:]
        if len(w) != 1 or not re.fullmatch(r"[A-Za-z]\w*", w[0]):
            raise ValueError(f"cannot read {part!r} in {expr!r}")
        terms.append((w[0], neg))
    if op == "id" and len(terms) != 1:
        raise ValueError(f"cannot read {expr!r}")
    return op, terms


def _apply(op: str, terms: list[tuple[str, bool]], values: dict[str, int]) -> int:
    bits = [values[v] ^ int(n) for v, n in terms]
    return int(all(bits)) if op == "and" else int(any(bits)) if op == "or" else bits[0]


def evaluate(equations: dict[str, tuple[str, list]], fixed: dict[str, int], target: str) -> int:
    """The value of ``target`` computed forward from ``fixed`` (roots and the intervened node, whose own
    equations are ignored). Raises KeyError when a needed node has neither a value nor an equation.

    >>> evaluate({"V2": ("id", [("X", True)]), "Y": ("or", [("X", False), ("V2", False)])}, {"X": 0}, "Y")
    1
    """
    values = dict(fixed)
    pending = {k: v for k, v in equations.items() if k not in values}
    while target not in values:
        ready = [k for k, (_, ts) in pending.items() if all(v in values for v, _ in ts)]
        if not ready:
            raise KeyError(target)
        for k in ready:
            values[k] = _apply(*pending.pop(k), values)
    return values[target]


def _step4(text: str) -> tuple[dict[str, int], dict[str, tuple[str, list]]]:
    evidence, eqs = {}, {}
    for line in str(text).split("\n"):
        m = _LINE.match(line)
        if not m:
            if line.strip():
                raise ValueError(f"cannot read the equation {line!r}")
            continue
        lhs, rhs = m.group(1), m.group(2)
        if rhs in ("0", "1"):
            evidence[lhs] = int(rhs)
        else:
            eqs[lhs] = parse_equation(rhs)
    return evidence, eqs


def _query(item: Item) -> tuple[int, int, dict[str, int]]:
    """(action, asked value of Y, evidence) from meta, checked against the formal form."""
    meta = item.meta
    form = str(meta.get("formal_form") or (item.reason or {}).get("step2", ""))
    m = _FORMAL.match(form)
    if not m:
        raise ValueError(f"cannot read the formal form {form!r}")
    ev = {}
    for part in filter(None, (p.strip() for p in m.group(5).split(","))):
        k, _, v = part.partition("=")
        ev[k.strip()] = int(v)
    action, asked = int(m.group(3)), int(m.group(4))
    if meta.get("action") is not None and int(meta["action"]) != action:
        raise ValueError(f"meta.action {meta['action']} but the formal form {form!r}")
    if meta.get("polarity") is not None and int(meta["polarity"]) != asked:
        raise ValueError(f"meta.polarity {meta['polarity']} but the formal form {form!r}")
    stated = meta.get("given_info")
    if isinstance(stated, dict) and {k: int(v) for k, v in stated.items()} != ev:
        raise ValueError(f"meta.given_info {stated} but the formal form {form!r}")
    return action, asked, ev


def _x_nouns(prompt: str, action: int) -> dict[int, str] | None:
    """X's two nouns from the question "Would ... if <X=action> instead of <X=1-action>?"."""
    q = prompt[prompt.rfind("Would "):] if "Would " in prompt else prompt
    j = q.rfind(" instead of ")
    i = q.rfind(" if ", 0, j)
    if i < 0 or j < 0:
        return None
    end = q.find("?", j)
    a, b = q[i + 4:j].strip(), q[j + 12:end if end > 0 else None].strip()
    return {action: a, 1 - action: b}


def _clauses(prompt: str) -> list[tuple[str, str]]:
    """(cause side, effect side) of each "... causes ..." sentence of the mechanism paragraph."""
    i = prompt.find("We know that")
    if i < 0:
        return []
    text = prompt[i:]
    k = text.find("We observed")
    text = text[:k] if k >= 0 else text.split("\n", 1)[0]
    out = []
    for sent in re.split(r"(?<=\.)\s+|,\s*and we know that\s+", text):
        sent = re.sub(r"^(?:We know that|and we know that)\s+", "", sent.strip()).rstrip(".").strip()
        if " causes " in sent:
            cause, effect = sent.split(" causes ", 1)
            out.append((cause.strip(), effect.strip()))
    return out


def _reread(parent: str, item: Item, action: int) -> tuple[str, list] | None:
    """The misprinted node's equation from the sentence naming ``parent`` as the cause of two effects, one of them X
    (CLadder's "V1 causes [not] X and V3"): ``node = [not] parent``; None where the text does not say."""
    nouns = _x_nouns(item.prompt, action)
    if not nouns:
        return None
    clauses = _clauses(item.prompt)
    for n, (cause, effect) in enumerate(clauses):
        for xv, xn in nouns.items():
            for other in (effect[len(xn) + 5:] if effect.startswith(xn + " and ") else None,
                          effect[:-len(xn) - 5] if effect.endswith(" and " + xn) else None):
                if not other:
                    continue
                elsewhere = [c for m, (c, _) in enumerate(clauses) if m != n]
                if any(other in c for c in elsewhere):
                    return "id", [(parent, False)]
                return None  # the other effect's noun is not one another sentence uses: cannot tell
    return None


def _show(node: str, op: str, terms: list) -> str:
    return f"{node} = " + f" {op} ".join(("not " if ng else "") + v for v, ng in terms)


def audit_det_counterfactual(item: Item, res) -> Any:
    """Fill the :class:`~whygym.benchmarks.audit.AuditResult` ``res`` of a det-counterfactual item."""
    from whygym.benchmarks.cladder_audit import CLADDER_GRAPHS

    gold = str(item.gold.get("label"))
    try:
        action, asked, evidence = _query(item)
        ev4, eqs = _step4((item.reason or {}).get("step4", ""))
    except ValueError as e:
        res.category, res.note = "parse failure", str(e)
        return res
    if any(evidence.get(k, v) != v for k, v in ev4.items()):
        res.category, res.note = "parse failure", f"step4's evidence {ev4} differs from the query's {evidence}"
        return res
    evidence = {**ev4, **evidence}
    edges = [tuple(e) for e in (item.graph or {}).get("edges") or []] or \
        CLADDER_GRAPHS.get(str(item.meta.get("graph_id")), [])
    parents: dict[str, set] = {}
    for a, b in edges:
        parents.setdefault(b, set()).add(a)
    notes = []
    for node, (op, terms) in list(eqs.items()):
        if node == "X" or not edges:
            continue
        ins = {v for v, _ in terms}
        if ins <= parents.get(node, set()):
            continue
        ps = parents.get(node, set())
        shown = _show(node, op, terms)
        composed = None
        if op == "id" and len(ps) == 1:
            (v, neg), = terms
            inner = eqs.get(v)
            if inner and inner[0] == "id" and inner[1][0][0] in ps:
                composed = "id", [(inner[1][0][0], neg ^ inner[1][0][1])]
        read = _reread(next(iter(ps)), item, action) if len(ps) == 1 else None
        if composed is None and read is None:
            res.category = "parse failure"
            res.note = (f"step4's equation {shown!r} uses {sorted(ins - ps)}, not a parent of {node} in the graph "
                        f"({', '.join(sorted(ps)) or 'none'}), and the text does not settle {node}'s mechanism")
            return res
        eqs[node] = read or composed
        if read is None:
            notes.append(f"step4 prints {shown!r} but the graph's parent of {node} is {next(iter(ps))}: read through "
                         f"step4's own equation for {terms[0][0]} as {_show(node, *composed)} (the text's sentence for "
                         "it was not read)")
        elif composed is not None and read != composed:
            notes.append(f"step4 prints {shown!r} (through its equation for {terms[0][0]}: "
                         f"{_show(node, *composed)}), but the graph's parent of {node} is {next(iter(ps))} and the "
                         f"text makes {_show(node, *read)}: the negation in its sentence is on X")
        else:
            notes.append(f"step4 prints {shown!r}; the text and the graph make {_show(node, *read)}")
    free = sorted({v for _, ts in eqs.values() for v, _ in ts} - set(eqs) - set(evidence) - {"X"})
    answers = {}
    for bits in itertools.product((0, 1), repeat=len(free)):
        fixed = {**evidence, **dict(zip(free, bits)), "X": action}
        try:
            answers[bits] = evaluate(eqs, fixed, "Y")
        except KeyError:
            res.category, res.note = "parse failure", "the equations do not determine Y"
            return res
    shown_eqs = "; ".join(_show(k, op, ts) for k, (op, ts) in eqs.items())
    res.steps = {"equations": shown_eqs, "evidence": ", ".join(f"{k}={v}" for k, v in sorted(evidence.items()))
                 or "none", "action": f"do(X={action})", "asked": f"Y={asked}"}
    if len(set(answers.values())) > 1:
        res.solved = "open"
        res.category, res.status = "not determined", "unsolved"
        res.note = (f"Y under do(X={action}) depends on the unobserved {', '.join(free)}: "
                    + "; ".join(f"{dict(zip(free, b))} gives Y={y}" for b, y in answers.items()))
        return res
    y = next(iter(answers.values()))
    label = "yes" if y == asked else "no"
    res.steps["Y"] = f"Y = {y} under do(X={action})"
    res.solved = label
    if notes:
        res.note = "; ".join(notes)
    if label == gold:
        res.status = "agree"
    else:
        res.status, res.category = "disagree", "label error"
        res.note = (res.note + "; " if res.note else "") + (
            f"the stated equations give Y={y} under do(X={action}), so 'Would Y={asked}' is {label}")
    return res
