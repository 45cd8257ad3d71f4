"""Observational and interventional probabilities of ``BinarySCM`` against pgmpy.

Oracle: a pgmpy ``DiscreteBayesianNetwork`` built from the same CPT vectors, queried with
``VariableElimination``; interventions by pgmpy's own graph surgery ``model.do([...])`` with the
intervened nodes' CPDs then replaced by point masses. The back-door adjustment formula is evaluated
from pgmpy's observational distribution with sets from ``DAG.minimal_backdoor_sets``.
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scm_oracles import JointOracle, hyp_settings, random_cpts, random_graph, sorted_parents
from whygym.scm.effects import average_treatment_effect, controlled_direct_effect, p_do
from whygym.scm.graph import DAG, members
from whygym.scm.model import BinarySCM
from whygym.scm.sampling import random_scm

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination
    from pgmpy.models import DiscreteBayesianNetwork

TOL = 1e-9


def name(i: int) -> str:
    return f"V{i}"


def pgmpy_cpd(i: int, parents: list[int], cpt) -> TabularCPD:
    """pgmpy orders columns with the FIRST evidence variable varying slowest, the engine's index
    ``c = sum_j v_{pa_j} 2^j`` has the first parent varying fastest: pass the parents reversed."""
    cpt = np.asarray(cpt, dtype=float)
    if not parents:
        return TabularCPD(name(i), 2, [[1.0 - cpt[0]], [cpt[0]]])
    ev = [name(q) for q in reversed(parents)]
    return TabularCPD(name(i), 2, [list(1.0 - cpt), list(cpt)], evidence=ev, evidence_card=[2] * len(ev))


def pgmpy_model(n: int, edges, cpts) -> DiscreteBayesianNetwork:
    m = DiscreteBayesianNetwork([(name(u), name(v)) for u, v in edges])
    m.add_nodes_from([name(i) for i in range(n)])
    pa = sorted_parents(n, edges)
    m.add_cpds(*[pgmpy_cpd(i, pa[i], cpts[i]) for i in range(n)])
    assert m.check_model()
    return m


def pgmpy_do(model: DiscreteBayesianNetwork, do: dict[int, int]) -> DiscreteBayesianNetwork:
    """pgmpy's surgery, then each intervened node's (marginalised) CPD replaced by a point mass."""
    md = model.do([name(k) for k in do])
    for k, v in do.items():
        md.remove_cpds(md.get_cpds(name(k)))
        md.add_cpds(TabularCPD(name(k), 2, [[1.0 - v], [float(v)]]))
    assert md.check_model()
    for k in do:
        assert not list(md.predecessors(name(k)))
    return md


def pg_table(model, nodes: list[int], evidence: dict[int, int] | None = None) -> np.ndarray:
    """``P(nodes | evidence)`` from VariableElimination as an array with axes in ``nodes`` order."""
    f = VariableElimination(model).query([name(i) for i in nodes],
                                         evidence={name(k): v for k, v in (evidence or {}).items()},
                                         joint=True, show_progress=False)
    for v in f.variables:
        assert list(f.state_names[v]) == [0, 1]
    order = [f.variables.index(name(i)) for i in nodes]
    return np.transpose(np.asarray(f.values, dtype=float), order)


def pg_prob(model, event: dict[int, int], evidence: dict[int, int] | None = None) -> float:
    nodes = sorted(event)
    return float(pg_table(model, nodes, evidence)[tuple(event[i] for i in nodes)])


# ------------------------------------------------------------------------------ hand-computed


def test_pgmpy_column_order_hand_case():
    """Node 2 with parents (0, 1) and CPT [a, b, c, d] means P(V2=1 | V0=1, V1=0) = b, since
    c = v0 + 2 v1. Checked by hand, through pgmpy, and through the engine."""
    cpts = [np.array([0.3]), np.array([0.6]), np.array([0.1, 0.2, 0.3, 0.4])]
    edges = [(0, 2), (1, 2)]
    m = pgmpy_model(3, edges, cpts)
    scm = BinarySCM(DAG(3, edges), cpts)
    for v0 in (0, 1):
        for v1 in (0, 1):
            hand = [0.1, 0.2, 0.3, 0.4][v0 + 2 * v1]
            assert pg_prob(m, {2: 1}, {0: v0, 1: v1}) == pytest.approx(hand, abs=1e-12)
            assert scm.prob({2: 1}, given={0: v0, 1: v1}) == pytest.approx(hand, abs=1e-12)
    # P(V2=1) = .7*.4*.1 + .3*.4*.2 + .7*.6*.3 + .3*.6*.4 = .028 + .024 + .126 + .072
    assert pg_prob(m, {2: 1}) == pytest.approx(0.25, abs=1e-12)
    assert scm.prob({2: 1}) == pytest.approx(0.25, abs=1e-12)
    # the non-reversed evidence order would put b at (v0=0, v1=1): the mapping matters
    wrong = TabularCPD("V2", 2, [[0.9, 0.8, 0.7, 0.6], [0.1, 0.2, 0.3, 0.4]], evidence=["V0", "V1"],
                       evidence_card=[2, 2])
    assert wrong.get_value(V2=1, V0=0, V1=1) == pytest.approx(0.2)
    assert pgmpy_cpd(2, [0, 1], cpts[2]).get_value(V2=1, V0=1, V1=0) == pytest.approx(0.2)


def test_two_node_hand_case():
    # X -> Y, P(X=1) = .3, P(Y=1|X=0) = .2, P(Y=1|X=1) = .9
    scm = BinarySCM(DAG(2, [(0, 1)]), [np.array([0.3]), np.array([0.2, 0.9])])
    assert scm.prob({1: 1}) == pytest.approx(0.7 * 0.2 + 0.3 * 0.9, abs=1e-15)
    assert scm.prob({0: 1}, given={1: 1}) == pytest.approx(0.27 / 0.41, abs=1e-15)
    assert p_do(scm, 1, 1, {0: 0}) == pytest.approx(0.2, abs=1e-15)
    assert p_do(scm, 0, 1, {1: 0}) == pytest.approx(0.3, abs=1e-15)  # do(Y) leaves X alone
    assert average_treatment_effect(scm, 0, 1) == pytest.approx(0.7, abs=1e-15)
    assert scm.prob({0: 1}, given={0: 0}) == 0.0
    with pytest.raises(ZeroDivisionError):
        scm.do({0: 1}).prob({1: 1}, given={0: 0})


def test_confounded_hand_case():
    # Z -> X, Z -> Y, X -> Y (Z=0, X=1, Y=2). Y's parents (Z, X): c = z + 2x.
    pz, px, py = 0.4, [0.2, 0.7], [0.1, 0.5, 0.6, 0.9]
    scm = BinarySCM(DAG(3, [(0, 1), (0, 2), (1, 2)]), [np.array([pz]), np.array(px), np.array(py)])
    do1 = (1 - pz) * py[2] + pz * py[3]          # sum_z P(y|x=1,z) P(z)
    do0 = (1 - pz) * py[0] + pz * py[1]
    assert p_do(scm, 2, 1, {1: 1}) == pytest.approx(do1, abs=1e-15)
    assert p_do(scm, 2, 1, {1: 0}) == pytest.approx(do0, abs=1e-15)
    pxz1 = [(1 - pz) * px[0], pz * px[1]]       # P(X=1, Z=z)
    cond = (pxz1[0] * py[2] + pxz1[1] * py[3]) / sum(pxz1)
    assert scm.prob({2: 1}, given={1: 1}) == pytest.approx(cond, abs=1e-15)
    assert cond != pytest.approx(do1)            # confounding is visible
    # CDE with nothing to hold fixed is the ATE
    assert controlled_direct_effect(scm, 1, 2, {}) == pytest.approx(do1 - do0, abs=1e-15)


# --------------------------------------------------------------------------------- random SCMs


def _random_model(seed: int):
    rng = random.Random(seed)
    n = rng.randint(3, 8)
    edges = random_graph(rng, n, rng.uniform(0.2, 0.8), max_indegree=4)
    cpts = random_cpts(rng, n, edges)
    coupling = rng.choice(["comonotone", "independent"])
    return rng, n, edges, cpts, BinarySCM(DAG(n, edges), cpts, coupling)


SETTINGS = hyp_settings(60)


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_joint_and_conditionals_match_pgmpy(seed):
    rng, n, edges, cpts, scm = _random_model(seed)
    model = pgmpy_model(n, edges, cpts)
    # full joint, axis i = node i
    pj = pg_table(model, list(range(n)))
    assert scm.joint().shape == (2,) * n
    np.testing.assert_allclose(scm.joint(), pj, atol=TOL, rtol=0)
    assert abs(scm.joint().sum() - 1.0) < TOL
    # marginal of a random subset, in a random order
    k = rng.randint(1, min(n, 4))
    nodes = rng.sample(range(n), k)
    np.testing.assert_allclose(scm.marginal(nodes), pg_table(model, nodes), atol=TOL, rtol=0)
    # conditionals P(event | evidence)
    for _ in range(3):
        ev_nodes = rng.sample(range(n), rng.randint(1, min(3, n - 1)))
        rest = [i for i in range(n) if i not in ev_nodes]
        event = {i: rng.randint(0, 1) for i in rng.sample(rest, rng.randint(1, min(2, len(rest))))}
        given_ = {i: rng.randint(0, 1) for i in ev_nodes}
        assert abs(scm.prob(event, given_) - pg_prob(model, event, given_)) < TOL
    # the independent oracle used by the property tests agrees with pgmpy too
    jo = JointOracle(n, edges, cpts)
    y = rng.randrange(n)
    assert abs(jo.prob({y: 1}) - pg_prob(model, {y: 1})) < TOL


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_interventions_match_pgmpy(seed):
    rng, n, edges, cpts, scm = _random_model(seed)
    model = pgmpy_model(n, edges, cpts)
    for _ in range(3):
        x, y, m = rng.sample(range(n), 3)
        xv, mv, yv = rng.randint(0, 1), rng.randint(0, 1), rng.randint(0, 1)
        # P(y | do(x))
        md = pgmpy_do(model, {x: xv})
        expected = pg_prob(md, {y: yv})
        assert abs(scm.do({x: xv}).prob({y: yv}) - expected) < TOL
        assert abs(p_do(scm, y, yv, {x: xv}) - expected) < TOL
        assert abs(scm.p_do({y: yv}, {x: xv}) - expected) < TOL
        # the surgery oracle agrees with the truncated factorisation oracle
        assert abs(JointOracle(n, edges, cpts, {x: xv}).prob({y: yv}) - expected) < TOL
        # P(y | do(x, m))
        md2 = pgmpy_do(model, {x: xv, m: mv})
        expected2 = pg_prob(md2, {y: yv})
        assert abs(p_do(scm, y, yv, {x: xv, m: mv}) - expected2) < TOL
        cde = controlled_direct_effect(scm, x, y, {m: mv}, x_value=xv, y_value=yv)
        assert abs(cde - (expected2 - pg_prob(pgmpy_do(model, {x: 1 - xv, m: mv}), {y: yv}))) < TOL
        # P(y | do(x), m): conditioning inside the intervened world
        assert abs(scm.p_do({y: yv}, {x: xv}, given={m: mv}) - pg_prob(md, {y: yv}, {m: mv})) < TOL
        # the intervened model's joint is pgmpy's surgery joint
        np.testing.assert_allclose(scm.do({x: xv}).joint(), pg_table(md, list(range(n))), atol=TOL, rtol=0)
        ate = average_treatment_effect(scm, x, y, x_value=xv, y_value=yv)
        assert abs(ate - (expected - pg_prob(pgmpy_do(model, {x: 1 - xv}), {y: yv}))) < TOL


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_backdoor_adjustment_equals_pgmpy_do(seed):
    rng, n, edges, cpts, scm = _random_model(seed)
    model = pgmpy_model(n, edges, cpts)
    g = scm.dag
    pairs = [(x, y) for x in range(n) for y in range(n) if x != y]
    for x, y in rng.sample(pairs, min(4, len(pairs))):
        sets = g.minimal_backdoor_sets(1 << x, 1 << y)
        if not sets:
            assert x in g.parents[y] or y in g.parents[x]
            assert y in g.parents[x]  # single treatment: only Y -> X leaves no valid set
            continue
        for zmask in sets[:3]:
            zs = members(zmask)
            table = pg_table(model, [x, y] + zs)  # P(x, y, z) from pgmpy
            for xv in (0, 1):
                truth = pg_prob(pgmpy_do(model, {x: xv}), {y: 1})
                adj = 0.0
                for zc in range(1 << len(zs)):
                    zval = tuple((zc >> k) & 1 for k in range(len(zs)))
                    pxz = table[xv, 0][zval] + table[xv, 1][zval]
                    pz = table[:, :][(slice(None), slice(None)) + zval].sum()
                    adj += table[xv, 1][zval] / pxz * pz
                assert abs(adj - truth) < TOL
                assert abs(p_do(scm, y, 1, {x: xv}) - truth) < TOL


def test_random_scm_generator_matches_pgmpy():
    """Models from the engine's own generator (node order topological, CPTs in [.02, .98])."""
    for seed in range(8):
        scm = random_scm(3 + seed % 5, 0.5, random.Random(seed), low=0.02, high=0.98)
        for c in scm.cpts:
            assert np.all((c >= 0.02) & (c <= 0.98))
        model = pgmpy_model(scm.n, scm.dag.edges, scm.cpts)
        np.testing.assert_allclose(scm.joint(), pg_table(model, list(range(scm.n))), atol=TOL, rtol=0)
        x, y = 0, scm.n - 1
        assert abs(p_do(scm, y, 1, {x: 1}) - pg_prob(pgmpy_do(model, {x: 1}), {y: 1})) < TOL


