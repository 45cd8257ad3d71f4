"""Training sets from the generator: SFT, DPO, KTO and RL (PPO/GRPO) rows in TRL's conversational format.

No teacher model: every target is the exact engine's derivation of the item.

* :func:`train_items` -- generated training items, with every item that shares a graph and question with
  the held-out test items dropped (:func:`whygym.tasks.dedup.find_overlap`); the report counts the drops.
* :func:`render_target` -- the reasoning steps as text followed by the answer JSON on the last line, in the
  ``calm`` style (the engine's steps as they are), ``spelled`` (arithmetic worked line by line,
  :mod:`whygym.train.spelled`), ``calculator`` (the engine's steps with every computation written as a
  calculator call ``<<EXPR=VALUE>>``, for tool-integrated decoding, :mod:`whygym.models.tools`) or
  ``answer`` (the JSON alone).
* :func:`rejected_derivation` -- a derivation with ONE realistic error (``wrong_adjustment_set``: the
  re-derivation with an empty adjustment/covariate set; ``sign_flip``: the contrast taken the wrong way round;
  ``wrong_formula``: the estimand of a neighbouring task or the other Tian-Pearl bound; ``arithmetic_slip``:
  right steps, a digit of the result wrong), or None when the error does not apply to the item.
* :func:`sft_rows`, :func:`dpo_rows`, :func:`kto_rows`, :func:`rl_rows` -- the rows.

Every row's ``prompt`` is ``[{"role": "user", "content": item.prompt}]``; completions are assistant turns.
Rows also carry ``id``, ``task`` and ``gold`` (a JSON string), which TRL passes to reward functions.

>>> from whygym.tasks import generate
>>> items = list(generate(["ATE"], n=2, seed=0))
>>> rows = sft_rows(items)
>>> rows[0]["completion"][0]["content"].splitlines()[-1] == items[0].answer
True
"""

from __future__ import annotations

import json
import random as _random
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from whygym.items import BOUND_TASKS, LACK_CONDITION, Item, value_words, with_names, with_value_words
from whygym.tasks.core import fill_read_values, fmt4, sign_conclusion
from whygym.tasks.dedup import find_overlap
from whygym.tasks.generate import GenConfig, generate, sample_item
from whygym.tasks.spec import get_task
from whygym.train.spelled import spell_steps

__all__ = ["CALCULATOR_STYLES", "DERIVATION_STYLES", "ERROR_TYPES", "DataReport", "train_items", "heldout_items", "render_target",
           "rejected_derivation", "sft_rows", "dpo_rows", "kto_rows", "rl_rows", "chat_prompt", "engine_of",
           "read_policy_samples", "suite_items", "lack_target"]

#: calm: CaLM's Reason steps; spelled: with the arithmetic worked digit by digit; calculator: every
#: computation a calculator call ``<<EXPR=VALUE>>``; named: calculator, with each variable written by its
#: name from the prompt (``P(wnse=1|do(ujmz=1))``, not ``P(D=1|do(F=1))``: the letters are the engine's,
#: and a model cannot know which letter is which variable); worded: named, with each value written by the
#: word the prompt uses (``P(wnse=high|do(ujmz=low))``, not ``=1``/``=0``: the prompt states every number
#: in words, so the lookup of a number is a copy of the prompt's phrase, not a translation); traced: worded,
#: with the treatment's edges traced before the path check (``Edges from X onward: ...``,
#: :func:`with_reach`); answer: the answer JSON alone. The calculator styles list a bound's terms with their
#: numbers before its formula (:func:`bound_lookup`).
DERIVATION_STYLES = ("calm", "spelled", "calculator", "named", "worded", "traced", "answer")
#: The styles whose computations are calculator calls.
CALCULATOR_STYLES = ("calculator", "named", "worded", "traced")
ERROR_TYPES = ("wrong_adjustment_set", "sign_flip", "wrong_formula", "arithmetic_slip")
#: The estimand a confused solver computes instead (wrong_formula); PN/PS swap upper and lower bound.
_CONFUSED_WITH = {"ATE": "ETT", "ETT": "ATE", "CDE": "ATE", "NDE": "NIE", "NIE": "NDE"}


