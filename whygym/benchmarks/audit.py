"""The exact auditor: re-derive a benchmark item's gold from the item's own given information.

For each item of the seven core tasks, the structure the loader parsed from the item's text (graph,
query, stated probabilities) becomes a :class:`~whygym.tasks.core.Problem`; the same derivation code
that makes whygym's own items computes the answer from the stated numbers alone, trying every valid
adjustment set until one whose terms are all stated is found. When none is, the quantity is not
determined by what the item states, and the solver's answer is ``LACK_CONDITION``.

Outcomes per item (``status``): ``agree`` (PROB within 5e-5 of the gold; or both ``LACK_CONDITION``),
``agree under rounding`` (category ``rounding``, below: explained, not a disagreement), ``disagree``
with a category, or ``unsolved`` (the text could not be read into a problem). Categories:

* ``rounding``: agree under a rounding convention. The gold is what the stated numbers give under a
  stated convention (a PN/PS bound with ``P(y|do(x))`` kept unrounded), or what their *unrounded*
  values give: the gold lies within the distance that moving every stated number inside its rounding
  interval (half a unit of its last decimal) can move the derivation, plus the gold's own rounding
  (the gold was computed from unrounded internals, as in CauGym's deconfounding and redundant sets).
  A perfect reader of the prompt fails such an item under strict scoring; whether it also fails
  CauGym's 5e-4 is in :attr:`AuditResult.reader`.
* ``label error``: the item's numbers (or its graph alone) determine an answer that differs from the
  gold, and the derivation is shown: a gold that follows an estimand invalid for the item's graph, an
  "insufficient" item whose answer the stated numbers determine, a nonzero gold where the graph has
  no path of the kind the task needs.
* ``not determined``: the stated numbers leave the answer open, shown by a witness: two SCMs on the item's
  graph that reproduce every stated number and answer differently (checked with the exact engine; stored
  in the result's ``steps``). Without a witness such an item stays a solver gap.
* ``parse failure``: the item's text could not be read into a problem (or a value word had to be
  guessed against the item's own math and the answers differ); never a label error.
* ``solver gap``: the text was read, but whygym could not reproduce the gold and cannot say why (no
  adjustment set whose terms are stated, or a difference that rounding does not explain); never a
  label error.

:attr:`AuditResult.reader` says how a perfect reader of the prompt (one who derives the answer from
the stated numbers exactly and reports it to four decimals) is scored against the gold: ``strict``
(CaLM's ``round(pred, 4) == round(gold, 4)``, i.e. 5e-5) and ``caugym`` (``|pred - gold| < 5e-4``).

The ANSWER label of yes/no items is checked separately against the derivation's conclusion (the
item's own Reason says the same for CaLM's ETT items whose ANSWER follows the sign of PROB).
"""

from __future__ import annotations

import itertools
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from whygym.items import LACK_CONDITION, PROB_TASKS, Item
from whygym.scoring.match import FLOAT_EPS, MODES, prob_matches
from whygym.scoring.match import CAUGYM_TOL as _CAUGYM_TOL
from whygym.scoring.match import STRICT_TOL as _STRICT_TOL
from whygym.tasks.core import Derivation, GivenLookup, MissingTerm, Problem, fill_read_values, fmt4, parse_term_key
from whygym.tasks.core import problem_from_item as _problem_from_item
from whygym.tasks.spec import get_task

__all__ = ["AuditResult", "audit_item", "audit_items", "problem_from_item", "pair_by_reason"]

LACK = LACK_CONDITION
#: The strict scorer's tolerance with its float slack (an answer within it is an agreement).
STRICT_TOL = _STRICT_TOL + FLOAT_EPS
CAUGYM_TOL = _CAUGYM_TOL  # CauGym's scorer: |pred - gold| < 5e-4
ROUNDED = "agree under rounding"  # the status of category "rounding": explained, not a disagreement