def test_constructor_validation():
    g = DAG(2, [(0, 1)])
    with pytest.raises(ValueError):
        BinarySCM(g, [np.array([0.5]), np.array([0.5])])            # node 1 needs 2 entries
    with pytest.raises(ValueError):
        BinarySCM(g, [np.array([0.5])])                              # one CPT per node
    with pytest.raises(ValueError):
        BinarySCM(g, [np.array([1.5]), np.array([0.5, 0.5])])       # outside [0, 1]
    with pytest.raises(ValueError):
        BinarySCM(g, [np.array([0.5]), np.array([0.5, 0.5])], coupling="gaussian")


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_restrict_to_ancestral_set_keeps_marginals(seed):
    rng, n, edges, cpts, scm = _random_model(seed)
    model = pgmpy_model(n, edges, cpts)
    y = rng.randrange(n)
    keep = scm.dag.ancestors(1 << y)
    sub, pos = scm.restrict(keep)
    kept = members(keep)
    assert sorted(pos) == kept and sorted(pos.values()) == list(range(len(kept)))
    np.testing.assert_allclose(sub.joint(), pg_table(model, kept), atol=TOL, rtol=0)
    parents_of_y = [q for q in range(n) if (q, y) in set(edges)]
    if parents_of_y:  # a set missing a parent of y is not ancestral
        with pytest.raises(ValueError):
            scm.restrict(1 << y)


def test_do_rejects_non_binary_values():
    scm = BinarySCM(DAG(2, [(0, 1)]), [np.array([0.3]), np.array([0.2, 0.9])])
    with pytest.raises(ValueError):
        scm.do({0: 2})
