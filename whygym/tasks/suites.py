"""Test suites that probe generalisation and robustness, generated exactly for any seed and size.

The five CauGym test families and two more:

``rephrased``      our own paraphrase templates for every statement, instruction and question, with
                   questions of both polarities ("more likely" / "less likely"); no LLM.
``omitted``        no Instruction line: the question alone must identify the quantity.
``deconfounding``  larger graphs where every effect needs a non-empty adjustment set and the naive
                   (unadjusted) formula misses the truth by at least ``margin``.
``redundant``      extra true probabilities of the same SCM, not needed by the estimand, mixed in.
``insufficient``   one needed probability withheld (gold ``LACK_CONDITION``) for a share ``lack_rate``
                   of items, the others complete; withholding happens only when the engine finds a
                   *witness*: a second SCM on the same graph that agrees on every number still stated and
                   disagrees on the answer, so no item is mislabelled when the withheld number could be
                   derived from the others.
``shift``          node count, density, name mode and number of decimals outside the training defaults.
``noisy``          typos in variable names, irrelevant sentences, shuffled statement order; gold unchanged.

Every suite item keeps the exact structure (graph, query, stated numbers), so the auditor re-derives
its gold; a suite comes with a manifest (suite, parameters, counts per task, generator version).
"""

from __future__ import annotations

import collections
import json
import random as _random
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Sequence

import numpy as np

from whygym.items import LACK_CONDITION, Item
from whygym.scm.model import BinarySCM
from whygym.tasks.core import (ANSWER_FORMAT_PROB, ANSWER_FORMAT_YESNO, Derivation, MissingTerm, Problem,
                               SCMLookup, Term, _Lookup, fmt4, join_and)
from whygym.tasks.generate import (DEFAULT_TASKS, GENERATOR_VERSION, GIVEN_INFO_PREFIX, Draw, GenConfig, Text,
                                   basic_text, draw_problem, item_rng, render_item)
from whygym.tasks.phrasing import question_fields, render
from whygym.tasks.spec import TaskSpec, get_task

__all__ = ["SUITES", "SuiteSpec", "build_suite", "suite_manifest", "find_witness", "Witness", "exact_answer"]

LACK = LACK_CONDITION
INSUFFICIENT_INSTRUCTION = ('If the information given is not enough to answer the question, output "LACK_CONDITION" '
                            "as the final answer.")


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    description: str
    config: GenConfig
    params: dict[str, Any] = field(default_factory=dict)


SUITES: dict[str, SuiteSpec] = {
    "rephrased": SuiteSpec("rephrased", "paraphrased statements, instruction and question; both polarities",
                           GenConfig()),
    "omitted": SuiteSpec("omitted", "no Instruction line", GenConfig()),
    "deconfounding": SuiteSpec("deconfounding", "non-empty adjustment set needed; naive formula off by >= margin",
                               GenConfig(nodes=(5, 8), density=0.6, no_path_rate=0.0), {"margin": 0.05}),
    "redundant": SuiteSpec("redundant", "extra true probabilities the estimand does not need",
                           GenConfig(), {"extra": 3}),
    "insufficient": SuiteSpec("insufficient", "one needed probability withheld (LACK_CONDITION), proven by a witness",
                              GenConfig(no_path_rate=0.0), {"lack_rate": 0.5}),
    "shift": SuiteSpec("shift", "bigger and denser graphs, anti-commonsense names, 3 decimals",
                       GenConfig(nodes=(7, 10), density=0.7, names="anticommonsense", decimals=3, max_given=32)),
    "noisy": SuiteSpec("noisy", "typos in names, irrelevant sentences, shuffled statement order",
                       GenConfig(), {"typo_rate": 0.3, "distractors": 2}),
}


# ------------------------------------------------------------------------------- exact values
class ExactLookup(_Lookup):
    """Unrounded values straight from an SCM (for the witness search and the naive contrasts)."""

    def __init__(self, scm: BinarySCM, ids):
        super().__init__(ids, 12)
        self._inner = SCMLookup(scm, ids, 12)

    def _value(self, term: Term) -> float:
        return self._inner.exact(term)


