"""Theorems that must hold for every binary SCM (hypothesis).

Expected values come from the engine's effect functions (checked against brute force in
test_counterfactual.py) and from observational formulas evaluated on an independent joint
(:class:`scm_oracles.JointOracle`), never from the engine's probability code.
"""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scm_oracles import (JointOracle, ett_formula, hyp_settings, mediation_formula_nde, nx_descendants,
                         nx_mediators, random_cpts, random_graph, to_nx)
from whygym.scm.effects import (Bounds, effect_of_treatment_on_treated, natural_direct_effect,
                                natural_indirect_effect, pn_bounds, probability_of_necessity,
                                probability_of_sufficiency, ps_bounds, tian_pearl_bounds, total_effect)
from whygym.scm.graph import DAG, members
from whygym.scm.model import BinarySCM

SETTINGS = hyp_settings(30)


def _model(seed: int, coupling: str, n_min: int = 2, n_max: int = 6):
    rng = random.Random(seed)
    n = rng.randint(n_min, n_max)
    edges = random_graph(rng, n, rng.uniform(0.3, 0.9), max_indegree=3)
    cpts = random_cpts(rng, n, edges, ties=True)
    return rng, n, edges, cpts, BinarySCM(DAG(n, edges), cpts, coupling)


couplings = st.sampled_from(["comonotone", "independent"])
seeds = st.integers(0, 2**32 - 1)


# --------------------------------------------------------------------------- Tian-Pearl bounds


@SETTINGS
@given(seeds, couplings)
def test_pn_ps_inside_tian_pearl_bounds(seed, coupling):
    rng, n, edges, cpts, scm = _model(seed, coupling)
    jo = JointOracle(n, edges, cpts)
    for x, y in itertools.permutations(range(n), 2):
        do = {v: JointOracle(n, edges, cpts, {x: v}) for v in (0, 1)}
        for xv, yv in itertools.product((0, 1), repeat=2):
            pn, ps = probability_of_necessity(scm, x, y, xv, yv), probability_of_sufficiency(scm, x, y, xv, yv)
            bn, bs = pn_bounds(scm, x, y, xv, yv), ps_bounds(scm, x, y, xv, yv)
            assert pn in bn and ps in bs, (pn, bn, ps, bs)
            assert -1e-12 <= pn <= 1 + 1e-12 and -1e-12 <= ps <= 1 + 1e-12
            # the bounds are Tian & Pearl's formulas, evaluated here on the independent joint
            p_xy = jo.prob({x: xv, y: yv})
            p_xy_ = jo.prob({x: 1 - xv, y: 1 - yv})
            pn_lo = max(0.0, (jo.prob({y: yv}) - do[1 - xv].prob({y: yv})) / p_xy)
            pn_hi = min(1.0, (do[1 - xv].prob({y: 1 - yv}) - p_xy_) / p_xy)
            ps_lo = max(0.0, (do[xv].prob({y: yv}) - jo.prob({y: yv})) / p_xy_)
            ps_hi = min(1.0, (do[xv].prob({y: yv}) - p_xy) / p_xy_)
            assert bn.lower == pytest.approx(pn_lo, abs=1e-9) and bn.upper == pytest.approx(pn_hi, abs=1e-9)
            assert bs.lower == pytest.approx(ps_lo, abs=1e-9) and bs.upper == pytest.approx(ps_hi, abs=1e-9)
            assert bn.lower <= bn.upper + 1e-12 and bs.lower <= bs.upper + 1e-12


@hyp_settings(60)
@given(st.floats(0.05, 0.95), st.floats(0.02, 0.98), st.floats(0.02, 0.98))
def test_two_node_comonotone_attains_lower_bound(px, p0, p1):
    """X exogenous and, under comonotone coupling, Y monotone in X: PN and PS equal the Tian-Pearl
    lower bounds (the identified values under exogeneity + monotonicity)."""
    lo, hi = min(p0, p1), max(p0, p1)
    scm = BinarySCM(DAG(2, [(0, 1)]), [[px], [lo, hi]], "comonotone")
    assert probability_of_necessity(scm, 0, 1) == pytest.approx(pn_bounds(scm, 0, 1).lower, abs=1e-12)
    assert probability_of_sufficiency(scm, 0, 1) == pytest.approx(ps_bounds(scm, 0, 1).lower, abs=1e-12)
    # independent coupling: PN = 1 - p0 inside the bounds, strictly above the lower one unless hi = 1
    ind = BinarySCM(DAG(2, [(0, 1)]), [[px], [lo, hi]], "independent")
    assert probability_of_necessity(ind, 0, 1) in pn_bounds(ind, 0, 1)


def test_tian_pearl_bounds_literal_and_contains():
    b = tian_pearl_bounds(p_y=0.4, p_y_do_x=0.6, p_xy=0.3, p_x_y_cf=0.5)
    assert b == Bounds(lower=pytest.approx(0.4), upper=pytest.approx(0.6))
    assert 0.4 in b and 0.6 in b and 0.5 in b and 0.61 not in b and 0.39 not in b
    clipped = tian_pearl_bounds(p_y=0.9, p_y_do_x=0.1, p_xy=0.0, p_x_y_cf=0.05)
    assert clipped.lower == 0.0 and clipped.upper == 1.0


# --------------------------------------------------------------------------------- mediation