@dataclass
class AuditResult:
    item_id: str
    file: str
    task: str
    status: str  # agree | agree under rounding | disagree | unsolved
    category: str | None = None  # rounding | label error | not determined | parse failure | solver gap
    gold: str = ""
    solved: str = ""
    note: str = ""
    steps: dict[str, str] = field(default_factory=dict)
    label_status: str | None = None  # agree | label error | None (no label to check)
    label_note: str = ""
    # how a perfect reader of the prompt scores: {"strict": bool, "caugym": bool} (True: passes); None
    # where the item could not be read or the gold is not a number / LACK_CONDITION
    reader: dict[str, bool] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def problem_from_item(item: Item) -> Problem:
    """The engine problem an item states (:func:`whygym.tasks.core.problem_from_item`; the value words do not
    enter a derivation, so they are 0 and 1 here). Raises ``ValueError`` on malformed structure."""
    return _problem_from_item(item, default_words=("0", "1"))


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
            fill_read_values(d.steps, look.used, p.ids, decimals)  # the numbers read, as the generator lists them
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


def _value(p: Problem, given: dict[str, float], decimals: int, round_do: bool = True,
           read: set | None = None) -> float | None:
    """The derivation's value from these numbers (None when they do not determine it); ``read``
    collects the keys of the terms it read (and of their complements)."""
    spec = get_task(p.task)
    kw = {"round_do": round_do} if p.task in ("PN", "PS") else {}
    for exhaustive in (False, True):
        look = GivenLookup(given, p.ids)
        try:
            v = spec.derive(p, look, exhaustive=exhaustive, decimals=decimals, **kw).value
        except MissingTerm:
            continue
        except (ValueError, ZeroDivisionError):
            return None
        if read is not None:
            for t, _ in look.used:
                read.add(t.key)
                c = t.complement()
                if c is not None:
                    read.add(c.key)
        return v
    return None


#: CaLM's yes/no items answer No for an effect its Reason writes "~=0": every |value| < 0.001 in the
#: published Reasons (0.0008~=0, 0.0010>0).
CALM_ZERO_BAND = 0.001


def _rounding_reach(p: Problem, given: dict[str, float], decimals: int,
                    scale: dict[str, float] | None = None) -> tuple[float, float] | None:
    """``(value, reach)``: the derivation from the stated numbers (no intermediate rounding) and how far
    it can move when every stated number moves within its rounding interval (half a unit of its last
    decimal), i.e. what unrounded values behind the stated ones could give. ``scale`` widens that
    interval per number (a term derived from stated ones moves further than each of them).

    The reach is the larger of (a) the sum, over the stated numbers, of the larger of the two one-sided
    changes (exact to first order) and (b) the change at the two corners of the box those changes point
    to (where products of changes add up, e.g. in the PN/PS ratios) or, for a PN/PS bound clamped at 0
    or 1, at every corner; plus a margin for the remaining products of two changes (2.5e-9 each at four
    decimals)."""
    half0 = 0.5 * 10.0 ** -decimals
    scale = scale or {}
    read: set = set()
    base = _value(p, given, decimals, round_do=False, read=read)
    if base is None:
        return None
    reach = 0.0
    up: dict[str, float] = {k: 0.0 for k in given}  # the move of each number that raises the value
    for k, v in given.items():
        if parse_term_key(k, p.ids).key not in read:  # a number the derivation does not read
            continue
        half = half0 * scale.get(k, 1.0)
        hi = _value(p, {**given, k: v + half}, decimals, round_do=False)
        lo = _value(p, {**given, k: v - half}, decimals, round_do=False)
        if hi is None or lo is None:
            return None
        reach += max(abs(hi - base), abs(lo - base))
        up[k] = half if hi >= lo else -half
    corners = [{k: sign * up[k] for k in given} for sign in (1, -1)]
    if p.task in ("PN", "PS") and base in (0.0, 1.0):
        # A bound clamped at 0 or 1 is flat in every single number, yet moving several together can
        # bring it inside: try every corner (a seeded sample of 512 beyond ten numbers).
        keys = [k for k in given if parse_term_key(k, p.ids).key in read]
        if len(keys) <= 10:
            signs = itertools.product((-1, 1), repeat=len(keys))
        else:
            rng = random.Random(0)
            signs = ([rng.choice((-1, 1)) for _ in keys] for _ in range(512))
        corners += [{k: sg * half0 * scale.get(k, 1.0) for k, sg in zip(keys, s)} for s in signs]
    for moves in corners:
        c = _value(p, {k: v + moves.get(k, 0.0) for k, v in given.items()}, decimals, round_do=False)
        if c is None:
            return None
        reach = max(reach, abs(c - base))
    n = sum(1 for m in up.values() if m)
    big = half0 * max([1.0, *scale.values()])
    return base, reach + n * n * big * big * 4 + 1e-9


