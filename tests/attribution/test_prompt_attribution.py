"""Prompt-component attribution recovers what a scripted model depends on by construction."""

import json

import numpy as np
import pytest

from whygym.attribution import (Design, arm_tuples, attribution_scores, base_items, build_arms, contrast_weights,
                                prompt_attribution, scripted_backend, visible_components)
from whygym.tasks.variants import COMPONENTS

ALL = ["names", "data", "graph", "instruction"]


@pytest.fixture(scope="module")
def items():
    return base_items(["ATE", "NDE", "PN"], 5, 0)


def test_arms_show_exactly_their_components(items):
    design = Design(ALL)
    for arm, its in build_arms(items, design).items():
        want = {c for c, bit in zip(ALL, arm) if bit}
        assert all(visible_components(it.prompt) == want for it in its), arm


def test_arms_are_paired_and_keep_gold(items):
    arms = build_arms(items, Design(["names", "data"]))
    for its in arms.values():
        assert [it.meta["base_id"] for it in its] == [it.id for it in items]
        assert [it.gold for it in its] == [it.gold for it in items]
    assert len({it.prompt for its in arms.values() for it in its}) == 4 * len(items)


def test_design_validates_levels():
    with pytest.raises(ValueError):
        Design(["names", "colour"])
    with pytest.raises(ValueError):
        Design(["names"], off={"names": "real"})
    assert Design(["data"], off={"data": "perturbed"}).levels((0,))["data"] == "perturbed"


def test_contrast_weights_are_standard():
    comps = ["a", "b", "c"]
    w = contrast_weights(comps, arm_tuples(3))
    for kind in ("main", "interaction"):
        for v in w[kind].values():
            assert abs(v.sum()) < 1e-12 and np.allclose(np.abs(v), 0.25)
    # main effect of a = mean(a on) - mean(a off)
    y = np.arange(8, dtype=float)[None, :]
    s = attribution_scores(y, comps, arm_tuples(3), n_boot=50)
    on = [j for j, a in enumerate(arm_tuples(3)) if a[0]]
    off = [j for j, a in enumerate(arm_tuples(3)) if not a[0]]
    assert s["main"]["a"]["point"] == pytest.approx(y[0, on].mean() - y[0, off].mean())
    assert s["conditional"]["c"]["point"] == pytest.approx(y[0, 7] - y[0, 6])
    assert s["marginal"]["a"]["point"] == pytest.approx(y[0, 4] - y[0, 0])


@pytest.mark.parametrize("needs,expect", [
    (["names"], {"CAK": 1, "CAD": 0, "MAK": 1, "MAD": 0, "int": 0}),
    (["data"], {"CAK": 0, "CAD": 1, "MAK": 0, "MAD": 1, "int": 0}),
    (["names", "data"], {"CAK": 1, "CAD": 1, "MAK": 0, "MAD": 0, "int": 0.5}),
    ([], {"CAK": 0, "CAD": 0, "MAK": 0, "MAD": 0, "int": 0}),
])
def test_scripted_model_dependence_is_recovered(items, tmp_path, needs, expect):
    design = Design(["names", "data"])
    arms = build_arms(items, design)
    be = scripted_backend([it for its in arms.values() for it in its], needs)
    doc = prompt_attribution(items, design, be, out_dir=tmp_path, progress=False, n_boot=300, plot=False)
    for metric, unit in (("correct", 1.0), ("loglik", 10.0)):
        st = doc["results"][metric]["study"]
        for k in ("CAK", "CAD", "MAK", "MAD"):
            ci = st[k]
            assert ci["low"] - 1e-9 <= expect[k] * unit <= ci["high"] + 1e-9, (metric, k, ci)
            assert ci["point"] == pytest.approx(expect[k] * unit)
        inter = doc["results"][metric]["interaction"]["names*data"]
        assert inter["point"] == pytest.approx(expect["int"] * unit)
    assert json.loads((tmp_path / "attribution.json").read_text())["components"] == ["names", "data"]


def test_four_factor_instruction_only_model(items, tmp_path):
    design = Design(ALL)
    arms = build_arms(items, design)
    be = scripted_backend([it for its in arms.values() for it in its], ["instruction"])
    doc = prompt_attribution(items, design, be, out_dir=tmp_path, progress=False, n_boot=200, use_harness=False)
    res = doc["results"]["correct"]
    assert doc["evaluation"]["path"] == "CachedBackend+score"
    for c in ALL:
        want = 1.0 if c == "instruction" else 0.0
        assert res["conditional"][c]["point"] == pytest.approx(want)
        assert res["marginal"][c]["point"] == pytest.approx(want)
        assert res["main"][c]["point"] == pytest.approx(want)
    assert all(abs(v["point"]) < 1e-12 for v in res["interaction"].values())
    assert all((tmp_path / f"attribution_{m}.png").stat().st_size > 1000 for m in ("correct", "loglik"))


def test_noisy_scripted_model_intervals_cover(tmp_path):
    """A model right on names-present prompts 80% of the time and 20% otherwise (decided per item)."""
    import hashlib

    items = base_items(["ATE", "NDE"], 20, 3)
    design = Design(["names", "data"])
    arms = build_arms(items, design)
    table = {it.prompt: it for its in arms.values() for it in its}
    from whygym.attribution.scripted import wrong_answer
    from whygym.models import MockBackend

    def respond(prompt):
        it = table[prompt]
        u = int(hashlib.sha1(prompt.encode()).hexdigest(), 16) % 1000 / 1000
        p = 0.8 if "names" in visible_components(prompt) else 0.2
        return it.answer if u < p else wrong_answer(it.answer)

    doc = prompt_attribution(items, design, MockBackend(respond), out_dir=tmp_path, progress=False,
                             n_boot=500, plot=False, loglik=False)
    st = doc["results"]["correct"]["study"]
    # true values: CAK = MAK = 0.8 - 0.2 = 0.6, CAD = MAD = 0 (n = 40 items, so the intervals are wide)
    for k, true in (("CAK", 0.6), ("MAK", 0.6), ("CAD", 0.0), ("MAD", 0.0)):
        assert st[k]["low"] <= true <= st[k]["high"], (k, st[k])
    assert st["CAK"]["low"] > 0.2


def test_components_cover_variants_levels():
    from whygym.attribution.prompts import OFF_LEVELS, ON_LEVELS

    for c in COMPONENTS:
        assert ON_LEVELS[c] in COMPONENTS[c] and OFF_LEVELS[c] in COMPONENTS[c]


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(-5, 5), min_size=4, max_size=4), min_size=1, max_size=6))
def test_two_factor_identities(rows):
    """For k = 2: main = (cond + marg) / 2 and interaction = (cond - marg) / 2, per component."""
    y = np.array(rows)
    s = attribution_scores(y, ["names", "data"], arm_tuples(2), n_boot=20)
    for c in ("names", "data"):
        cond, marg = s["conditional"][c]["point"], s["marginal"][c]["point"]
        assert s["main"][c]["point"] == pytest.approx((cond + marg) / 2, abs=1e-9)
        assert s["interaction"]["names*data"]["point"] == pytest.approx((cond - marg) / 2, abs=1e-9)
