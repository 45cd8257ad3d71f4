"""Shared machinery of the task modules: problems, probability terms, value look-ups, EN rendering.

A :class:`Problem` is a causal question on a named graph. A task module turns a problem plus a
*look-up* of probability values into a :class:`Derivation` (the answer and CaLM-style steps). The
same derivation code serves the generator (values come from an SCM, rounded as they will be shown:
:class:`SCMLookup`) and the auditor (values come from an item's text: :class:`GivenLookup`), so the
gold of a generated item is, by construction, what a perfect reader of its prompt computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from whygym.scm.graph import DAG, letters, mask, members
from whygym.scm.model import BinarySCM

__all__ = ["Problem", "Term", "MissingTerm", "SCMLookup", "GivenLookup", "Derivation", "fmt4",
           "parse_term_key", "prob_key", "problem_from_item", "fill_read_values", "ANSWER_FORMAT_YESNO",
           "ANSWER_FORMAT_PROB"]

ANSWER_FORMAT_YESNO = ('Provide the calculation result to four decimal places and a final "yes" or "no" answer '
                       'in JSON format, like {"ANSWER": "Yes", "PROB": "0.1234"}:')
ANSWER_FORMAT_PROB = 'Provide the calculation result to four decimal places in JSON format, like {"PROB": "0.1234"}:'


def fmt4(v: float, decimals: int = 4) -> str:
    """Fixed-point text with ``decimals`` places, never ``-0.0000``."""
    s = f"{v:.{decimals}f}"
    return s[1:] if s.startswith("-") and float(s) == 0.0 else s


@dataclass
class Problem:
    """A causal question on a graph whose nodes carry names and value words.

    ``query`` keys (node indices and 0/1 values): ``treatment``, ``outcome``, ``x`` (the value the
    question sets or imagines for the treatment), ``y`` (the outcome value asked about), and per task
    ``x_factual`` / ``y_factual`` (ETT, PN, PS), ``fixed`` ``{node: value}`` (CDE), ``bound``
    ``"upper"|"lower"`` (PN, PS).
    """

    task: str
    dag: DAG
    names: list[str]
    values: list[tuple[str, str]]
    query: dict[str, Any]
    ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.ids:
            self.ids = letters(self.dag.n)

    # text helpers --------------------------------------------------------------------------
    def L(self, i: int) -> str:
        return self.ids[i]

    def word(self, i: int, v: int) -> str:
        return self.values[i][v]

    def graph_dict(self) -> dict[str, Any]:
        return {"nodes": list(self.ids), "edges": [[self.ids[u], self.ids[v]] for u, v in self.dag.edges],
                "names": {self.ids[i]: self.names[i] for i in range(self.dag.n)},
                "values": {self.ids[i]: list(self.values[i]) for i in range(self.dag.n)}}

    def query_dict(self) -> dict[str, Any]:
        q: dict[str, Any] = {}
        for k, v in self.query.items():
            if k in ("treatment", "outcome"):
                q[k] = self.ids[v]
            elif k == "fixed":
                q[k] = {self.ids[a]: b for a, b in v.items()}
            else:
                q[k] = v
        return q


def prob_key(event: Iterable[tuple[str, int]], cond: Iterable[tuple[str, int]] = ()) -> str:
    """The one text form of a probability term, as prompts' math and :attr:`Item.given` keys write it:
    ``P(C=0|A=0,B=1)`` (no spaces, the order given).

    >>> prob_key([("C", 0)], [("A", 0), ("B", 1)]), prob_key([("A", 1)])
    ('P(C=0|A=0,B=1)', 'P(A=1)')
    """
    ev = ",".join(f"{v}={a}" for v, a in event)
    cond = list(cond)
    return f"P({ev}|" + ",".join(f"{v}={a}" for v, a in cond) + ")" if cond else f"P({ev})"


def problem_from_item(item, default_words: tuple[str, str] = ("low", "high")) -> "Problem":
    """The engine problem an :class:`~whygym.items.Item` states: its graph, query and names, and each
    variable's value words (the item's ``graph["values"]`` where both are known, else ``default_words``).
    Raises ``ValueError`` on a malformed structure (no graph or query, a query naming a node the graph lacks).

    >>> from whygym.tasks import generate
    >>> it = next(generate(["ATE"], n=1, seed=0))
    >>> p = problem_from_item(it)
    >>> p.graph_dict() == it.graph and p.query_dict() == it.query
    True
    """
    g, q = item.graph or {}, item.query or {}
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
    stated = g.get("values") if isinstance(g.get("values"), dict) else {}
    words = []
    for i in ids:
        w = stated.get(i)
        words.append(tuple(w) if isinstance(w, (list, tuple)) and len(w) == 2 and all(w) else tuple(default_words))
    return Problem(item.task, dag, [g.get("names", {}).get(i, i) for i in ids], words, query, ids=ids)


def fill_read_values(steps: dict[str, Any], used: Iterable[tuple["Term", float]], ids: Sequence[str],
                     decimals: int = 4) -> dict[str, Any]:
    """``steps`` with its open "Step 5" (None: the numbers the derivation read) written out as the generator
    lists them, ``P(..)=v`` tab-separated in reading order; other steps as they are. Changes ``steps``."""
    if "Step 5" in steps and steps["Step 5"] is None:
        steps["Step 5"] = "\t".join(f"{t.text(ids)}={fmt4(v, decimals)}" for t, v in used)
    return steps


class Term:
    """A probability ``P(event | cond)``; events and conditions are ``((node, value), ...)`` in the
    order they are written. Equality ignores the order (``key``)."""

    __slots__ = ("event", "cond", "key")

    def __init__(self, event: Sequence[tuple[int, int]], cond: Sequence[tuple[int, int]] = ()):
        self.event = tuple(event)
        self.cond = tuple(cond)
        self.key = (frozenset(self.event), frozenset(self.cond))

    def text(self, ids: Sequence[str]) -> str:
        return prob_key([(ids[v], a) for v, a in self.event], [(ids[v], a) for v, a in self.cond])

    def complement(self) -> "Term | None":
        if len(self.event) != 1:
            return None
        (v, a), = self.event
        return Term(((v, 1 - a),), self.cond)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Term) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Term({self.text(letters(64))})"


def parse_term_key(key: str, ids: Sequence[str]) -> Term:
    """Inverse of :meth:`Term.text`: ``"P(C=0|A=0,B=1)"`` -> Term (``ids`` maps node ids to indices)."""
    s = key.strip()
    if not (s.startswith("P(") and s.endswith(")")):
        raise ValueError(f"not a probability term: {key!r}")
    body = s[2:-1]
    ev_s, _, cond_s = body.partition("|")
    pos = {name: i for i, name in enumerate(ids)}

    def parse(part: str) -> list[tuple[int, int]]:
        out = []
        for a in part.split(","):
            a = a.strip()
            if not a:
                continue
            name, _, val = a.partition("=")
            if name.strip() not in pos or val.strip() not in ("0", "1"):
                raise ValueError(f"bad assignment {a!r} in {key!r}")
            out.append((pos[name.strip()], int(val)))
        return out

    return Term(parse(ev_s), parse(cond_s))


class MissingTerm(LookupError):
    """A derivation needs a probability that the look-up does not have."""

    def __init__(self, term: Term, ids: Sequence[str] | None = None):
        self.term = term
        super().__init__(f"needed {term.text(ids) if ids else term!r} but it is not given")


class _Lookup:
    """Records every value a derivation reads, in order, for the Step listing."""

    def __init__(self, ids: Sequence[str], decimals: int = 4):
        self.ids = list(ids)
        self.decimals = decimals
        self.used: list[tuple[Term, float]] = []
        self._seen: set = set()

    def __call__(self, term: Term) -> float:
        v = self._value(term)
        if term.key not in self._seen:
            self._seen.add(term.key)
            self.used.append((term, v))
        return v

    def _value(self, term: Term) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def mark(self) -> int:
        return len(self.used)

    def reset(self, mark: int) -> None:
        for t, _ in self.used[mark:]:
            self._seen.discard(t.key)
        del self.used[mark:]


class SCMLookup(_Lookup):
    """Values from an SCM's observational distribution, rounded to ``decimals`` as the prompt will
    state them. The terms read become the prompt's given information (``stated``); a complement of
    a stated single-event term is derived as ``1 - stated`` (and not stated) unless
    ``state_complements``.
    """

    def __init__(self, scm: BinarySCM, ids: Sequence[str], decimals: int = 4, state_complements: bool = False):
        super().__init__(ids, decimals)
        self.scm = scm
        self.state_complements = state_complements
        self.stated: dict[tuple, tuple[Term, float]] = {}
        self._tables: dict[tuple[int, ...], np.ndarray] = {}

    def exact(self, term: Term) -> float:
        nodes = tuple(sorted({v for v, _ in term.event} | {v for v, _ in term.cond}))
        tab = self._tables.get(nodes)
        if tab is None:
            tab = self._tables[nodes] = self.scm.marginal(nodes)
        both = dict(term.cond)
        both.update(term.event)
        num = float(tab[tuple(both[v] for v in nodes)])
        if not term.cond:
            return num
        cond = dict(term.cond)
        # sum the event axes out of the same table
        axes = tuple(k for k, v in enumerate(nodes) if v not in cond)
        den_tab = tab.sum(axis=axes) if axes else tab
        cnodes = [v for v in nodes if v in cond]
        den = float(den_tab[tuple(cond[v] for v in cnodes)])
        return num / den

    def _value(self, term: Term) -> float:
        got = self.stated.get(term.key)
        if got is not None:
            return got[1]
        comp = term.complement()
        if comp is not None and not self.state_complements and comp.key in self.stated:
            return round(1.0 - self.stated[comp.key][1], self.decimals)
        v = round(self.exact(term), self.decimals)
        self.stated[term.key] = (term, v)
        return v


class GivenLookup(_Lookup):
    """Values from a dict of stated probabilities (``{"P(C=0|A=0)": 0.8445, ...}``); a single-event
    term may also be read as ``1 -`` its stated complement. Raises :class:`MissingTerm` otherwise."""

    def __init__(self, given: dict[str, float], ids: Sequence[str], decimals: int = 4):
        super().__init__(ids, decimals)
        self.table: dict[tuple, float] = {}
        for k, v in given.items():
            self.table[parse_term_key(k, ids).key] = float(v)

    def _value(self, term: Term) -> float:
        if term.key in self.table:
            return self.table[term.key]
        comp = term.complement()
        if comp is not None and comp.key in self.table:
            return round(1.0 - self.table[comp.key], 10)
        raise MissingTerm(term, self.ids)


@dataclass
class Derivation:
    """The outcome of deriving a task's answer from a look-up.

    ``value`` is the gold number (computed from the looked-up, i.e. stated, values); ``steps`` the
    CaLM-style reasoning; ``label`` "yes"/"no" for the yes/no tasks (None for PN/PS);
    ``adjustment``/``mediators`` the node sets used (bitmasks); ``structural_zero`` when the answer
    is 0 because the graph has no path of the required kind.
    """

    value: float
    steps: dict[str, str]
    label: str | None
    adjustment: int = 0
    mediators: int = 0
    structural_zero: bool = False
    formula: str = ""


# ------------------------------------------------------------------------------- rendering
def join_and(parts: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` (CaLM's listing style)."""
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def set_text(p: Problem, m: int) -> str:
    """``empty set`` or ``{A}`` / ``{A, C}``."""
    return "empty set" if not m else "{" + ", ".join(p.L(i) for i in members(m)) + "}"