def _reader(solved: float | None, gold: dict[str, Any]) -> dict[str, bool] | None:
    """How a perfect reader of the prompt, who answers the stated numbers' derivation to four decimals
    (or ``LACK_CONDITION`` when they do not determine it), is scored against the gold."""
    if gold.get("label") == LACK or solved is None:
        if gold.get("label") == LACK or "prob" in gold:
            ok = gold.get("label") == LACK and solved is None
            return {m: ok for m in MODES}
        return None
    if "prob" not in gold:
        return None
    pred = float(fmt4(solved, 4))
    return {m: prob_matches(pred, float(gold["prob"]), m) for m in MODES}


def _guessed_words(item: Item) -> list:
    """Value words of queried variables that the item's math states but does not settle (parse.py)."""
    return list((item.meta.get("parse") or {}).get("guessed") or [])


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


def _audit_cladder(item: Item, witnesses: bool = False) -> AuditResult:
    """A CLadder yes/no item: derive its estimand from the stated (2-decimal) numbers; the answer is
    Yes when the sign agrees with the question's polarity ("increase"/"more likely" -> positive),
    reversed for ETT, whose question imagines the untreated world for the treated."""
    qt = item.meta.get("query_type") or item.task
    res = AuditResult(item.id, item.meta.get("file", ""), qt, "unsolved", gold=str(item.gold.get("label")))
    from whygym.benchmarks.cladder_audit import CLADDER_QUERY_TYPES, audit_cladder_query

    if qt in CLADDER_QUERY_TYPES:
        return audit_cladder_query(item, res)
    if qt not in _CLADDER or item.meta.get("parse_error") or not item.graph.get("nodes"):
        res.note = (f"CLadder query type {qt!r} is not one of whygym's tasks" if qt not in _CLADDER
                    else f"not parsed: {item.meta.get('parse_error', 'no structure')}")
        res.category = None if qt not in _CLADDER else "parse failure"
        return res
    task, q = _CLADDER[qt]
    twin = Item(id=item.id, task=task, rung=item.rung, prompt=item.prompt, answer=item.answer, gold={},
                graph=item.graph, query={"treatment": item.query["treatment"], "outcome": item.query["outcome"], **q},
                given=item.given)
    try:
        p = problem_from_item(twin)
    except ValueError as e:
        res.category, res.note = "parse failure", str(e)
        return res
    from whygym.benchmarks.cladder_audit import total_probability_closure

    depth: dict[str, int] = {}
    closed = total_probability_closure(item.given, depths=depth)
    d, why = _solve(p, closed, decimals=2)
    if d is None:
        from whygym.benchmarks.cladder_effects import cladder_effect

        v = cladder_effect(item, task)
        if v is not None:
            return _effect_verdict(item, res, task, v)
        # Not a label error: whygym's back-door and mediation derivations found no formula whose terms
        # are all stated. That proves nothing without two models that fit the numbers and disagree on the
        # sign (front-door items are determined by a formula whygym does not try): search for them.
        w = _sign_witness(task, p, item.given) if witnesses else None
        if w is not None:
            res.status, res.category = "unsolved", "not determined"
            res.solved = f"open ({task} from {w.answer_low:.4f} to {w.answer_high:.4f})"
            res.note = (f"the stated numbers do not determine the sign of the {task}: two SCMs on the item's graph "
                        f"reproduce every stated number (to {w.max_stated_gap:.1e}) and give {w.answer_low:.4f} and "
                        f"{w.answer_high:.4f} (witness checked with the exact engine)")
            res.steps = {"witness": json.dumps(w.to_dict())}
            return res
        res.status, res.category = "disagree", "solver gap"
        res.note = (f"whygym's derivations of the {task} need a term the item does not state ({why}); the item's own "
                    f"estimand {item.meta.get('estimand')!r} leaves it out, and "
                    + ("the witness search found no two models that fit the numbers and disagree on the sign "
                       "(which proves nothing)" if witnesses else "no witness was searched for (--witnesses)"))
        return res
    res.solved, res.steps = fmt4(d.value), d.steps
    polarity = item.meta.get("polarity")
    if polarity is None:
        res.note = "no polarity recorded: yes/no undetermined"
        return res
    label = _effect_label(task, d.value, polarity)
    res.solved = f"{label} ({fmt4(d.value)})"
    reach = _rounding_reach(p, closed, 2, scale={k: 1.0 + dp for k, dp in depth.items()})
    # a zero from two-decimal numbers (P(Y|X=1) = P(Y|X=0) = 0.25), or a sign that flips within their
    # rounding: CLadder's unrounded model decides
    if round(d.value, 4) == 0 or (reach is not None and abs(reach[0]) <= reach[1]):
        return _open_under_rounding(item, res, task, fmt4(d.value) + (f", at most {reach[1]:.4f} away" if reach else ""))
    if label == item.gold.get("label"):
        res.status = "agree"
    elif reach is not None:
        res.status, res.category = "disagree", "label error"
        res.note = (f"the stated numbers give {task} {reach[0]:.4f}, and at most {reach[1]:.4f} away over their "
                    f"rounding: the answer is {label}")
    else:
        res.status, res.category = "disagree", "solver gap"
        res.note = "the rounding reach of the stated numbers could not be computed"
    return res