@dataclass
class DataReport:
    """What a builder did: counts recorded in ``train_summary.json``."""

    generated: int = 0
    dropped_overlap: int = 0
    rows: int = 0
    skipped: int = 0
    error_types: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def chat_prompt(item: Item) -> list[dict[str, str]]:
    return [{"role": "user", "content": item.prompt}]


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _gold_json(item: Item) -> str:
    return json.dumps(item.gold, sort_keys=True)


# ----------------------------------------------------------------------------------------------- items
def heldout_items(tasks: Sequence[str], n: int, seed: int, config: GenConfig = GenConfig()) -> list[Item]:
    """The held-out test items (``whygym eval --benchmark gen:TASKS:N:SEED`` evaluates the same ones)."""
    return list(generate(list(tasks), n=n, seed=seed, config=config)) if n > 0 else []


def train_items(tasks: Sequence[str], n: int, seed: int, config: GenConfig = GenConfig(),
                heldout: Iterable[Item] = (), report: DataReport | None = None) -> list[Item]:
    """``n`` generated items per task minus those whose graph and question occur in ``heldout``.

    >>> test = heldout_items(["ATE"], 5, seed=1)
    >>> r = DataReport()
    >>> len(train_items(["ATE"], 5, seed=1, heldout=test, report=r)), r.dropped_overlap
    (0, 5)
    """
    items = list(generate(list(tasks), n=n, seed=seed, config=config))
    clash = {it.id for it, _ in find_overlap(list(heldout), items)}
    kept = [it for it in items if it.id not in clash]
    if report is not None:
        report.generated += len(items)
        report.dropped_overlap += len(clash)
    return kept


def suite_items(mix: Mapping[str, float], tasks: Sequence[str], n: int, seed: int, heldout: Iterable[Item] = (),
                report: DataReport | None = None) -> list[Item]:
    """Items of whygym's robustness suites for training: per suite and task, ``round(share * n)`` items
    (suite ``k`` in ``mix``'s order drawn with seed ``seed + k``), minus those whose graph and question occur in
    ``heldout``. The suites' own prompts (rephrased sentences, no instruction, the insufficient instruction
    with one needed number withheld) with the engine's derivations; see :func:`lack_target` for the items
    whose answer is ``LACK_CONDITION``.

    >>> its = suite_items({"insufficient": 0.5}, ["ATE"], 4, seed=3)
    >>> len(its), {it.meta["suite"] for it in its}
    (2, {'insufficient'})
    """
    from whygym.tasks.suites import build_suite

    out: list[Item] = []
    held = list(heldout)
    for k, (name, share) in enumerate(mix.items()):
        m = int(round(float(share) * n))
        if m <= 0:
            continue
        items = build_suite(name, n=m, seed=seed + k, tasks=list(tasks))
        clash = {it.id for it, _ in find_overlap(held, items)} if held else set()
        out += [it for it in items if it.id not in clash]
        if report is not None:
            report.generated += len(items)
            report.dropped_overlap += len(clash)
            report.notes.append(f"suite {name}: {len(items) - len(clash)} items")
    return out


_STATED_VALUE = r"=\s*-?\d+(?:\.\d+)?"