def exact_answer(spec: TaskSpec, p: Problem, scm: BinarySCM, sets: list[int] | None = None) -> float:
    """The item's estimand evaluated on the SCM's exact probabilities (no rounding anywhere)."""
    kw: dict[str, Any] = {"sets": sets} if sets is not None else {}
    if spec.name in ("PN", "PS"):
        kw["round_do"] = False
    return spec.derive(p, ExactLookup(scm, p.ids), **kw).value


# ------------------------------------------------------------------------------- witnesses
@dataclass
class Witness:
    """Two SCMs on the same graph that agree on every stated number and disagree on the answer."""

    cpts_a: list[list[float]]
    cpts_b: list[list[float]]
    answer_a: float
    answer_b: float
    max_stated_gap: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def find_witness(spec: TaskSpec, p: Problem, scm: BinarySCM, kept: Sequence[Term], min_gap: float = 1e-3,
                 rng: _random.Random | None = None) -> Witness | None:
    """Search for a second SCM that keeps every term in ``kept`` exactly and moves the answer.

    Moves the CPT parameters ``theta`` along the null space of the Jacobian of the kept terms (so
    they stay put to first order) in the direction that changes the answer most, then projects back
    onto ``{theta : kept(theta) = kept(theta_0)}`` with chord-Newton steps. Returns ``None`` when the
    answer does not move (it is then determined by the kept terms, at least locally).
    """
    rng = rng or _random.Random(0)
    theta0 = scm.params()
    d = theta0.size

    def kept_vals(theta: np.ndarray) -> np.ndarray:
        look = SCMLookup(scm.with_params(theta), p.ids, 12)
        return np.array([look.exact(t) for t in kept])

    def answer(theta: np.ndarray) -> float:
        return exact_answer(spec, p, scm.with_params(theta))

    h = 1e-6
    target = kept_vals(theta0)
    a0 = answer(theta0)
    J = np.zeros((len(kept), d))
    g = np.zeros(d)
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        J[:, j] = (kept_vals(theta0 + e) - kept_vals(theta0 - e)) / (2 * h)
        g[j] = (answer(theta0 + e) - answer(theta0 - e)) / (2 * h)
    if len(kept):
        _, sv, vt = np.linalg.svd(J)
        rank = int((sv > 1e-9 * max(1.0, sv.max(initial=0.0))).sum())
        null = vt[rank:].T
        v = null @ (null.T @ g)
    else:
        v = g.copy()
    if np.linalg.norm(v) < 1e-8:
        return None
    v /= np.linalg.norm(v)
    pinv = np.linalg.pinv(J) if len(kept) else None
    for step in (0.2, 0.1, 0.05, 0.02, 0.01):
        for sign in (1.0, -1.0):
            theta = theta0 + sign * step * v
            for _ in range(50):
                if pinv is None:
                    break
                r = kept_vals(theta) - target
                if np.max(np.abs(r)) < 1e-13:
                    break
                theta = theta - pinv @ r
            if np.any(theta <= 1e-3) or np.any(theta >= 1 - 1e-3):
                continue
            gap = float(np.max(np.abs(kept_vals(theta) - target))) if len(kept) else 0.0
            if gap > 1e-10:
                continue
            try:
                a1 = answer(theta)
            except (ZeroDivisionError, MissingTerm):
                continue
            if abs(a1 - a0) >= min_gap:
                return Witness([list(map(float, c)) for c in scm.cpts],
                               [list(map(float, c)) for c in scm.with_params(theta).cpts], a0, a1, gap)
    return None