def _effect_label(task: str, value: float, polarity) -> str:
    """CLadder's yes/no for an effect's sign: yes when it is positive for polarity True, reversed for ETT
    (its question imagines the untreated world for the treated)."""
    positive = value > 0 if task != "ETT" else value < 0
    return "yes" if positive == bool(polarity if polarity is not None else True) else "no"


def _open_under_rounding(item: Item, res: AuditResult, task: str, shown: str) -> AuditResult:
    """An effect whose sign the two-decimal numbers leave open: agree under rounding when CLadder's
    unrounded model (``meta.groundtruth``) gives the gold."""
    gt = item.meta.get("groundtruth")
    res.solved = f"open under rounding ({shown})"
    if isinstance(gt, (int, float)) and gt != 0 and _effect_label(task, gt, item.meta.get("polarity")) == \
            item.gold.get("label"):
        res.status, res.category = ROUNDED, "rounding"
        res.note = f"the two-decimal numbers leave the sign open; CLadder's unrounded model ({gt:.4f}) gives its gold"
    else:
        res.status, res.category = "disagree", "rounding"
        res.note = "the two-decimal numbers leave the sign open; the gold is not what the unrounded model gives"
    return res


def _effect_verdict(item: Item, res: AuditResult, task: str, v) -> AuditResult:
    """An ATE/ETT/NIE verdict of :func:`whygym.benchmarks.cladder_effects.cladder_effect` as an audit result:
    the sign against the gold, with its rounding reach, the rule, and the category its rule allows."""
    polarity = item.meta.get("polarity")
    res.steps = {"rule": v.rule, "estimand": v.formula,
                 "stated": ", ".join(f"{k}={item.given.get(k)}" for k in v.stated if k in item.given),
                 "value": f"{v.value:.4f} (over the rounding of the stated numbers: [{v.low:.4f}, {v.high:.4f}])"}

    def label_of(x: float) -> str:
        return _effect_label(task, x, polarity)
    gold = item.gold.get("label")
    if v.open_by_weights:
        res.solved = "open"
        if v.witness is not None:
            res.status, res.category = "unsolved", "not determined"
            res.note = (f"the stated numbers leave the sign open ({v.formula}): two models that keep every stated "
                        f"number give {task} {v.witness['answer_low']:.4f} and {v.witness['answer_high']:.4f} "
                        "(built and checked with the exact engine)")
            res.steps["witness"] = json.dumps(v.witness)
        else:
            res.status, res.category = "disagree", "solver gap"
            res.note = f"the stated numbers seem to leave the sign open ({v.formula}); no witness was built"
        return res
    determined = v.low > 0 or v.high < 0
    if v.assumption:
        res.solved = f"{label_of(v.value)} ({v.value:.4f}, under an assumption)"
        res.status, res.category = "disagree", "assumption-dependent"
        agrees = "gives" if label_of(v.value) == gold else "does not give"
        res.note = f"{v.formula}: {v.value:.4f}, which {agrees} the gold; {v.assumption}"
        if not determined:
            res.note += "; its sign is also open under the rounding of the stated numbers"
        return res
    if not determined:
        return _open_under_rounding(item, res, task, f"{v.value:.4f} in [{v.low:.4f}, {v.high:.4f}]")
    label = label_of(v.value)
    res.solved = f"{label} ({v.value:.4f})"
    if label == gold:
        res.status = "agree"
        res.note = f"{v.rule}: {v.formula}"
    else:
        res.status, res.category = "disagree", "label error"
        res.note = f"{v.formula} lies in [{v.low:.4f}, {v.high:.4f}] over the rounding of the stated numbers, so the answer is {label}"
    return res