def lack_target(item: Item) -> tuple[dict[str, str], str]:
    """(steps, answer) for an item whose prompt withholds a number it needs (gold ``LACK_CONDITION``): the
    engine's derivation up to the first place it reads the withheld number (``meta["withheld"]``), then the
    step that says it is not stated and not determined by what is (the suite proves that with a witness SCM),
    and the answer ``LACK_CONDITION``. Render it with :func:`render_target` like any derivation.

    >>> it = Item(id="x", task="ATE", rung=2, prompt="", answer="LACK_CONDITION", gold={"label": "LACK_CONDITION"},
    ...           reason={"Step 4": "ATE=P(B=1|A=1)-P(B=1|A=0)", "Step 5": "P(B=1|A=1)=0.3\tP(B=1|A=0)=0.1",
    ...                   "Step 6": "ATE=0.3-0.1=0.2"}, meta={"withheld": "P(B=1|A=0)"})
    >>> steps, answer = lack_target(it)
    >>> list(steps), answer
    (['Step 4', 'Step 5'], 'LACK_CONDITION')
    >>> print(steps["Step 5"])  # doctest: +NORMALIZE_WHITESPACE
    P(B=1|A=1)=0.3 P(B=1|A=0) is not stated, and the stated numbers do not determine it. So the information
    is not enough to answer the question.
    """
    key = str((item.meta or {}).get("withheld") or "")
    if not key:
        raise ValueError(f"item {item.id}: a LACK_CONDITION item without meta['withheld'] (the number it lacks)")
    said = f"{key} is not stated, and the stated numbers do not determine it. So the information is not " \
           "enough to answer the question."
    steps: dict[str, str] = {}
    pat = re.compile(re.escape(key) + _STATED_VALUE)
    for name, text in item.reason.items():
        m = pat.search(str(text))
        if m:
            steps[name] = str(text)[:m.start()] + said
            return steps, item.answer
        steps[name] = str(text)
    steps[f"Step {len(steps) + 1}"] = said  # the derivation never lists the number: say so at its end
    return steps, item.answer


def _is_lack(item: Item) -> bool:
    return (item.gold or {}).get("label") == LACK_CONDITION


def engine_of(item: Item):
    """(scm, problem) behind a generated item, regenerated from its ``meta`` (seed, index, config), or None
    when the item was not made by this generator (loaded benchmarks)."""
    m = item.meta or {}
    cfg = m.get("config")
    if not isinstance(cfg, dict) or "seed" not in m or "index" not in m or m.get("suite"):
        return None
    try:
        gc = GenConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
        again, scm, problem = sample_item(item.task, m["seed"], m["index"], gc)
    except (TypeError, ValueError, KeyError, RuntimeError):
        return None
    return (scm, problem) if again.id == item.id else None


# ---------------------------------------------------------------------------------------------- targets
def render_target(steps: Mapping[str, str] | Sequence[str], answer: str, style: str = "calm",
                  decimals: int = 4, names: Mapping[str, str] | None = None,
                  values: Mapping[str, tuple[str, str]] | None = None,
                  edges: Sequence[Sequence[str]] | None = None) -> str:
    """Reasoning text, then the answer JSON alone on the last line. ``names`` (letter -> variable name,
    :attr:`Item.graph` ``["names"]``) is what the ``named`` and ``worded`` styles write in place of the
    letters; ``values`` (letter -> (word for 0, word for 1), :func:`whygym.items.value_words`) what the
    ``worded`` style writes in place of 0 and 1. ``edges`` (the item's graph, pairs of letters) is what the
    ``traced`` style lists before the path check (:func:`with_reach`).

    >>> print(render_target({"Step 1": "ATE=P(B=1|A=1)-P(B=1|A=0)=0.5-0.25=0.25"}, '{"PROB": "0.2500"}',
    ...                     "worded", names={"A": "rain", "B": "soil moisture"}, values={"A": ("light", "heavy"),
    ...                     "B": ("low", "high")}))
    Step 1: ATE=P(soil moisture=high|rain=heavy)-P(soil moisture=high|rain=light)=<<0.5-0.25=0.2500>>
    {"PROB": "0.2500"}

    >>> print(render_target({"Step 1": "ATE=0.5-0.25=0.25"}, '{"PROB": "0.2500"}', "spelled"))
    Step 1: ATE=0.5-0.25=0.25
    Work: 0.5-0.25 = 0.25
    rounded to 2 decimals: 0.25
    {"PROB": "0.2500"}
    """
    if style not in DERIVATION_STYLES:
        raise ValueError(f"unknown derivation style {style!r}; use one of {', '.join(DERIVATION_STYLES)}")
    if style == "answer":
        return answer
    variables = dict(names or {})
    if isinstance(steps, Mapping):
        names, texts = list(steps), [str(v) for v in steps.values()]
    else:
        names, texts = [f"Step {i + 1}" for i in range(len(steps))], [str(s) for s in steps]
    if style == "spelled":
        texts = spell_steps(texts, decimals)
    elif style in CALCULATOR_STYLES:
        texts = [calculator_step(bound_lookup(t), decimals) for t in texts]
        if style == "traced" and texts:
            if not edges:
                raise ValueError("the traced derivation style needs the item's graph edges")
            texts[0] = with_reach(texts[0], edges)
        if style in ("worded", "traced"):
            words = dict(values or {})
            if not words:
                raise ValueError("the worded derivation style needs the variables' value words (the item's "
                                 "graph values)")
            texts = [with_value_words(t, words) for t in texts]
        if style in ("named", "worded", "traced"):
            if not variables:
                raise ValueError(f"the {style} derivation style needs the variables' names (the item's graph names)")
            texts = [with_names(t, variables) for t in texts]
    body = "\n".join(f"{n}: {t}" for n, t in zip(names, texts))
    return f"{body}\n{answer}" if body else answer