# ------------------------------------------------------------------------------- paraphrases
_INTROS = [
    "Consider a hypothetical world governed only by the relationships below, with no hidden factors and no other "
    "causal links: ",
    "Assume a closed system in which nothing but the following causal relationships exists: ",
    "Suppose the following statements describe every cause at work in an imaginary population: ",
]
_EDGES = [
    lambda a, b: f"{a} directly affects {b}.",
    lambda a, b: f"{b} is directly influenced by {a}.",
    lambda a, b: f"There is a direct causal link from {a} to {b}.",
]
_INSTRUCTIONS = [
    "Your task concerns the {full} ({abbr}) of {x} on {y}.",
    "We are interested in the {full} ({abbr}) that {x} has on {y}.",
    "Work out the {full} ({abbr}) of {x} on {y}.",
]


def _being(p: Problem, pairs) -> str:
    return join_and([f"{p.names[v]} being {p.word(v, a)}" for v, a in pairs])


def _is(p: Problem, pairs) -> str:
    return join_and([f"{p.names[v]} is {p.word(v, a)}" for v, a in pairs])


def _rephrased_term(p: Problem, t: Term, value: float, decimals: int, k: int) -> str:
    val = fmt4(value, decimals)
    if t.cond:
        forms = [f"When {_is(p, t.cond)}, the probability that {_is(p, t.event)} is {val}.",
                 f"Among units for which {_is(p, t.cond)}, the share where {_is(p, t.event)} equals {val}.",
                 f"Conditional on {_being(p, t.cond)}, {_is(p, t.event)} with probability {val}."]
    else:
        forms = [f"The probability that {_is(p, t.event)} is {val}.",
                 f"Overall, the share of units where {_is(p, t.event)} equals {val}.",
                 f"Unconditionally, {_is(p, t.event)} with probability {val}."]
    return forms[k % len(forms)]


def _question(spec: TaskSpec, p: Problem, template: str) -> str:
    return render(template, question_fields(p))


def _apply_polarity(spec: TaskSpec, d: Derivation, polarity: str) -> Derivation:
    """For a "less likely" question the yes/no answer turns around (PROB is unchanged); a PROB that
    rounds to zero answers No either way."""
    if polarity != "less" or d.label is None or d.structural_zero:
        return d
    v = float(fmt4(d.value))
    if v == 0.0:
        return d
    label = "no" if d.label == "yes" else "yes"
    steps = dict(d.steps)
    name = spec.name
    rel = ">0" if v > 0 else "<0"
    steps["Step 7"] = (f"{name}={fmt4(d.value)}{rel}, and the question asks whether it is less likely, so the answer is "
                       f"{'Yes' if label == 'yes' else 'No'}.")
    return replace(d, label=label, steps=steps)


# ------------------------------------------------------------------------------- noise
_DISTRACTORS = [
    "The records were collected over several seasons.",
    "All figures below come from the same population.",
    "Researchers double-checked every entry of the table.",
    "The observations were anonymised before analysis.",
    "Nothing in this description refers to any other study.",
]


def _typo(word: str, rng: _random.Random) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if len(letters) < 4:
        return word
    i = rng.choice(letters[1:-1])
    kind = rng.randrange(3)
    if kind == 0 and i + 1 < len(word) and word[i + 1].isalpha():  # swap two neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:  # drop a letter
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]  # double a letter


# ------------------------------------------------------------------------------- building
def _base_meta(draw: Draw, seed: int, index: int, config: GenConfig, suite: str, params: dict) -> dict:
    meta = draw.meta(seed, index, config)
    meta["suite"] = suite
    meta["suite_params"] = params
    return meta


def _extra_terms(draw: Draw, k: int, rng: _random.Random) -> list[tuple[Term, float]]:
    """``k`` true probabilities of the SCM that the derivation did not use (nor their complements)."""
    p, look = draw.problem, draw.look
    taken = set(look.stated)
    for t, _ in look.used:
        taken.add(t.key)
        c = t.complement()
        if c is not None:
            taken.add(c.key)
    out = []
    n = p.dag.n
    for _ in range(50 * k):
        if len(out) >= k:
            break
        v = rng.randrange(n)
        others = [u for u in range(n) if u != v]
        cond_nodes = rng.sample(others, rng.randint(0, min(2, len(others))))
        t = Term(((v, rng.randint(0, 1)),), tuple((u, rng.randint(0, 1)) for u in cond_nodes))
        c = t.complement()
        if t.key in taken or (c is not None and c.key in taken):
            continue
        try:
            val = round(look.exact(t), draw.look.decimals)
        except ZeroDivisionError:
            continue
        taken.add(t.key)
        out.append((t, val))
    return out


