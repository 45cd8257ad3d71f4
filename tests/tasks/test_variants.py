"""do() on prompt components: each arm changes exactly its component, the gold stays."""

from __future__ import annotations

import itertools
import re

import pytest

from whygym.benchmarks.audit import audit_item
from whygym.tasks import DEFAULT_TASKS, GenConfig, generate
from whygym.tasks.variants import COMPONENTS, intervene
from whygym.tasks.vocab import STORIES


@pytest.fixture(scope="module")
def base():
    return list(generate(DEFAULT_TASKS, n=2, seed=6, config=GenConfig(names="real", no_path_rate=0.0)))


def test_identity_arm_reproduces_the_prompt(base):
    for it in base:
        assert intervene(it).prompt == it.prompt


def test_each_component_changes_only_its_part(base):
    for it in base:
        names = list(it.graph["names"].values())
        fake = intervene(it, names="fake")
        assert not any(n in fake.prompt for n in names if len(n) > 3)
        assert fake.gold == it.gold and audit_item(fake).status == "agree"
        anti = intervene(it, names="anticommonsense")
        story = [v[0] for v in STORIES[it.meta["story"]]]
        order = [story.index(anti.graph["names"][k]) for k in anti.graph["nodes"]]
        assert order == sorted(order, reverse=True)
        assert audit_item(anti).status == "agree"
        w = intervene(it, data="withheld")
        assert w.prompt.split("\n")[1] == "" and not re.search(r"\d\.\d{4}", w.prompt.split("Provide")[0])
        pert = intervene(it, data="perturbed")
        assert set(pert.given) == set(it.given) and pert.given != it.given
        g = intervene(it, graph="withheld")
        assert "has a direct effect on" not in g.prompt
        r = intervene(it, graph="reversed")
        u, v = it.graph["edges"][0]
        nm = it.graph["names"]
        assert f"{nm[v][:1].upper() + nm[v][1:]} has a direct effect on {nm[u]}." in r.prompt
        assert "Instruction:" not in intervene(it, instruction="omitted").prompt


def test_full_factorial_gives_distinct_prompts(base):
    it = base[0]
    arms = list(itertools.product(*COMPONENTS.values()))
    prompts = {intervene(it, **dict(zip(COMPONENTS, a))).prompt for a in arms}
    assert len(prompts) == len(arms)
    with pytest.raises(ValueError, match="unknown data level"):
        intervene(it, data="gone")