_PATH_CHECK = re.compile(r"^(Check whether [^.]*?\(([A-Z])\)[^.]*?\(([A-Z])\)\.) ")


def reach_edges(edges: Sequence[Sequence[str]], source: str, stop: str | None = None) -> list[tuple[str, str]]:
    """The directed edges out of ``source`` and out of every node it reaches, breadth first (children in
    letter order); none out of ``stop`` (the outcome: in a DAG nothing below it leads back to it).

    >>> reach_edges([("A", "B"), ("B", "C"), ("D", "C"), ("A", "D"), ("C", "E")], "A", stop="C")
    [('A', 'B'), ('A', 'D'), ('B', 'C'), ('D', 'C')]
    """
    children: dict[str, list[str]] = {}
    for u, v in edges:
        children.setdefault(str(u), []).append(str(v))
    out, seen, queue = [], {source}, [source]
    while queue:
        u = queue.pop(0)
        if u == stop:
            continue
        for v in sorted(children.get(u, ())):
            out.append((u, v))
            if v not in seen:
                seen.add(v)
                queue.append(v)
    return out


def with_reach(step: str, edges: Sequence[Sequence[str]]) -> str:
    """A path-check step (``Check whether treatment (A) is a cause of outcome (C). ...``) with the edges
    traced from the treatment listed before the claim, ``Edges from A onward: A->B, B->C.``, each a copy
    of one of the prompt's "has a direct effect on" sentences: the claim that follows is then read off a
    search written out, not decided at its first word (a model that decided it there said "no directed
    path" where the path was two edges long). Other steps come back unchanged.

    >>> with_reach("Check whether treatment (A) is a cause of outcome (C). Node A is a cause of node C.",
    ...            [("A", "B"), ("B", "C")])
    'Check whether treatment (A) is a cause of outcome (C). Edges from A onward: A->B, B->C. Node A is a cause of node C.'
    >>> with_reach("Check whether treatment (C) is a cause of outcome (A). Node C is not a cause of node A.", [("A", "C")])
    'Check whether treatment (C) is a cause of outcome (A). Edges from C onward: none. Node C is not a cause of node A.'
    """
    m = _PATH_CHECK.match(step)
    if not m:
        return step
    traced = reach_edges(edges, m.group(2), stop=m.group(3))
    listing = ", ".join(f"{u}->{v}" for u, v in traced) or "none"
    return f"{m.group(1)} Edges from {m.group(2)} onward: {listing}. {step[m.end():]}"


_BOUND_FORMULA = re.compile(r"^((?:Lower|Upper) bound of [^:\n]*: (?:max\{0|min\{1), [^\n]*)\n=((?:max\{0|min\{1), [^\n]*)$",
                            re.M)
_NUMBER = re.compile(r"(?<![\w.=])-?\d+\.\d+")


