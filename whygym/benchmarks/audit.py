"""The exact auditor: re-derive a benchmark item's gold from the item's own given information.

For each item of the seven core tasks, the structure the loader parsed from the item's text (graph,
query, stated probabilities) becomes a :class:`~whygym.tasks.core.Problem`; the same derivation code
that makes whygym's own items computes the answer from the stated numbers alone, trying every valid
adjustment set until one whose terms are all stated is found. When none is, the quantity is not
determined by what the item states, and the solver's answer is ``LACK_CONDITION``.

Outcomes per item: ``agree`` (PROB within 5e-5 of the gold; or both ``LACK_CONDITION``), ``disagree``
with a category, or ``unsolved`` (a solver gap: the text could not be parsed into a problem).
Categories of disagreement:

* ``label error``: the item contradicts itself or the graph (e.g. its gold follows an estimand that is
  invalid for its graph, or an "insufficient" item whose answer the stated numbers do determine);
* ``rounding``: the gold differs by less than 5e-4, i.e. by a different rounding of intermediates;
* ``solver gap``: anything else (whygym could not reproduce the gold and cannot say why).

The ANSWER label of yes/no items is checked separately against the derivation's conclusion (the
item's own Reason says the same for CaLM's ETT items whose ANSWER follows the sign of PROB).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from whygym.items import PROB_TASKS, Item
from whygym.scm.graph import DAG
from whygym.tasks.core import Derivation, GivenLookup, MissingTerm, Problem, fmt4
from whygym.tasks.spec import get_task

__all__ = ["AuditResult", "audit_item", "audit_items", "problem_from_item", "pair_by_reason"]

LACK = "LACK_CONDITION"
STRICT_TOL = 5e-5 + 1e-9
ROUNDING_TOL = 5e-4


@dataclass
class AuditResult:
    item_id: str
    file: str
    task: str
    status: str  # agree | disagree | unsolved
    category: str | None = None  # label error | rounding | solver gap
    gold: str = ""
    solved: str = ""
    note: str = ""
    steps: dict[str, str] = field(default_factory=dict)
    label_status: str | None = None  # agree | label error | None (no label to check)
    label_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def problem_from_item(item: Item) -> Problem:
    """The engine problem an item states (raises ``ValueError`` on malformed structure)."""
    g, q = item.graph, item.query
    ids = list(g.get("nodes") or [])
    if not ids or "treatment" not in q or "outcome" not in q:
        raise ValueError("the item has no parsed graph/query")
    pos = {v: i for i, v in enumerate(ids)}
    try:
        dag = DAG(len(ids), [(pos[u], pos[v]) for u, v in g.get("edges", [])])
        query: dict[str, Any] = {k: v for k, v in q.items() if k not in ("treatment", "outcome", "fixed")}
        query["treatment"], query["outcome"] = pos[q["treatment"]], pos[q["outcome"]]
        if "fixed" in q:
            query["fixed"] = {pos[k]: (None if v is None else int(v)) for k, v in q["fixed"].items()}
    except KeyError as e:
        raise ValueError(f"the query names a node {e} that is not in the graph") from None
    names = [g.get("names", {}).get(i, i) for i in ids]
    return Problem(item.task, dag, names, [("0", "1")] * len(ids), query, ids=ids)


def stated_decimals(item: Item) -> int:
    """The precision of the item's stated numbers (rounded intermediates use it): the generator's
    setting when recorded, else the most decimals any stated number shows (at least 4)."""
    cfg = item.meta.get("config")
    if isinstance(cfg, dict) and isinstance(cfg.get("decimals"), int):
        return cfg["decimals"]
    shown = [len(repr(float(v)).split(".")[1]) for v in item.given.values() if "." in repr(float(v))]
    return max([4] + [d for d in shown if d <= 8])


def _solve(p: Problem, given: dict[str, float], decimals: int = 4) -> tuple[Derivation | None, str]:
    """Derive from the stated numbers; (None, reason) when they do not determine the answer."""
    spec = get_task(p.task)
    for exhaustive in (False, True):  # the first minimal set usually suffices; else try every valid set
        look = GivenLookup(given, p.ids)
        try:
            d = spec.derive(p, look, exhaustive=exhaustive, decimals=decimals)
            if d.steps.get("Step 5", "") is None:  # the numbers the derivation read, as the generator lists them
                d.steps["Step 5"] = "\t".join(f"{t.text(p.ids)}={fmt4(v, decimals)}" for t, v in look.used)
            return d, ""
        except MissingTerm as e:
            reason = str(e)
    return None, reason


def _calm_mediation_alternative(p: Problem, given: dict[str, float]) -> Derivation | None:
    """CaLM's NDE/NIE formula with a plain back-door set of X (valid for the ATE, not always for the
    mediation formula): used only to *explain* a disagreement."""
    if p.task not in ("NDE", "NIE"):
        return None
    X, Y = p.query["treatment"], p.query["outcome"]
    sets = p.dag.minimal_backdoor_sets(1 << X, 1 << Y)
    try:
        return get_task(p.task).derive(p, GivenLookup(given, p.ids), sets=sets)
    except (MissingTerm, ValueError):
        return None


def _unrounded_bound(p: Problem, given: dict[str, float]) -> float | None:
    """PN/PS bound with the do-term kept unrounded (the other rounding convention)."""
    if p.task not in ("PN", "PS"):
        return None
    try:
        return get_task(p.task).derive(p, GivenLookup(given, p.ids), exhaustive=True, round_do=False).value
    except (MissingTerm, ValueError, ZeroDivisionError):
        return None


def _stated_numbers(text: str) -> set[float]:
    """Every probability a text states, as decimals ("0.4358") or percentages ("86.28%")."""
    nums = {round(float(m), 10) for m in re.findall(r"(?<![\d.])\d\.\d+", text)}
    nums |= {round(float(m) / 100, 10) for m in re.findall(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)\s*%", text)}
    return nums


def _structural_zero(item: Item) -> str | None:
    """When only the graph and the treatment/outcome were parsed: the reason the answer is 0 if the
    graph has no path of the kind the task needs, else None."""
    # An item that states numbers was written as having a path; with a partly parsed text, trust the
    # graph only when the item states no numbers (CaLM's structural-zero items state none).
    data = item.prompt.split("Instruction:")[0].split("\n", 1)[-1]
    if re.search(r"\d\.\d", data):
        return None
    try:
        p = problem_from_item(item)
    except ValueError:
        return None
    spec = get_task(item.task)
    X, Y = p.query["treatment"], p.query["outcome"]
    if spec.has_path(p.dag, X, Y) or item.task in ("PN", "PS"):
        return None
    return f"There is no path of the kind {item.task} needs from {p.L(X)} to {p.L(Y)}, so the answer is 0."


# CLadder's query types that are whygym tasks, with the query CLadder's formal form asks:
# ate E[Y|do(X=1)] - E[Y|do(X=0)]; ett E[Y_{X=1} - Y_{X=0} | X=1]; nde E[Y_{X=1, M_{X=0}}] - E[Y_{X=0}];
# nie E[Y_{X=0, M_{X=1}}] - E[Y_{X=0}].
_CLADDER = {"ate": ("ATE", {"x": 1, "y": 1}), "ett": ("ETT", {"x": 0, "x_factual": 1, "y": 1}),
            "nde": ("NDE", {"x": 1, "y": 1}), "nie": ("NIE", {"x": 1, "y": 1})}


def _audit_cladder(item: Item) -> AuditResult:
    """A CLadder yes/no item: derive its estimand from the stated (2-decimal) numbers; the answer is
    Yes when the sign agrees with the question's polarity ("increase"/"more likely" -> positive),
    reversed for ETT, whose question imagines the untreated world for the treated."""
    qt = item.meta.get("query_type") or item.task
    res = AuditResult(item.id, item.meta.get("file", ""), qt, "unsolved", gold=str(item.gold.get("label")))
    if qt not in _CLADDER or item.meta.get("parse_error") or not item.graph.get("nodes"):
        res.note = (f"CLadder query type {qt!r} is not one of whygym's tasks" if qt not in _CLADDER
                    else f"not parsed: {item.meta.get('parse_error', 'no structure')}")
        res.category = None if qt not in _CLADDER else "solver gap"
        return res
    task, q = _CLADDER[qt]
    twin = Item(id=item.id, task=task, rung=item.rung, prompt=item.prompt, answer=item.answer, gold={},
                graph=item.graph, query={"treatment": item.query["treatment"], "outcome": item.query["outcome"], **q},
                given=item.given)
    try:
        p = problem_from_item(twin)
    except ValueError as e:
        res.category, res.note = "solver gap", str(e)
        return res
    d, why = _solve(p, item.given, decimals=2)
    if d is None:
        res.status, res.category = "disagree", "label error"
        res.note = (f"the stated numbers do not determine the {task} on this graph ({why}); the item's own estimand "
                    f"{item.meta.get('estimand')!r} leaves that term out")
        return res
    res.solved, res.steps = fmt4(d.value), d.steps
    polarity = item.meta.get("polarity")
    if polarity is None or round(d.value, 4) == 0:
        res.note = "no polarity recorded or a zero effect: yes/no undetermined"
        return res
    positive = d.value > 0 if task != "ETT" else d.value < 0
    label = "yes" if positive == bool(polarity) else "no"
    res.solved = f"{label} ({fmt4(d.value)})"
    if label == item.gold.get("label"):
        res.status = "agree"
    else:
        res.status = "disagree"
        gt = item.meta.get("groundtruth")
        if isinstance(gt, (int, float)) and (gt > 0) != (d.value > 0) and abs(d.value) < 0.05:
            res.category = "rounding"
            res.note = f"the 2-decimal numbers give {fmt4(d.value)}, the unrounded model {gt:.4f}: the sign flips"
        else:
            res.category = "solver gap"
    return res


def audit_item(item: Item, structure_from: Item | None = None) -> AuditResult:
    """Audit one item. ``structure_from``: a twin item (same derivation) whose parsed graph and query
    stand in when this item's own text could not be parsed (LLM-rewritten prose); the numbers are
    still read from this item's own prompt."""
    res = AuditResult(item.id, item.meta.get("file", ""), item.task, "unsolved")
    gold = item.gold
    res.gold = LACK if gold.get("label") == LACK else (fmt4(gold["prob"]) if "prob" in gold else str(gold.get("label")))
    if item.meta.get("benchmark") == "cladder" or item.task in _CLADDER:
        return _audit_cladder(item)
    if item.task not in PROB_TASKS:
        res.note = f"task {item.task} is not one of the seven probability tasks"
        return res
    given = item.given
    src = item
    if item.meta.get("parse_error") or not item.graph.get("nodes"):
        if structure_from is None:
            zero = _structural_zero(item)
            if zero is not None:
                res.solved = fmt4(0.0)
                res.steps = {"Step 1": zero}
                res.note = "the value words were not parsed, but the graph alone makes the answer 0"
                ok = "prob" in gold and abs(float(gold["prob"])) <= STRICT_TOL
                res.status = "agree" if ok else "disagree"
                res.category = None if ok else "label error"
                return res
            res.category = "solver gap"
            res.note = f"not parsed: {item.meta.get('parse_error', 'no structure')}"
            return res
        src = structure_from
        numbers = _stated_numbers(item.prompt)
        missing = [k for k, v in src.given.items() if round(v, 10) not in numbers]
        if missing and gold.get("label") != LACK:
            res.category = "solver gap"
            res.note = f"structure from twin {src.id}; this prompt does not state {', '.join(missing)}"
            return res
        given = {k: v for k, v in src.given.items() if round(v, 10) in numbers}
        res.note = f"structure from twin {src.id} (same derivation); numbers read from this prompt"
    try:
        p = problem_from_item(src)
    except ValueError as e:
        res.category = "solver gap"
        res.note = str(e)
        return res
    d, why = _solve(p, given, stated_decimals(src))
    if d is None:
        res.solved = LACK
        res.steps = {}
        if gold.get("label") == LACK:
            res.status = "agree"
        else:
            res.status, res.category = "disagree", "solver gap"
            res.note = (res.note + "; " if res.note else "") + f"the stated numbers do not determine it ({why})"
        return res
    res.solved = fmt4(d.value)
    res.steps = d.steps
    if gold.get("label") == LACK:
        res.status, res.category = "disagree", "label error"
        res.note = "gold is LACK_CONDITION but the stated numbers determine the answer"
        return res
    if "prob" not in gold:
        res.note = "gold has no number to compare"
        return res
    err = abs(d.value - float(gold["prob"]))
    if err <= STRICT_TOL:
        res.status = "agree"
    else:
        res.status = "disagree"
        alt = _calm_mediation_alternative(p, given)
        unr = _unrounded_bound(p, given)
        if alt is not None and abs(alt.value - gold["prob"]) <= STRICT_TOL:
            res.category = "label error"
            res.note = (f"gold {fmt4(gold['prob'])} follows the mediation formula with the back-door set "
                        f"{alt.steps.get('Step 3', '')!r}, which does not deconfound mediator and outcome here")
        elif unr is not None and abs(unr - gold["prob"]) <= STRICT_TOL:
            res.category = "rounding"
            res.note = "gold keeps P(y|do(x)) unrounded inside the bound"
        elif err < ROUNDING_TOL:
            res.category = "rounding"
            res.note = f"differs by {err:.1e}"
        else:
            res.category = "solver gap"
            res.note = f"differs by {err:.4f}"
    # the yes/no label, checked separately (not for a twin's structure: the rewritten question may
    # have turned its polarity around, e.g. "more likely" -> "be reduced")
    if d.label is not None and gold.get("label") in ("yes", "no") and src is item:
        if gold["label"] == d.label:
            res.label_status = "agree"
        else:
            res.label_status = "label error"
            rl = item.meta.get("reason_label")
            res.label_note = (f"ANSWER {gold['label']}, derivation {d.label}"
                              + (f", the item's own Reason {rl}" if rl else ""))
    return res


def pair_by_reason(items: Iterable[Item], twins: Iterable[Item]) -> dict[str, Item]:
    """Map item ids to twins with the identical task and Reason (CauGym's rewritten sets share the
    base set's Reason verbatim)."""
    index: dict[str, Item] = {}
    for t in twins:
        if t.reason and not t.meta.get("parse_error"):
            index.setdefault(t.task + json.dumps(t.reason, sort_keys=True, ensure_ascii=False), t)
    out = {}
    for it in items:
        key = it.task + json.dumps(it.reason, sort_keys=True, ensure_ascii=False)
        if key in index:
            out[it.id] = index[key]
    return out


def audit_items(items: list[Item], twins: list[Item] | None = None) -> list[AuditResult]:
    pairs = pair_by_reason(items, twins) if twins else {}
    return [audit_item(it, pairs.get(it.id)) for it in items]