def _sign_witness(task: str, p: Problem, given: dict[str, float]):
    """Two SCMs on ``p``'s graph that reproduce every stated number and give the task's answer both signs
    (:func:`whygym.benchmarks.witness.answer_witness`), or None."""
    from whygym.benchmarks.witness import answer_witness
    from whygym.tasks.suites import exact_answer

    try:
        stated = {parse_term_key(k, p.ids): float(v) for k, v in given.items()}
    except ValueError:
        return None
    spec = get_task(task)
    return answer_witness(p, stated, lambda scm: exact_answer(spec, p, scm), 0.0, random.Random(0))


def audit_item(item: Item, structure_from: Item | None = None, witnesses: bool = False) -> AuditResult:
    """Audit one item. ``structure_from``: a twin item (same derivation) whose parsed graph and query
    stand in when this item's own text could not be parsed (LLM-rewritten prose); the numbers are
    still read from this item's own prompt. ``witnesses``: where no formula of the solver has its terms
    stated, search for a witness that the numbers leave the answer open (category ``not determined``;
    seconds per item, so off by default)."""
    res = AuditResult(item.id, item.meta.get("file", ""), item.task, "unsolved")
    gold = item.gold
    res.gold = LACK if gold.get("label") == LACK else (fmt4(gold["prob"]) if "prob" in gold else str(gold.get("label")))
    if "query_type" in item.meta or item.task in _CLADDER:  # a CLadder-format item
        return _audit_cladder(item, witnesses)
    if item.task.split("_")[0] in ("AR-B", "CA-B", "CEI-B"):  # graph questions: the stated graph decides them
        from whygym.benchmarks.calm_graph import audit_graph_question

        return audit_graph_question(item, res)
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
                res.reader = _reader(0.0, gold)
                if not ok:
                    # a label error only when nothing but value words was unreadable (the graph, the
                    # treatment and the outcome were read); else the graph itself may be misread
                    words_only = (item.meta.get("parse") or {}).get("only_value_word_problems", False)
                    res.category = "label error" if words_only else "parse failure"
                    if not words_only:
                        res.note += f"; not parsed: {item.meta.get('parse_error', 'no structure')}"
                return res
            res.category = "parse failure"
            res.note = f"not parsed: {item.meta.get('parse_error', 'no structure')}"
            return res
        src = structure_from
        numbers = _stated_numbers(item.prompt)
        missing = [k for k, v in src.given.items() if round(v, 10) not in numbers]
        if missing and gold.get("label") != LACK:
            res.category = "parse failure"
            res.note = f"structure from twin {src.id}; this prompt does not state {', '.join(missing)} as a number"
            return res
        given = {k: v for k, v in src.given.items() if round(v, 10) in numbers}
        res.note = f"structure from twin {src.id} (same derivation); numbers read from this prompt"
    try:
        p = problem_from_item(src)
    except ValueError as e:
        res.category = "parse failure"
        res.note = str(e)
        return res
    decimals = stated_decimals(src)
    guessed = _guessed_words(src)
    guess_note = ("; the value words " + ", ".join(f"{w!r} of {v}" for v, w, _ in guessed)
                  + " are not settled by the item's math and were read by a guess") if guessed else ""
    d, why = _solve(p, given, decimals)
    if d is None:
        res.solved = LACK
        res.steps = {}
        res.reader = _reader(None, gold)
        if gold.get("label") == LACK:
            res.status = "agree"
        else:
            res.status, res.category = "disagree", ("parse failure" if guessed else "solver gap")
            res.note = (res.note + "; " if res.note else "") + f"the stated numbers do not determine it ({why})" \
                + guess_note
        return res
    res.solved = fmt4(d.value)
    res.steps = d.steps
    res.reader = _reader(d.value, gold)
    if gold.get("label") == LACK:
        res.status, res.category = "disagree", "label error"
        res.note = "gold is LACK_CONDITION but the stated numbers determine the answer"
        return res
    if "prob" not in gold:
        if d.label is not None and gold.get("label") in ("yes", "no"):
            # a yes/no item of a probability task (CaLM's *-B natural sets): the derivation's conclusion
            res.solved = f"{d.label} ({fmt4(d.value)})"
            reach = None if d.structural_zero else _rounding_reach(p, given, decimals)
            if reach is not None and abs(reach[0]) <= reach[1] and round(d.value, 4) != 0:
                res.status, res.category = ROUNDED if gold["label"] != d.label else "agree", \
                    "rounding" if gold["label"] != d.label else None
                res.note = (f"the stated numbers give {fmt4(d.value)}, within {reach[1]:.1e} of 0 over their rounding"
                            if gold["label"] != d.label else res.note)
            elif gold["label"] == d.label:
                res.status = "agree"
            elif gold["label"] == "no" and abs(d.value) < CALM_ZERO_BAND:
                res.status = "agree"
                res.note = (f"{fmt4(d.value)} is within CaLM's band around 0 (its Reasons write |value| < 0.001 as "
                            "'~=0 so the answer is No')")
            else:
                res.status, res.category = "disagree", "label error"
                res.note = (f"the stated numbers give {d.value:.4f}, so the answer is {d.label}"
                            + (f" (the item's own Reason says {item.meta['reason_label']})"
                               if item.meta.get("reason_label") else ""))
            return res
        res.note = "gold has no number to compare"
        return res
    g = float(gold["prob"])
    err = abs(d.value - g)
    if err <= STRICT_TOL:
        res.status = "agree"
    else:
        res.status = "disagree"
        alt = _calm_mediation_alternative(p, given)
        unr = _unrounded_bound(p, given)
        reach = _rounding_reach(p, given, decimals)
        if alt is not None and abs(alt.value - g) <= STRICT_TOL:
            res.category = "label error"
            res.note = (f"gold {fmt4(g)} follows the mediation formula with the back-door set "
                        f"{alt.steps.get('Step 3', '')!r}, which does not deconfound mediator and outcome here")
        elif unr is not None and abs(unr - g) <= STRICT_TOL:
            res.status, res.category = ROUNDED, "rounding"
            res.note = "gold keeps P(y|do(x)) unrounded inside the bound"
        elif reach is not None and abs(reach[0] - g) <= reach[1] + STRICT_TOL:
            res.status, res.category = ROUNDED, "rounding"
            res.note = (f"gold from unrounded values: it differs by {err:.1e} from the stated numbers' derivation, "
                        f"within the {reach[1]:.1e} that rounding them to {decimals} decimals allows "
                        f"(+5e-5 for the gold's own rounding)")
        elif guessed:
            res.category = "parse failure"
            res.note = f"differs by {err:.4f}" + guess_note
        else:
            res.category = "solver gap"
            res.note = f"differs by {err:.4f}" + (
                f", more than rounding the stated numbers allows ({reach[1]:.1e})" if reach is not None else "")
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


def audit_items(items: list[Item], twins: list[Item] | None = None, witnesses: bool = False) -> list[AuditResult]:
    """:func:`audit_item` over items (``twins``: see :func:`pair_by_reason`; ``witnesses``: search for a
    witness where the solver finds no formula, seconds per such item)."""
    pairs = pair_by_reason(items, twins) if twins else {}
    return [audit_item(it, pairs.get(it.id), witnesses=witnesses) for it in items]