def _prob_terms(text: str) -> list[str]:
    """The ``P(...)`` terms of a formula in order, each with its nested parentheses (``do(X=0)``)."""
    out, i = [], 0
    while (i := text.find("P(", i)) >= 0:
        depth, j = 0, i + 1
        while j < len(text):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        out.append(text[i:j + 1])
        i = j + 1
    return out


def bound_lookup(text: str) -> str:
    r"""A Tian-Pearl bound step that first lists each term of the bound's formula with its number
    (``P(Y=1)=0.45	P(Y=1|do(X=0))=0.40	P(X=1,Y=1)=0.25``), as the effect tasks' lookup step does: the
    do-term's number, computed in the step before, is copied next to the same term, and the substitution
    then takes the numbers in the listing's order (a model that skipped this copied the prompt's format
    example 0.1234 in its place). Steps of any other shape come back unchanged.

    >>> print(bound_lookup("Lower bound of PN: max{0, [P(Y=1)-P(Y=1|do(X=0))]/P(X=1,Y=1)}\n=max{0, (0.45-0.40)/0.25}\n=0.2000"))
    P(Y=1)=0.45	P(Y=1|do(X=0))=0.40	P(X=1,Y=1)=0.25
    Lower bound of PN: max{0, [P(Y=1)-P(Y=1|do(X=0))]/P(X=1,Y=1)}
    =max{0, (0.45-0.40)/0.25}
    =0.2000
    """
    def insert(m):
        terms, numbers = _prob_terms(m.group(1)), _NUMBER.findall(m.group(2))
        if not terms or len(terms) != len(numbers):
            return m.group(0)
        pairs = "\t".join(f"{t}={v}" for t, v in zip(terms, numbers))
        return f"{pairs}\n{m.group(1)}\n={m.group(2)}"

    return _BOUND_FORMULA.sub(insert, text)


_CHAIN = re.compile(r"=([^=\n]*[-+*/][^=\n]*)\n(?:=[^=\n]*\n)*=(-?\d+\.\d+)(?=\n|$)")
_INLINE = re.compile(r"=([^=<>\n]*?[-+*/][^=<>\n]*?)=(-?\d+\.\d+)(?=[^\d.]|$)")


def calculator_step(text: str, decimals: int = 4) -> str:
    r"""One reasoning step with its computations as calculator calls: ``...=EXPR=VALUE`` becomes
    ``...=<<EXPR=VALUE>>``, and a chain of lines ``=EXPR`` / ``=...`` / ``=VALUE`` (the Tian-Pearl bound
    steps) becomes one line ``=<<EXPR=VALUE>>``. VALUE is what the calculator returns for EXPR (so a target
    never contradicts the tool); an expression the calculator cannot read is left as it was.

    >>> calculator_step("ATE=0.6803*0.31-0.2102*0.31=0.1456")
    'ATE=<<0.6803*0.31-0.2102*0.31=0.1457>>'
    >>> print(calculator_step("Lower: max{0, [P(Y=1)-P(Y=1|do(X=0))]/P(X=1,Y=1)}\n=max{0, (0.45-0.40)/0.25}\n=max{0, 0.2}\n=0.2000"))
    Lower: max{0, [P(Y=1)-P(Y=1|do(X=0))]/P(X=1,Y=1)}
    =<<max{0, (0.45-0.40)/0.25}=0.2000>>
    """
    from whygym.models.tools import ERROR, calculate

    def call(m):
        value = calculate(m.group(1), decimals)
        return m.group(0) if value == ERROR else f"=<<{m.group(1)}={value}>>"

    return _INLINE.sub(call, _CHAIN.sub(call, text))


def _answer_json(task: str, value: float, label: str | None, decimals: int = 4) -> str:
    if get_task(task).yesno:
        return json.dumps({"ANSWER": "Yes" if label == "yes" else "No", "PROB": fmt4(value, decimals)})
    return json.dumps({"PROB": fmt4(value, decimals)})


