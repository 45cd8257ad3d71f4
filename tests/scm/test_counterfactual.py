"""Counterfactual quantities of ``BinarySCM`` against a brute-force enumeration of units.

Oracle: :class:`scm_oracles.UnitOracle` enumerates every exogenous response function of every node
(comonotone: one per interval between sorted thresholds; independent: all ``2^(2^k)`` functions),
takes the product over nodes, and evaluates each unit deterministically in every world. Nested
counterfactuals ``Y_{x, M_{x'}}`` are evaluated per unit by holding the mediators (nodes on directed
paths X -> Y, from networkx) at their values in the world ``do(X = x')``.
"""

from __future__ import annotations

import itertools
import random

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scm_oracles import (JointOracle, UnitOracle, hyp_settings, mediation_formula_nde, nx_mediators, random_cpts,
                         random_graph)
from whygym.scm.effects import (effect_of_treatment_on_treated, natural_direct_effect, natural_indirect_effect,
                                probability_of_necessity, probability_of_sufficiency, total_effect)
from whygym.scm.graph import DAG
from whygym.scm.model import BinarySCM

TOL = 1e-9
COUPLINGS = ["comonotone", "independent"]


def build(n, edges, cpts, coupling):
    return BinarySCM(DAG(n, edges), cpts, coupling), UnitOracle(n, edges, cpts, coupling)


# ------------------------------------------------------------------------------- the oracle itself


@pytest.mark.parametrize("coupling", COUPLINGS)
def test_oracle_sanity(coupling):
    """Unit weights sum to one; every node's response is Bernoulli(p_i(c)) at each configuration."""
    rng = random.Random(3)
    n = 5
    edges = random_graph(rng, n, 0.6, max_indegree=2)
    cpts = random_cpts(rng, n, edges, ties=True)
    o = UnitOracle(n, edges, cpts, coupling)
    assert abs(o.weight.sum() - 1.0) < 1e-12
    for i in range(n):
        for c in range(len(cpts[i])):
            p1 = float(o.weight[o.resp[i][o.unit_fn[i], c] == 1].sum())
            assert abs(p1 - cpts[i][c]) < 1e-12


def test_oracle_comonotone_response_functions_hand():
    # one node with two parent configs (via one parent): thresholds .3 and .7
    o = UnitOracle(2, [(0, 1)], [np.array([0.5]), np.array([0.3, 0.7])], "comonotone")
    # U in (0,.3): (1,1); (.3,.7): (0,1); (.7,1): (0,0)
    assert [tuple(r) for r in o.resp[1]] == [(1, 1), (0, 1), (0, 0)]
    w1 = {}
    for u in range(o.size):
        key = tuple(o.resp[1][o.unit_fn[1, u]])
        w1[key] = w1.get(key, 0.0) + o.weight[u]
    assert w1 == pytest.approx({(1, 1): 0.3, (0, 1): 0.4, (0, 0): 0.3})


# ------------------------------------------------------------------------------- hand-derived


@pytest.mark.parametrize("p0,p1", [(0.2, 0.9), (0.6, 0.35), (0.5, 0.5), (0.0, 1.0)])
@pytest.mark.parametrize("px", [0.3, 0.75])
def test_two_node_pn_ps_closed_forms(px, p0, p1):
    """X -> Y with P(Y=1|X=x) = p_x. X is independent of U_Y, so with
    q = P(Y_1 = 1, Y_0 = 0): PN(1,1) = q / p1 and PS(1,1) = q / (1 - p0), where
    comonotone: q = max(0, p1 - p0) and independent: q = p1 (1 - p0). Mirror: with
    r = P(Y_0 = 1, Y_1 = 0), PN(x=0, y=1) = r / p0 and PS(x=0, y=1) = r / (1 - p1)."""
    for coupling in COUPLINGS:
        scm = BinarySCM(DAG(2, [(0, 1)]), [np.array([px]), np.array([p0, p1])], coupling)
        if coupling == "comonotone":
            q, r = max(0.0, p1 - p0), max(0.0, p0 - p1)
        else:
            q, r = p1 * (1 - p0), p0 * (1 - p1)
        if p1 > 0:
            assert probability_of_necessity(scm, 0, 1) == pytest.approx(q / p1, abs=1e-12)
        if p0 < 1:
            assert probability_of_sufficiency(scm, 0, 1) == pytest.approx(q / (1 - p0), abs=1e-12)
        if p0 > 0:
            assert probability_of_necessity(scm, 0, 1, x_value=0) == pytest.approx(r / p0, abs=1e-12)
        if p1 < 1:
            assert probability_of_sufficiency(scm, 0, 1, x_value=0) == pytest.approx(r / (1 - p1), abs=1e-12)
        # ETT has no confounding to correct here: p1 - p0 for the treated, p0 - p1 for the untreated
        assert effect_of_treatment_on_treated(scm, 0, 1) == pytest.approx(p1 - p0, abs=1e-12)
        assert effect_of_treatment_on_treated(scm, 0, 1, x_value=0) == pytest.approx(p0 - p1, abs=1e-12)
        # no mediators: NDE = TE, NIE = 0
        assert natural_direct_effect(scm, 0, 1) == pytest.approx(p1 - p0, abs=1e-12)
        assert natural_indirect_effect(scm, 0, 1) == pytest.approx(0.0, abs=1e-12)