def sum_prefix(p: Problem, groups: Sequence[int]) -> str:
    """``sum_{C}sum_{A} `` for the given node masks (one ``sum`` per mask, nodes comma-joined)."""
    out = ""
    for m in groups:
        if m:
            out += "sum_{" + ",".join(p.L(i) for i in members(m)) + "}"
    return out + " " if out else ""


def configs(m: int) -> Iterator[tuple[tuple[int, int], ...]]:
    """All assignments to the nodes of mask ``m`` (lowest node varies slowest), as pairs."""
    nodes = members(m)
    for vals in product((0, 1), repeat=len(nodes)):
        yield tuple(zip(nodes, vals))


def assign_text(p: Problem, a: Iterable[tuple[int, int]]) -> str:
    return ",".join(f"{p.L(v)}={x}" for v, x in a)


def open_text(p: Problem, m: int) -> str:
    """The summation variables written without values, e.g. ``C,A``."""
    return ",".join(p.L(i) for i in members(m))


def sign_conclusion(name: str, v: float, decimals: int, positive_means_yes: bool = True) -> tuple[str, str]:
    """CaLM's last step: ``ATE=0.1234>0 so the answer is Yes.``; a value that rounds to zero is
    ``~=0`` and answers No."""
    s = fmt4(v, decimals)
    if float(fmt4(v, 4)) == 0.0:  # the answer is asked to four decimals
        return f"{name}={s}~=0 so the answer is No.", "no"
    if v > 0:
        yes = positive_means_yes
        return f"{name}={s}>0 so the answer is {'Yes' if yes else 'No'}.", "yes" if yes else "no"
    yes = not positive_means_yes
    return f"{name}={s}<0 so the answer is {'Yes' if yes else 'No'}.", "yes" if yes else "no"