def _rederive(item: Item, engine, task: str | None = None, query_patch: dict | None = None,
              sets: list[int] | None = None):
    """Derive again with a changed estimand, query or adjustment sets. Stated numbers are read from the
    prompt; a number the wrong formula needs but the prompt lacks comes from the same SCM (as a solver
    who assumes it would)."""
    from whygym.tasks.core import Problem, SCMLookup, parse_term_key

    scm, p0 = engine
    decimals = int((item.meta.get("config") or {}).get("decimals", 4))
    q = dict(p0.query)
    q.update(query_patch or {})
    p = Problem(task or p0.task, p0.dag, p0.names, p0.values, q, ids=list(p0.ids))
    look = SCMLookup(scm, p.ids, decimals)
    for k, v in item.given.items():
        t = parse_term_key(k, p.ids)
        look.stated[t.key] = (t, float(v))
    kw = {"sets": sets} if sets is not None else {}
    d = get_task(p.task).derive(p, look, exhaustive=False, decimals=decimals, **kw)
    return d, fill_read_values(dict(d.steps), look.used, p.ids, decimals), decimals


def _value_text_swap(steps: dict[str, str], old: str, new: str, task: str, value: float, decimals: int,
                     label: str | None) -> dict[str, str] | None:
    """Replace the result in the last arithmetic step and redo the conclusion (arithmetic slip)."""
    keys = list(steps)
    out = dict(steps)
    yesno = get_task(task).yesno
    calc_key = keys[-2] if yesno and len(keys) >= 2 else keys[-1]
    text = out[calc_key]
    pos = text.rfind("=" + old)
    if pos < 0:
        return None
    out[calc_key] = text[:pos] + "=" + new + text[pos + 1 + len(old):]
    if yesno:
        out[keys[-1]] = sign_conclusion(task, value, decimals)[0]
    return out


def rejected_derivation(item: Item, error: str, rng: _random.Random | None = None,
                        engine=None) -> tuple[dict[str, str], str] | None:
    """(steps, answer JSON) of a derivation with one error of kind ``error`` (see :data:`ERROR_TYPES`), or None
    when it does not apply (no arithmetic in a structural-zero item, an empty adjustment set already, ...) or
    when the error happens to leave the answer right."""
    if error not in ERROR_TYPES:
        raise ValueError(f"unknown error type {error!r}; use one of {', '.join(ERROR_TYPES)}")
    rng = rng or _random.Random(0)
    if item.meta.get("structural_zero") or "prob" not in item.gold:
        return None
    task = item.task.upper()
    engine = engine if engine is not None else engine_of(item)
    gold = float(item.gold["prob"])
    try:
        if error == "arithmetic_slip":
            decimals = int((item.meta.get("config") or {}).get("decimals", 4))
            for _ in range(10):
                delta = rng.choice((1, 2, 3, 5, 7, 9)) * 10.0 ** -rng.choice((2, 3, 4)) * rng.choice((-1, 1))
                v = round(gold, decimals) + delta
                if task in BOUND_TASKS and not 0.0 <= v <= 1.0:
                    continue
                if fmt4(v, decimals) != fmt4(gold, decimals):
                    break
            else:
                return None
            label = sign_conclusion(task, v, decimals)[1] if get_task(task).yesno else None
            steps = _value_text_swap(dict(item.reason), fmt4(gold, decimals), fmt4(v, decimals), task, v,
                                     decimals, label)
            if steps is None:
                return None
            return steps, _answer_json(task, v, label, decimals)
        if engine is None:
            return None
        if error == "wrong_adjustment_set":
            # the naive contrast (no adjustment) first, then adjusting for one wrong node (a mediator,
            # a collider, a descendant of the treatment): the errors the deconfounding suite probes
            p = engine[1]
            q = p.query
            cands = [0] + [1 << i for i in range(p.dag.n) if i not in (q["treatment"], q["outcome"])
                           and i not in (q.get("fixed") or {})]
            for z in cands:
                try:
                    d, steps, decimals = _rederive(item, engine, sets=[z])
                except (LookupError, ValueError, ZeroDivisionError):
                    continue
                if not d.structural_zero and fmt4(d.value, decimals) != fmt4(gold, decimals):
                    break
            else:
                return None
        elif error == "sign_flip":
            if task in BOUND_TASKS:
                return None
            d, steps, decimals = _rederive(item, engine, query_patch={"x": 1 - int(engine[1].query["x"])})
        else:  # wrong_formula
            if task in BOUND_TASKS:
                other = "lower" if engine[1].query.get("bound") == "upper" else "upper"
                d, steps, decimals = _rederive(item, engine, query_patch={"bound": other})
            else:
                patch = {}
                if _CONFUSED_WITH[task] == "ETT":
                    patch["x_factual"] = 1 - int(engine[1].query["x"])
                d, steps, decimals = _rederive(item, engine, task=_CONFUSED_WITH[task], query_patch=patch)
    except (LookupError, ValueError, ZeroDivisionError):
        return None
    if d.structural_zero or fmt4(d.value, decimals) == fmt4(gold, decimals):
        return None
    return steps, _answer_json(task, d.value, d.label, decimals)