def test_two_node_pn_independent_closed_form_values():
    # literal numbers: p0 = .2, p1 = .9
    for coupling, pn, ps in [("comonotone", 0.7 / 0.9, 0.7 / 0.8), ("independent", 0.8, 0.9)]:
        scm = BinarySCM(DAG(2, [(0, 1)]), [np.array([0.3]), np.array([0.2, 0.9])], coupling)
        assert probability_of_necessity(scm, 0, 1) == pytest.approx(pn, abs=1e-12)
        assert probability_of_sufficiency(scm, 0, 1) == pytest.approx(ps, abs=1e-12)
        # PN of (x=1, y=0): P(Y_0 = 1 | X=1, Y=0) = P(Y_1=0, Y_0=1) / (1 - p1)
        pn10 = 0.0 if coupling == "comonotone" else (0.1 * 0.2) / 0.1
        assert probability_of_necessity(scm, 0, 1, y_value=0) == pytest.approx(pn10, abs=1e-12)


def test_confounded_ett_hand_case():
    # Z -> X, Z -> Y, X -> Y (Z=0, X=1, Y=2); P(z)=.4, P(x|z)=[.2,.7], P(y|z,x) with c = z + 2x.
    # P(z=1|x=1) = .28/.40 = .7; P(y|x=1) = .3*.6 + .7*.9 = .81;
    # P(Y_0 = 1 | X = 1) = sum_z P(y|x=0,z) P(z|x=1) = .3*.1 + .7*.5 = .38  ->  ETT = .43
    for coupling in COUPLINGS:
        scm = BinarySCM(DAG(3, [(0, 1), (0, 2), (1, 2)]),
                        [np.array([0.4]), np.array([0.2, 0.7]), np.array([0.1, 0.5, 0.6, 0.9])], coupling)
        assert effect_of_treatment_on_treated(scm, 1, 2) == pytest.approx(0.43, abs=1e-12)
        assert scm.counterfactual({2: 1}, do={1: 0}, factual={1: 1}) == pytest.approx(0.38, abs=1e-12)


def test_mediation_hand_case():
    # X -> M -> Y, X -> Y (X=0, M=1, Y=2); P(x)=.5, P(m|x)=[.3,.8], P(y|x,m) with c = x + 2m:
    # P(y|x0,m0)=.1, P(y|x1,m0)=.4, P(y|x0,m1)=.5, P(y|x1,m1)=.7.
    # NDE(x=1) = (.4-.1)*.7 + (.7-.5)*.3 = .27; NIE(x=1) = .1*(.2-.7) + .5*(.8-.3) = .20;
    # TE(x=1) = (.4*.2 + .7*.8) - (.1*.7 + .5*.3) = .42; NIE(x=0) = (.4*.7 + .7*.3) - .64 = -.15.
    for coupling in COUPLINGS:
        scm = BinarySCM(DAG(3, [(0, 1), (0, 2), (1, 2)]),
                        [np.array([0.5]), np.array([0.3, 0.8]), np.array([0.1, 0.4, 0.5, 0.7])], coupling)
        assert natural_direct_effect(scm, 0, 2) == pytest.approx(0.27, abs=1e-12)
        assert natural_indirect_effect(scm, 0, 2) == pytest.approx(0.20, abs=1e-12)
        assert total_effect(scm, 0, 2) == pytest.approx(0.42, abs=1e-12)
        assert natural_indirect_effect(scm, 0, 2, x_value=0) == pytest.approx(-0.15, abs=1e-12)
        assert scm.nested_mean(2, 1, 0, x_direct=1, x_mediators=0) == pytest.approx(0.49, abs=1e-12)


def test_counterfactual_zero_probability_factual_raises():
    scm = BinarySCM(DAG(2, [(0, 1)]), [np.array([0.0]), np.array([0.2, 0.9])])
    with pytest.raises(ZeroDivisionError):
        scm.counterfactual({1: 1}, do={0: 0}, factual={0: 1})


# ------------------------------------------------------------------------------- random models


def _random_model(seed: int, coupling: str, extreme: bool = False):
    rng = random.Random(seed)
    n = rng.randint(2, 6 if coupling == "comonotone" else 5)
    # comonotone units grow as prod(2^k + 1), independent ones as prod(2^(2^k)): keep k <= 3 / 2
    edges = random_graph(rng, n, rng.uniform(0.3, 0.9), max_indegree=3 if coupling == "comonotone" else 2)
    cpts = random_cpts(rng, n, edges, ties=True)
    if extreme:  # a few exact 0/1 entries: deterministic responses, possibly null factual events
        for c in cpts:
            for k in range(len(c)):
                if rng.random() < 0.2:
                    c[k] = float(rng.randint(0, 1))
    scm, o = build(n, edges, cpts, coupling)
    return rng, n, edges, cpts, scm, o