def _suite_item(suite: SuiteSpec, task: str, seed: int, index: int, _depth: int = 0) -> Item:
    spec = get_task(task)
    cfg = suite.config
    params = dict(suite.params)
    rng = item_rng(spec, seed, index, salt=f"|suite:{suite.name}" + (f"|redraw{_depth}" if _depth else ""))
    name = suite.name

    if name == "deconfounding":
        margin = params["margin"]

        def accept(dr: Draw) -> bool:
            if dr.derivation.structural_zero or not dr.derivation.adjustment:
                return False
            naive = spec.derive(dr.problem, SCMLookup(dr.scm, dr.problem.ids, cfg.decimals), sets=[0])
            return abs(naive.value - dr.derivation.value) >= margin

        draw = draw_problem(spec, rng, cfg, max_tries=2000, accept=accept)
    else:
        draw = draw_problem(spec, rng, cfg, max_tries=500)
    p, d, look = draw.problem, draw.derivation, draw.look
    stated = list(look.stated.values())
    meta = _base_meta(draw, seed, index, cfg, name, params)
    # the fully specified SCM travels with suite items: exact ground truth for research and tests
    meta["scm_cpts"] = [[float(v) for v in c] for c in draw.scm.cpts]
    gold: dict | None = None
    text: Text | None = None

    if name == "deconfounding":
        naive = spec.derive(p, SCMLookup(draw.scm, p.ids, cfg.decimals), sets=[0])
        meta["naive_value"] = naive.value
    if name == "redundant":
        extra = _extra_terms(draw, params["extra"], rng)
        meta["redundant"] = [t.text(p.ids) for t, _ in extra]
        stated = stated + extra
    if cfg.shuffle_given:
        rng.shuffle(stated)
    if name == "insufficient":
        want_lack = rng.random() < params["lack_rate"]
        if want_lack:
            order = list(range(len(stated)))
            rng.shuffle(order)
            for k in order:
                kept = [t for j, (t, _) in enumerate(stated) if j != k]
                w = find_witness(spec, p, draw.scm, kept, rng=rng)
                if w is not None:
                    meta["withheld"] = stated[k][0].text(p.ids)
                    meta["witness"] = w.to_dict()
                    stated = [s for j, s in enumerate(stated) if j != k]
                    gold = {"label": LACK}
                    break
            else:  # nothing can be withheld without the answer staying determined: draw anew
                if _depth >= 20:
                    raise RuntimeError(f"no {spec.name} item with a withholdable number after 20 draws")
                return _suite_item(suite, task, seed, index, _depth + 1)
        base = basic_text(p, spec, stated, cfg.decimals)
        text = replace(base, suffix="\n" + INSUFFICIENT_INSTRUCTION)
    if name == "omitted":
        text = replace(basic_text(p, spec, stated, cfg.decimals), instruction=None)
    if name == "rephrased":
        k = rng.randrange(3)
        edges = [_EDGES[(k + j) % len(_EDGES)](p.names[u], p.names[v]) for j, (u, v) in enumerate(p.dag.edges)]
        edges = [e[:1].upper() + e[1:] for e in edges]
        tmpl, polarity = rng.choice(spec.rephrased)
        d = _apply_polarity(spec, d, polarity)
        meta["polarity"] = polarity or None
        X, Y = p.query["treatment"], p.query["outcome"]
        text = Text(given_info=_INTROS[k] + " ".join(edges),
                    data_info="".join(_rephrased_term(p, t, v, cfg.decimals, k + j) + " "
                                      for j, (t, v) in enumerate(stated)),
                    instruction=rng.choice(_INSTRUCTIONS).format(full=spec.full_name, abbr=spec.name,
                                                                 x=p.names[X], y=p.names[Y]),
                    question=_question(spec, p, tmpl), fmt=ANSWER_FORMAT_YESNO if spec.yesno else ANSWER_FORMAT_PROB)
    if name == "noisy":
        base = basic_text(p, spec, stated, cfg.decimals)
        sentences = [s.strip() + "." for s in base.given_info[len(GIVEN_INFO_PREFIX):].split(".") if s.strip()]
        data = [s.strip() + "." for s in base.data_info.split(". ") if s.strip()]
        data = [s[:-1] if s.endswith("..") else s for s in data]
        typos = 0
        noisy_names = {}
        for nm in p.names:
            if rng.random() < params["typo_rate"]:
                words = nm.split(" ")
                j = max(range(len(words)), key=lambda k: len(words[k]))  # misspell the longest word
                words[j] = _typo(words[j], rng)
                if words[j] != nm.split(" ")[j]:
                    noisy_names[nm] = " ".join(words)
        body = sentences + data
        rng.shuffle(body)
        for _ in range(params["distractors"]):
            body.insert(rng.randrange(len(body) + 1), rng.choice(_DISTRACTORS))
        out = []
        for s in body:  # a typo hits one mention of a name, not all, as a careless writer would
            for nm, bad in noisy_names.items():
                if nm in s and rng.random() < 0.5:
                    s = s.replace(nm, bad, 1)
                    s = s.replace(nm[:1].upper() + nm[1:], bad[:1].upper() + bad[1:], 1)
                    typos += 1
            out.append(s)
        meta["noise"] = {"typos": typos, "distractors": params["distractors"], "shuffled": True}
        text = Text(given_info=GIVEN_INFO_PREFIX.rstrip(" ") + " " + " ".join(out), data_info="",
                    instruction=base.instruction, question=base.question, fmt=base.fmt)
    # a complete item of the insufficient suite keeps its derived gold (gold stays None here)
    return render_item(p, spec, d, stated, look.used, cfg.decimals, meta, text=text, gold=gold)