# ------------------------------------------------------------------------------------------------- rows
def _base(item: Item) -> dict[str, Any]:
    return {"id": item.id, "task": item.task, "gold": _gold_json(item), "prompt": chat_prompt(item)}


def _chosen_text(item: Item, style: str) -> str:
    decimals = int((item.meta.get("config") or {}).get("decimals", 4))
    steps, answer = lack_target(item) if _is_lack(item) else (item.reason, item.answer)
    return render_target(steps, answer, style, decimals, (item.graph or {}).get("names"), value_words(item.graph),
                         (item.graph or {}).get("edges"))


def sft_rows(items: Iterable[Item], style: str = "calm", report: DataReport | None = None) -> list[dict]:
    """Prompt-completion rows: the item's derivation in ``style`` ending with its answer JSON."""
    rows = [{**_base(it), "completion": _assistant(_chosen_text(it, style))} for it in items]
    if report is not None:
        report.rows += len(rows)
    return rows


def _is_wrong(text: str, item: Item) -> bool:
    from whygym.scoring import score

    return score(text, item.gold).outcome == "wrong"


def _pick_rejected(item: Item, errors: Sequence[str], rng: _random.Random, style: str,
                   policy: Sequence[str] = ()) -> tuple[str, str] | None:
    """(rejected text, error label): the policy's own wrong sample if one is given, else a derivation
    with one error (the types tried in random order)."""
    for s in policy:
        if _is_wrong(s, item):
            return s, "policy_sample"
    engine = engine_of(item) if any(e != "arithmetic_slip" for e in errors) else None
    order = list(errors)
    rng.shuffle(order)
    decimals = int((item.meta.get("config") or {}).get("decimals", 4))
    for err in order:
        got = rejected_derivation(item, err, rng, engine=engine)
        if got is None:
            continue
        text = render_target(got[0], got[1], style, decimals, (item.graph or {}).get("names"),
                             value_words(item.graph), (item.graph or {}).get("edges"))
        if _is_wrong(text, item):
            return text, err
    return None


def read_policy_samples(path: str) -> dict[str, list[str]]:
    """Completions by item id from a ``samples.jsonl`` written by ``whygym eval`` (or any JSONL with ``id``
    and ``completion``/``text``/``output``)."""
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not JSON ({e})") from None
            key = rec.get("id") or rec.get("item_id")
            text = next((rec[k] for k in ("completion", "text", "output", "response") if isinstance(rec.get(k), str)),
                        None)
            if key is None or text is None:
                raise ValueError(f"{path}:{lineno}: needs an 'id' and a 'completion' (or 'text') field")
            out.setdefault(str(key), []).append(text)
    return out