def _same_or_both_raise(f_engine, f_oracle):
    try:
        want = f_oracle()
    except ZeroDivisionError:
        with pytest.raises(ZeroDivisionError):
            f_engine()
        return
    got = f_engine()
    assert abs(got - want) < TOL, (got, want)


SETTINGS = hyp_settings(40)

EFFECTS = [
    ("ETT", effect_of_treatment_on_treated, UnitOracle.ett),
    ("NDE", natural_direct_effect, UnitOracle.nde),
    ("NIE", natural_indirect_effect, UnitOracle.nie),
    ("PN", probability_of_necessity, UnitOracle.pn),
    ("PS", probability_of_sufficiency, UnitOracle.ps),
]


@pytest.mark.parametrize("coupling", COUPLINGS)
@hyp_settings(25)
@given(seed=st.integers(0, 2**32 - 1), extreme=st.booleans())
def test_effects_match_brute_force(coupling, seed, extreme):
    rng, n, edges, cpts, scm, o = _random_model(seed, coupling, extreme)
    for x, y in itertools.permutations(range(n), 2):
        for xv in (0, 1):
            for yv in (0, 1):
                for _, f_engine, f_oracle in EFFECTS:
                    _same_or_both_raise(lambda: f_engine(scm, x, y, x_value=xv, y_value=yv),
                                        lambda: f_oracle(o, x, y, xv, yv))
                # both forms of the nested counterfactual agree, and match nested_mean
                for xd in (0, 1):
                    want = o.nested(y, yv, x, xd, 1 - xd)
                    assert abs(o.nested_edge(y, yv, x, xd, 1 - xd) - want) < TOL
                    assert abs(scm.nested_mean(y, yv, x, x_direct=xd, x_mediators=1 - xd) - want) < TOL
                    same = o.nested(y, yv, x, xd, xd)  # no switch: plain Y_x
                    assert abs(scm.nested_mean(y, yv, x, x_direct=xd, x_mediators=xd) - same) < TOL


@pytest.mark.parametrize("coupling", COUPLINGS)
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), extreme=st.booleans())
def test_general_counterfactual_queries_match_brute_force(coupling, seed, extreme):
    """``P(cf_event in world do | factual)`` for random multi-node do, events and evidence,
    including events on intervened nodes and on non-descendants of the intervention."""
    rng, n, edges, cpts, scm, o = _random_model(seed, coupling, extreme)
    for _ in range(8):
        do = {k: rng.randint(0, 1) for k in rng.sample(range(n), rng.randint(1, min(2, n)))}
        cf_event = {k: rng.randint(0, 1) for k in rng.sample(range(n), rng.randint(1, min(3, n)))}
        factual = {k: rng.randint(0, 1) for k in rng.sample(range(n), rng.randint(0, min(3, n)))}
        if any(k in do and do[k] != v for k, v in cf_event.items()):
            # an event that contradicts the intervention is answered 0.0 before P(factual) is
            # looked at (as prob() answers contradictory event/given with 0.0)
            assert scm.counterfactual(cf_event, do=do, factual=factual) == 0.0
            continue
        _same_or_both_raise(lambda: scm.counterfactual(cf_event, do=do, factual=factual),
                            lambda: o.counterfactual(cf_event, do, factual))


@pytest.mark.parametrize("coupling", COUPLINGS)
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_twin_joint_matches_brute_force(coupling, seed):
    """The whole twin-network joint: the distribution of (factual world, counterfactual copies)."""
    rng, n, edges, cpts, scm, o = _random_model(seed, coupling)
    do = {k: rng.randint(0, 1) for k in rng.sample(range(n), rng.randint(1, min(2, n)))}
    p, cf_axis = scm.twin_joint(do)
    g = o.g
    desc = set(do) | {d for k in do for d in nx.descendants(g, k)}
    assert set(cf_axis) == desc - set(do)
    assert sorted(cf_axis.values()) == list(range(n, n + len(cf_axis)))
    fw, cw = o.world(), o.world(do)
    state = np.zeros(o.size, dtype=np.int64)
    for i in range(n):
        state |= fw[i] << i
    for i, ax in cf_axis.items():
        state |= cw[i] << ax
    expected = np.bincount(state, weights=o.weight, minlength=1 << (n + len(cf_axis)))
    np.testing.assert_allclose(p, expected, atol=TOL, rtol=0)


@pytest.mark.parametrize("coupling", COUPLINGS)
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_mediation_formula_matches_brute_force_nde(coupling, seed):
    """Oracle against oracle: with covariates from ``minimal_mediation_sets``, the mediation formula
    on the observational joint equals the NDE counted unit by unit (no engine arithmetic involved)."""
    rng, n, edges, cpts, scm, o = _random_model(seed, coupling)
    jo = JointOracle(n, edges, cpts)
    for x, y in itertools.permutations(range(n), 2):
        meds = nx_mediators(o.g, x, y)
        if not meds:
            continue
        for wmask in scm.dag.minimal_mediation_sets(x, y)[:2]:
            ws = [i for i in range(n) if wmask >> i & 1]
            for xv in (0, 1):
                assert abs(mediation_formula_nde(jo, x, xv, y, 1, meds, ws) - o.nde(x, y, xv, 1)) < TOL
