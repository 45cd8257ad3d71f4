"""do() on the parts of a prompt: re-render one item with its knowledge, data, structure or
instruction set to another level, everything else held fixed (a paired design).

Components and levels:

``names``        ``real`` (as generated) | ``fake`` (meaningless words, values low/high) |
                 ``anticommonsense`` (the same story's variables in reversed causal order)
``data``         ``present`` | ``withheld`` (no numbers stated) | ``perturbed`` (every stated number
                 replaced by a random one)
``graph``        ``present`` | ``withheld`` (no graph sentences) | ``reversed`` (every edge stated
                 backwards)
``instruction``  ``present`` | ``omitted``

The gold of every variant is the gold of the base item: attribution asks how much each component
drives *correct* answers, so the reference answer is the one the full, true information gives.
"""

from __future__ import annotations

import hashlib
import json
import random as _random
from dataclasses import replace

from whygym.items import Item
from whygym.tasks.core import Problem, parse_term_key, problem_from_item
from whygym.tasks.generate import GIVEN_INFO_PREFIX, basic_text
from whygym.tasks.spec import get_task
from whygym.tasks.vocab import STORIES, assign_names

__all__ = ["COMPONENTS", "intervene", "problem_of"]

COMPONENTS: dict[str, tuple[str, ...]] = {
    "names": ("real", "fake", "anticommonsense"),
    "data": ("present", "withheld", "perturbed"),
    "graph": ("present", "withheld", "reversed"),
    "instruction": ("present", "omitted"),
}


def problem_of(item: Item) -> Problem:
    """The problem an item states, with its names and value words (:func:`whygym.tasks.core.problem_from_item`)."""
    return problem_from_item(item)


def _rng(item: Item, salt: str) -> _random.Random:
    return _random.Random(hashlib.sha1(f"{item.id}|{salt}".encode()).hexdigest())


def _renamed(p: Problem, item: Item, level: str) -> Problem:
    if level == "real":
        return p
    rng = _rng(item, f"names:{level}")
    if level == "fake":
        names, values, _ = assign_names(p.dag.n, "fake", rng)
        return replace(p, names=names, values=values)
    if level == "anticommonsense":
        story = item.meta.get("story")
        if not story or story not in STORIES:
            raise ValueError(f"item {item.id} has no real-world story (generate the base items with names='real')")
        var = {v[0]: v for v in STORIES[story]}
        chosen = [var[n] for n in p.names]  # the item's variables, in their causal order
        rev = chosen[::-1]
        return replace(p, names=[v[0] for v in rev], values=[(v[1], v[2]) for v in rev])
    raise ValueError(f"unknown names level {level!r}; choose one of {COMPONENTS['names']}")


def intervene(item: Item, names: str = "real", data: str = "present", graph: str = "present",
              instruction: str = "present") -> Item:
    """The item re-rendered with each component set to the given level (a generated base item)."""
    for comp, level in (("names", names), ("data", data), ("graph", graph), ("instruction", instruction)):
        if level not in COMPONENTS[comp]:
            raise ValueError(f"unknown {comp} level {level!r}; choose one of {COMPONENTS[comp]}")
    if not item.graph.get("values"):
        raise ValueError(f"item {item.id} carries no value words; component interventions need generated items")
    spec = get_task(item.task)
    p = _renamed(problem_of(item), item, names)
    decimals = int(item.meta.get("config", {}).get("decimals", 4))
    stated = [(parse_term_key(k, p.ids), v) for k, v in item.given.items()]
    if data == "perturbed":
        rng = _rng(item, "data")
        stated = [(t, round(rng.uniform(0.02, 0.98), decimals)) for t, _ in stated]
    text = basic_text(p, spec, stated, decimals)
    if data == "withheld":
        text = replace(text, data_info="")
    if graph != "present":
        edges = p.dag.edges if graph == "withheld" else [(v, u) for u, v in p.dag.edges]
        sent = "" if graph == "withheld" else " ".join(
            f"{p.names[u][:1].upper() + p.names[u][1:]} has a direct effect on {p.names[v]}." for u, v in edges)
        text = replace(text, given_info=GIVEN_INFO_PREFIX + sent if sent else GIVEN_INFO_PREFIX.rstrip(": ") + ".")
    if instruction == "omitted":
        text = replace(text, instruction=None)
    arm = {"names": names, "data": data, "graph": graph, "instruction": instruction}
    prompt = text.prompt()
    meta = {**item.meta, "arm": arm, "base_id": item.id}
    meta.pop("calm", None)
    new_id = f"{item.id}-" + hashlib.sha1(json.dumps(arm, sort_keys=True).encode()).hexdigest()[:6]
    return replace(item, id=new_id, prompt=prompt, graph={**item.graph, "names": dict(zip(p.ids, p.names)),
                                                          "values": {i: list(v) for i, v in zip(p.ids, p.values)}},
                   given={t.text(p.ids): v for t, v in stated}, meta=meta)

