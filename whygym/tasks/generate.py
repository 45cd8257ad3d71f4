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
from typing import Callable, Iterator, Sequence

from whygym import __version__
from whygym.items import LACK_CONDITION, PROB_TASKS, Item
from whygym.scm.graph import random_dag
from whygym.scm.model import BinarySCM
from whygym.scm.sampling import random_cpts
from whygym.tasks.core import (ANSWER_FORMAT_PROB, ANSWER_FORMAT_YESNO, Derivation, Problem, SCMLookup, Term,
                               fill_read_values, fmt4, join_and)
from whygym.tasks.spec import TASKS, TaskSpec, get_task
from whygym.tasks.vocab import NAME_MODES, assign_names

__all__ = ["GenConfig", "GENERATOR_VERSION", "generate", "generate_item", "render_item", "sample_item", "draw_problem", "Draw", "Text",
           "basic_text", "item_rng", "DEFAULT_TASKS"]

GENERATOR_VERSION = f"whygym-gen/{__version__}"
DEFAULT_TASKS = PROB_TASKS
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


@dataclass
class Text:
    """The parts of a prompt; a suite may replace any of them (``instruction=None`` omits the line)."""

    given_info: str
    data_info: str
    instruction: str | None
    question: str
    fmt: str
    suffix: str = ""

    def prompt(self) -> str:
        ins = f"Instruction: {self.instruction}\n" if self.instruction is not None else ""
        return (f"Input Info: {self.given_info}\n{self.data_info}\n{ins}Question: {self.question}\n{self.fmt}"
                + self.suffix)


def basic_text(p: Problem, spec: TaskSpec, stated: Sequence[tuple[Term, float]], decimals: int) -> Text:
    """CaLM's basic prompt (byte-compatible with CauGym's ``base_dataset.json``)."""
    return Text(given_info=GIVEN_INFO_PREFIX + graph_sentences(p),
                data_info="".join(term_sentence(p, t, v, decimals) + " " for t, v in stated),
                instruction=spec.instruction(p), question=spec.question(p),
                fmt=ANSWER_FORMAT_YESNO if spec.yesno else ANSWER_FORMAT_PROB)


def render_item(p: Problem, spec: TaskSpec, d: Derivation, stated: Sequence[tuple[Term, float]],
                used: Sequence[tuple[Term, float]], decimals: int, meta: dict, text: Text | None = None,
                gold: dict | None = None) -> Item:
    """Assemble the item: prompt (CaLM basic format unless ``text`` is given), canonical answer, gold,
    reason, structure. ``gold`` overrides the derived gold (e.g. ``LACK_CONDITION``)."""
    text = text or basic_text(p, spec, stated, decimals)
    prompt = text.prompt()
    prob_txt = fmt4(d.value, 4)  # the prompt asks for four decimal places whatever the stated precision
    if gold is not None and gold.get("label") == LACK_CONDITION:
        answer = LACK_CONDITION
    elif spec.yesno:
        gold = gold or {"prob": d.value, "label": d.label}
        answer = json.dumps({"ANSWER": "Yes" if gold["label"] == "yes" else "No", "PROB": prob_txt})
    else:
        gold = gold or {"prob": d.value}
        answer = json.dumps({"PROB": prob_txt})
    steps = fill_read_values(dict(d.steps), used, p.ids, decimals)
    n, m = p.dag.n, len(p.dag.edges)
    meta = dict(meta)
    meta["calm"] = {
        "graph": f"Given a causal graph with {n} nodes {', '.join(p.ids)}, and {m} edges "
                 f"{', '.join(f'{p.L(u)}->{p.L(v)}' for u, v in p.dag.edges)}.",
        "real_world_meaning": "The real world meaning of each node is defined as follows: "
                              + join_and([f"{p.L(i)} represents {p.names[i]}" for i in range(n)]) + ". ",
        "given_info": text.given_info, "data_info": text.data_info,
        "data_info_math": "".join(f"{t.text(p.ids)}={fmt4(v, decimals)}; " for t, v in stated),
        "Instruction": text.instruction, "Question": text.question,
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
    rng = item_rng(spec, seed, index)
    draw = draw_problem(spec, rng, config, max_tries)
    stated = list(draw.look.stated.values())
    if config.shuffle_given:
        rng.shuffle(stated)
    item = render_item(draw.problem, spec, draw.derivation, stated, draw.look.used, config.decimals,
                       draw.meta(seed, index, config))
    return item, draw.scm, draw.problem


def item_rng(spec: TaskSpec, seed: int, index: int, salt: str = "") -> _random.Random:
    return _random.Random(f"{GENERATOR_VERSION}|{seed}|{spec.name}|{index}{salt}")


@dataclass
class Draw:
    """One accepted draw: the SCM, the problem, the generator's look-up (its ``stated`` numbers) and
    the derivation."""

    scm: BinarySCM
    problem: Problem
    look: SCMLookup
    derivation: Derivation
    mode: str
    story: str
    attempt: int

    def meta(self, seed: int, index: int, config: GenConfig) -> dict:
        return {"generator": GENERATOR_VERSION, "seed": seed, "index": index, "attempt": self.attempt,
                "mode": self.mode.upper(), "story": self.story, "n_nodes": self.problem.dag.n,
                "density": config.density, "config": _config_dict(config)}


def draw_problem(spec: TaskSpec, rng: _random.Random, config: GenConfig, max_tries: int = 200,
                 accept: Callable[[Draw], bool] | None = None, want_path: bool | None = None) -> Draw:
    """Draw SCMs and questions until one passes the checks (and ``accept``, if given)."""
    lo, hi = config.nodes
    for attempt in range(max_tries):
        n = rng.randint(lo, hi)
        mode = rng.choice(("fake", "real", "random")) if config.names == "mix" else config.names
        dag = random_dag(n, config.density, rng)
        path = want_path if want_path is not None else not (spec.allows_no_path and rng.random() < config.no_path_rate)
        pairs = [(x, y) for x in range(n) for y in range(n)
                 if _eligible(spec, dag, x, y) and spec.has_path(dag, x, y) == path]
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
        if len(look.stated) > config.max_given or _is_tie(d.value, 4):
            continue
        draw = Draw(scm, p, look, d, mode, story, attempt)
        if accept is not None and not accept(draw):
            continue
        return draw
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