def backdoor_steps(p: Problem, s1: str, outcome: str, do_text: str, z: int, s4: str, s6: str, s7: str) -> dict:
    """The seven CaLM steps of an effect identified by back-door adjustment (Step 5, the numbers read,
    is filled in when the item is rendered)."""
    return {"Step 1": s1,
            "Step 2": f"Identification of the Causal Effect. P({outcome}|do({do_text})) can be identified.",
            "Step 3": f"Find a valid backdoor adjustment set: {set_text(p, z)}.",
            "Step 4": s4, "Step 5": None, "Step 6": s6, "Step 7": s7}


def mediation_steps(p: Problem, s1: str, med: int, w: int, s4: str, s6: str, s7: str) -> dict:
    """The seven CaLM steps of a natural effect computed by the mediation formula."""
    return {"Step 1": s1, "Step 2": f"Find a valid mediator set: {set_text(p, med)}.",
            "Step 3": f"Find a valid backdoor adjustment set: {set_text(p, w)}.",
            "Step 4": s4, "Step 5": None, "Step 6": s6, "Step 7": s7}


def try_sets(sets: Iterable[int], lookup: _Lookup, fn: Callable[[int], Derivation]) -> Derivation:
    """Derive with the first adjustment set whose terms the look-up has (the generator's look-up has
    all; the auditor's may lack some when the item was made with another valid set)."""
    last: MissingTerm | None = None
    for z in sets:
        mark = lookup.mark()
        try:
            return fn(z)
        except MissingTerm as e:
            lookup.reset(mark)
            last = e
    if last is None:
        raise ValueError("no valid adjustment set exists for this query")
    raise last


def backdoor_sets(dag: DAG, treatments: int, outcome: int, exhaustive: bool) -> list[int]:
    """Adjustment sets to try: the first minimal one, or (auditing) every minimal one followed by the
    parents of the treatments and all valid sets of non-descendants up to size 4."""
    if not exhaustive:
        first = dag.first_backdoor_set(treatments, outcome)
        return [] if first is None else [first]
    out = list(dag.minimal_backdoor_sets(treatments, outcome))
    extra = [0]
    for t in members(treatments):
        extra[0] |= dag.pa_mask[t]
    extra[0] &= ~treatments
    cands = members(dag.backdoor_candidates(treatments, outcome))
    from itertools import combinations
    for size in range(1, min(4, len(cands)) + 1):
        for c in combinations(cands, size):
            extra.append(mask(c))
    for z in extra:
        if z not in out and dag.is_backdoor_set(treatments, outcome, z):
            out.append(z)
    return out