@SETTINGS
@given(seeds, couplings)
def test_total_effect_decomposes(seed, coupling):
    """TE_{a,b} = NDE_{a,b} - NIE_{b,a}: total_effect(x=b) = NDE(x=b) - NIE(x=1-b), exactly."""
    rng, n, edges, cpts, scm = _model(seed, coupling)
    for x, y in itertools.permutations(range(n), 2):
        for b, yv in itertools.product((0, 1), repeat=2):
            te = total_effect(scm, x, y, x_value=b, y_value=yv)
            nde = natural_direct_effect(scm, x, y, x_value=b, y_value=yv)
            nie = natural_indirect_effect(scm, x, y, x_value=1 - b, y_value=yv)
            assert abs(te - (nde - nie)) < 1e-12
            # swapping y and y' flips the sign of every effect
            assert abs(nde + natural_direct_effect(scm, x, y, x_value=b, y_value=1 - yv)) < 1e-12


@SETTINGS
@given(seeds, couplings)
def test_nde_nie_equal_mediation_formula(seed, coupling):
    """For every set from minimal_mediation_sets, and every other set is_mediation_set accepts,
    the covariate-adjusted mediation formula computed from observational conditionals gives the
    exact NDE (and NIE)."""
    rng, n, edges, cpts, scm = _model(seed, coupling, n_min=3, n_max=6)
    jo = JointOracle(n, edges, cpts)
    G = to_nx(n, edges)
    pairs = list(itertools.permutations(range(n), 2))
    mediated = [(x, y) for x, y in pairs if nx_mediators(G, x, y)]
    chosen = rng.sample(mediated, min(5, len(mediated))) + rng.sample(pairs, min(3, len(pairs)))
    for x, y in chosen:
        meds = sorted(nx_mediators(G, x, y))
        minimal = scm.dag.minimal_mediation_sets(x, y)
        universe = sorted(set(range(n)) - nx_descendants(G, {x}) - {y})
        accepted = [w for r in range(len(universe) + 1) for w in itertools.combinations(universe, r)
                    if scm.dag.is_mediation_set(x, y, sum(1 << i for i in w))]
        assert {frozenset(members(w)) for w in minimal} <= {frozenset(w) for w in accepted}
        if not minimal:
            assert not accepted
            assert y in scm.dag.parents[x]  # Y -> X: no covariate set blocks X <- Y
            continue
        to_check = {tuple(members(w)) for w in minimal} | set(accepted[:6])
        for w in sorted(to_check):
            for xv, yv in itertools.product((0, 1), repeat=2):
                nde = natural_direct_effect(scm, x, y, x_value=xv, y_value=yv)
                assert abs(mediation_formula_nde(jo, x, xv, y, yv, meds, w) - nde) < 1e-9, (x, y, w)
                # NIE(x) = sum_{m,w} P(y|x',m,w) [P(m|x,w) - P(m|x',w)] P(w)
                nie_f = 0.0
                for wa in _assign(w):
                    for ma in _assign(meds):
                        nie_f += (jo.prob({y: yv}, {x: 1 - xv, **ma, **wa})
                                  * (jo.prob(ma, {x: xv, **wa}) - jo.prob(ma, {x: 1 - xv, **wa})) * jo.prob(wa))
                nie = natural_indirect_effect(scm, x, y, x_value=xv, y_value=yv)
                assert abs(nie_f - nie) < 1e-9, (x, y, w)


def _assign(nodes):
    nodes = sorted(nodes)
    for vals in itertools.product((0, 1), repeat=len(nodes)):
        yield dict(zip(nodes, vals))


# ------------------------------------------------------------------------------------- ETT


@SETTINGS
@given(seeds, couplings)
def test_ett_equals_calm_estimand_with_backdoor_set(seed, coupling):
    """ETT = P(y|x) - sum_z P(y|x',z) P(z|x) for any minimal back-door set z (Shpitser & Pearl)."""
    rng, n, edges, cpts, scm = _model(seed, coupling, n_max=7)
    jo = JointOracle(n, edges, cpts)
    for x, y in itertools.permutations(range(n), 2):
        sets = scm.dag.minimal_backdoor_sets(1 << x, 1 << y)
        if not sets:
            assert y in scm.dag.parents[x]
            continue
        for zmask in sets[:3]:
            zs = members(zmask)
            for xv, yv in itertools.product((0, 1), repeat=2):
                ett = effect_of_treatment_on_treated(scm, x, y, x_value=xv, y_value=yv)
                assert abs(ett_formula(jo, x, xv, y, yv, zs) - ett) < 1e-9, (x, y, zs)
        if x not in nx.ancestors(to_nx(n, edges), y):
            for xv in (0, 1):  # no causal path: no effect on the treated
                assert abs(effect_of_treatment_on_treated(scm, x, y, x_value=xv)) < 1e-12



@SETTINGS
@given(seeds)
def test_identified_effects_do_not_depend_on_coupling(seed):
    """ETT, NDE and NIE are identified in a Markovian model: both couplings give the same value.
    (PN and PS are not: the two-node closed forms in test_counterfactual.py differ.)"""
    rng, n, edges, cpts, a = _model(seed, "comonotone")
    b = BinarySCM(DAG(n, edges), cpts, "independent")
    for x, y in itertools.permutations(range(n), 2):
        for xv in (0, 1):
            for f in (effect_of_treatment_on_treated, natural_direct_effect, natural_indirect_effect):
                assert abs(f(a, x, y, x_value=xv) - f(b, x, y, x_value=xv)) < 1e-12