def build_suite(name: str, n: int = 100, seed: int = 0, tasks: Sequence[str] = DEFAULT_TASKS) -> list[Item]:
    """``n`` items per task of suite ``name`` (see :data:`SUITES`)."""
    if name not in SUITES:
        import difflib
        near = difflib.get_close_matches(name, list(SUITES), n=1)
        raise KeyError(f"unknown suite {name!r}" + (f"; did you mean {near[0]}?" if near else "")
                       + f" Known suites: {', '.join(SUITES)}")
    suite = SUITES[name]
    return list(iter_suite(suite, n, seed, tasks))


def iter_suite(suite: SuiteSpec, n: int, seed: int, tasks: Sequence[str] = DEFAULT_TASKS) -> Iterator[Item]:
    specs = [get_task(t) for t in tasks]
    for i in range(n):
        for spec in specs:
            yield _suite_item(suite, spec.name, seed, i)


def suite_manifest(name: str, n: int, seed: int, tasks: Sequence[str], items: Sequence[Item]) -> dict:
    suite = SUITES[name]
    counts = collections.Counter(it.task for it in items)
    lack = collections.Counter(it.task for it in items if it.gold.get("label") == LACK)
    from dataclasses import asdict
    return {"suite": name, "description": suite.description, "generator": GENERATOR_VERSION, "seed": seed,
            "n_per_task": n, "tasks": list(tasks),
            "config": json.loads(json.dumps(asdict(suite.config))), "params": suite.params,
            "counts": dict(counts), "lack_condition": dict(lack), "total": len(items),
            "command": f"whygym generate --suite {name} --n {n} --seed {seed} --tasks {','.join(tasks)}"}

