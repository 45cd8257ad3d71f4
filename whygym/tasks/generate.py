"""The generator: random SCM -> query -> exact derivation -> an :class:`~whygym.items.Item` in the
CaLM/CauGym "basic" prompt format.

Every item is a pure function of ``(config, seed, task, index)``: its random stream is seeded from
those alone, so item ``i`` is the same whatever ``n`` is asked for, and the same seed gives
byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import random as _random
from functools import lru_cache
from dataclasses import asdict, dataclass
from typing import Iterator, Sequence

from whygym import __version__
from whygym.items import Item
from whygym.scm.graph import random_dag
from whygym.scm.model import BinarySCM
from whygym.scm.sampling import random_cpts
from whygym.tasks.core import (ANSWER_FORMAT_PROB, ANSWER_FORMAT_YESNO, Derivation, Problem, SCMLookup, Term,
                               fmt4, join_and)
from whygym.tasks.spec import TASKS, TaskSpec, get_task
from whygym.tasks.vocab import NAME_MODES, assign_names

__all__ = ["GenConfig", "GENERATOR_VERSION", "generate", "generate_item", "render_item", "sample_item", "DEFAULT_TASKS"]

GENERATOR_VERSION = f"whygym-gen/{__version__}"
DEFAULT_TASKS = ("ATE", "CDE", "ETT", "NDE", "NIE", "PN", "PS")
GIVEN_INFO_PREFIX = ("Imagine a self-contained, hypothetical world with only the following conditions, and without "
                     "any unmentioned factors or causal relationships: ")


@dataclass(frozen=True)
class GenConfig:
    """Controls of the generator (all have defaults close to CaLM's basic sets).

    nodes : inclusive range of graph sizes (3..12).
    density : probability of each forward edge before the graph is made connected.
    names : ``fake`` | ``real`` | ``random`` | ``anticommonsense`` | ``mix`` (fake/real/random in thirds,
        as CaLM's FAKE/REAL/RANDOM modes).
    no_path_rate : share of questions whose answer is a structural 0 (no causal path of the kind the
        task needs); CaLM's sets have one third. PN/PS always have a path.
    bound : ``upper`` | ``lower`` | ``random`` for PN/PS.
    decimals : precision of the stated probabilities (and of the answer).
    max_given : resample when a question would need more stated numbers than this.
    state_complements : also state ``P(y'|.)`` when ``P(y|.)`` is stated (else the reader derives it).
    shuffle_given : state the numbers in random order (CaLM does).
    cpt_low, cpt_high : range of the random CPT entries.
    coupling : exogenous coupling of the SCM (only matters for the exact PN/PS the tests check).
    """

    nodes: tuple[int, int] = (3, 6)
    density: float = 0.5
    names: str = "mix"
    no_path_rate: float = 1 / 3
    bound: str = "random"
    decimals: int = 4
    max_given: int = 24
    state_complements: bool = False
    shuffle_given: bool = True
    cpt_low: float = 0.02
    cpt_high: float = 0.98
    coupling: str = "comonotone"

    def validate(self) -> "GenConfig":
        lo, hi = self.nodes
        if not (3 <= lo <= hi <= 12):
            raise ValueError(f"nodes must be a range within 3..12 (got {lo}-{hi})")
        if not 0.0 < self.density <= 1.0:
            raise ValueError(f"density must lie in (0, 1] (got {self.density})")
        if self.names not in NAME_MODES + ("mix",):
            raise ValueError(f"names must be one of {', '.join(NAME_MODES + ('mix',))} (got {self.names!r})")
        if not 0.0 <= self.no_path_rate <= 1.0:
            raise ValueError(f"no_path_rate must lie in [0, 1] (got {self.no_path_rate})")
        if self.bound not in ("upper", "lower", "random"):
            raise ValueError(f"bound must be upper, lower or random (got {self.bound!r})")
        if not 1 <= self.decimals <= 8:
            raise ValueError(f"decimals must lie in 1..8 (got {self.decimals})")
        return self


# --------------------------------------------------------------------------- text rendering
def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def graph_sentences(p: Problem) -> str:
    return " ".join(f"{_cap(p.names[u])} has a direct effect on {p.names[v]}." for u, v in p.dag.edges)


def _being(p: Problem, pairs) -> str:
    return join_and([f"{p.names[v]} being {p.word(v, a)}" for v, a in pairs])


def term_sentence(p: Problem, t: Term, value: float, decimals: int) -> str:
    """One stated number in CaLM's words, e.g. ``For those with smku being low, the probability of
    eons being low is 0.8445.``"""
    val = fmt4(value, decimals)
    if t.cond:
        return f"For those with {_being(p, t.cond)}, the probability of {_being(p, t.event)} is {val}."
    return f"The probability of {_being(p, t.event)} is {val}."


def render_item(p: Problem, spec: TaskSpec, d: Derivation, stated: Sequence[tuple[Term, float]],
                used: Sequence[tuple[Term, float]], decimals: int, meta: dict) -> Item:
    """Assemble the item: prompt in the CaLM basic format, canonical answer, gold, reason, structure."""
    given_info = GIVEN_INFO_PREFIX + graph_sentences(p)
    data_info = "".join(term_sentence(p, t, v, decimals) + " " for t, v in stated)
    data_info_math = "".join(f"{t.text(p.ids)}={fmt4(v, decimals)}; " for t, v in stated)
    instruction = spec.instruction(p)
    question = spec.question(p)
    fmt = ANSWER_FORMAT_YESNO if spec.yesno else ANSWER_FORMAT_PROB
    prompt = f"Input Info: {given_info}\n{data_info}\nInstruction: {instruction}\nQuestion: {question}\n{fmt}"
    prob_txt = fmt4(d.value, decimals)
    if spec.yesno:
        answer = json.dumps({"ANSWER": "Yes" if d.label == "yes" else "No", "PROB": prob_txt})
        gold = {"prob": d.value, "label": d.label}
    else:
        answer = json.dumps({"PROB": prob_txt})
        gold = {"prob": d.value}
    steps = dict(d.steps)
    if "Step 5" in steps and steps["Step 5"] is None:
        steps["Step 5"] = "\t".join(f"{t.text(p.ids)}={fmt4(v, decimals)}" for t, v in used)
    n, m = p.dag.n, len(p.dag.edges)
    meta = dict(meta)
    meta["calm"] = {
        "graph": f"Given a causal graph with {n} nodes {', '.join(p.ids)}, and {m} edges "
                 f"{', '.join(f'{p.L(u)}->{p.L(v)}' for u, v in p.dag.edges)}.",
        "real_world_meaning": "The real world meaning of each node is defined as follows: "
                              + join_and([f"{p.L(i)} represents {p.names[i]}" for i in range(n)]) + ". ",
        "given_info": given_info, "data_info": data_info, "data_info_math": data_info_math,
        "Instruction": instruction, "Question": question,
    }
    meta["structural_zero"] = d.structural_zero
    meta["adjustment_set"] = [p.L(i) for i in range(n) if d.adjustment >> i & 1]
    meta["mediators"] = [p.L(i) for i in range(n) if d.mediators >> i & 1]
    core = json.dumps([spec.name, prompt, answer], ensure_ascii=False)
    item_id = f"{spec.name.lower()}-{hashlib.sha1(core.encode()).hexdigest()[:12]}"
    return Item(id=item_id, task=spec.name, rung=spec.rung, prompt=prompt, answer=answer, gold=gold, reason=steps,
                graph=p.graph_dict(), query=p.query_dict(),
                given={t.text(p.ids): round(v, decimals) for t, v in stated}, meta=meta)


# --------------------------------------------------------------------------- sampling
def _eligible(spec: TaskSpec, dag, x: int, y: int) -> bool:
    if x == y:
        return False
    if spec.name == "CDE":  # a CDE question holds at least one mediator fixed
        return dag.mediators(x, y) != 0
    return True


@lru_cache(maxsize=32)
def _config_dict_cached(config: GenConfig) -> str:
    return json.dumps({k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()})


def _config_dict(config: GenConfig) -> dict:
    return json.loads(_config_dict_cached(config))


def _is_tie(v: float, decimals: int) -> bool:
    """A value half-way between two stated-precision numbers: its rounding would be ambiguous."""
    s = abs(v) * 10 ** decimals
    return abs(s - int(s) - 0.5) < 1e-7


def generate_item(task: str, seed: int, index: int, config: GenConfig = GenConfig(),
                  max_tries: int = 200) -> Item:
    """The ``index``-th item of ``task`` for ``seed`` under ``config``."""
    return sample_item(task, seed, index, config, max_tries)[0]


def sample_item(task: str, seed: int, index: int, config: GenConfig = GenConfig(),
                max_tries: int = 200) -> tuple[Item, BinarySCM, Problem]:
    """Like :func:`generate_item`, also returning the SCM and the problem (for tests and suites)."""
    spec = get_task(task)
    rng = _random.Random(f"{GENERATOR_VERSION}|{seed}|{spec.name}|{index}")
    lo, hi = config.nodes
    for attempt in range(max_tries):
        n = rng.randint(lo, hi)
        mode = rng.choice(("fake", "real", "random")) if config.names == "mix" else config.names
        dag = random_dag(n, config.density, rng)
        want_path = not (spec.allows_no_path and rng.random() < config.no_path_rate)
        pairs = [(x, y) for x in range(n) for y in range(n)
                 if _eligible(spec, dag, x, y) and spec.has_path(dag, x, y) == want_path]
        if not pairs:
            continue
        x, y = rng.choice(pairs)
        query = {"treatment": x, "outcome": y, **spec.pick_values(dag, x, y, rng)}
        if "bound" in query and config.bound != "random":
            query["bound"] = config.bound
        try:
            names, values, story = assign_names(n, mode, rng)
        except ValueError:
            continue  # no story long enough for this n: draw again
        scm = BinarySCM(dag, random_cpts(dag, rng, config.cpt_low, config.cpt_high), config.coupling,
                        validate=False)
        p = Problem(spec.name, dag, names, values, query)
        look = SCMLookup(scm, p.ids, config.decimals, state_complements=config.state_complements)
        try:
            d = spec.derive(p, look, exhaustive=False, decimals=config.decimals)
        except ZeroDivisionError:
            continue
        if len(look.stated) > config.max_given or _is_tie(d.value, config.decimals):
            continue
        stated = list(look.stated.values())
        if config.shuffle_given:
            rng.shuffle(stated)
        meta = {"generator": GENERATOR_VERSION, "seed": seed, "index": index, "attempt": attempt,
                "mode": mode.upper(), "story": story, "n_nodes": n, "density": config.density,
                "config": _config_dict(config)}
        return render_item(p, spec, d, stated, look.used, config.decimals, meta), scm, p
    raise RuntimeError(f"could not generate a {spec.name} item in {max_tries} tries with {config}; "
                       "widen --nodes or raise --density")


def generate(tasks: Sequence[str] = DEFAULT_TASKS, n: int = 10, seed: int = 0, config: GenConfig = GenConfig(),
             start: int = 0) -> Iterator[Item]:
    """``n`` items per task, interleaved task by task (item ``i`` of each task, then ``i + 1``)."""
    config.validate()
    specs = [get_task(t) for t in tasks]
    for i in range(start, start + n):
        for spec in specs:
            yield generate_item(spec.name, seed, i, config)


def _ensure_registered() -> None:
    from whygym.tasks import ate, cde, ett, nde, nie, pn, ps  # noqa: F401


_ensure_registered()
assert set(DEFAULT_TASKS) <= set(TASKS)