def dpo_rows(items: Iterable[Item], style: str = "calm", errors: Sequence[str] = ERROR_TYPES,
             policy_samples: Mapping[str, Sequence[str]] | None = None, seed: int = 0,
             report: DataReport | None = None) -> list[dict]:
    """Preference rows: chosen = the correct derivation; rejected = the policy's own wrong sample where
    ``policy_samples`` (by item id) has one, else a derivation with one error. ``error_type`` says which.
    Items for which no error applies (structural zeros) are skipped and counted."""
    rng = _random.Random(f"dpo|{seed}")
    rows = []
    for it in items:
        got = _pick_rejected(it, errors, rng, style, (policy_samples or {}).get(it.id, ()))
        if got is None:
            if report is not None:
                report.skipped += 1
            continue
        text, err = got
        rows.append({**_base(it), "chosen": _assistant(_chosen_text(it, style)), "rejected": _assistant(text),
                     "error_type": err})
        if report is not None:
            report.error_types[err] = report.error_types.get(err, 0) + 1
    if report is not None:
        report.rows += len(rows)
    return rows


def kto_rows(items: Iterable[Item], style: str = "calm", desirable_ratio: float = 1.0,
             errors: Sequence[str] = ERROR_TYPES, policy_samples: Mapping[str, Sequence[str]] | None = None,
             seed: int = 0, report: DataReport | None = None) -> list[dict]:
    """Unpaired rows (``label`` True = desirable) with ``desirable_ratio`` desirable rows per undesirable one
    (1.0: 1:1). Each item gives one row; items are split between the two kinds to meet the ratio exactly
    (as far as the rounding of counts allows), so an item never appears with both labels."""
    if not desirable_ratio > 0:
        raise ValueError(f"desirable_ratio must be > 0, got {desirable_ratio}")
    items = list(items)
    rng = _random.Random(f"kto|{seed}")
    order = list(range(len(items)))
    rng.shuffle(order)
    n_und_target = int(len(items) / (1.0 + desirable_ratio))
    und: list[dict] = []
    used: set[int] = set()
    for k in order:
        if len(und) >= n_und_target:
            break
        it = items[k]
        got = _pick_rejected(it, errors, rng, style, (policy_samples or {}).get(it.id, ()))
        if got is None:
            continue
        used.add(k)
        und.append({**_base(it), "completion": _assistant(got[0]), "label": False, "error_type": got[1]})
        if report is not None:
            report.error_types[got[1]] = report.error_types.get(got[1], 0) + 1
    n_des = int(round(len(und) * desirable_ratio))
    des = [{**_base(items[k]), "completion": _assistant(_chosen_text(items[k], style)), "label": True,
            "error_type": ""} for k in order if k not in used][:n_des]
    if len(des) < n_des and report is not None:
        report.notes.append(f"kto: only {len(des)} desirable rows for {n_des} wanted; generate more items")
    rows = des + und
    rng.shuffle(rows)
    if report is not None:
        report.rows += len(rows)
    return rows


def rl_rows(items: Iterable[Item], report: DataReport | None = None) -> list[dict]:
    """Prompt rows for PPO/GRPO with ``gold`` (JSON string) and ``task`` for the verifiable reward, and
    ``reason`` (JSON string of the steps dict, in step order), ``given`` (JSON string of the stated
    numbers), ``names`` (JSON string, letter -> variable name, so that a derivation written with names
    is read) and ``values`` (JSON string, letter -> [word for 0, word for 1], so that one written with value
    words is read) for the step verifier's process reward (:class:`whygym.scoring.verify.process_reward`)."""
    # a LACK_CONDITION item has no derivation to verify step by step: its process reward is None (n/a)
    rows = [{**_base(it), "reason": json.dumps({} if _is_lack(it) else it.reason, ensure_ascii=False),
             "given": json.dumps(it.given, ensure_ascii=False, sort_keys=True),
             "names": json.dumps((it.graph or {}).get("names") or {}, ensure_ascii=False, sort_keys=True),
             "values": json.dumps({k: list(v) for k, v in value_words(it.graph).items()},
                                  ensure_ascii=False, sort_keys=True)}
            for it in items]
    if report is not None:
        report.rows += len(rows)
    return rows
