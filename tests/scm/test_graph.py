"""``whygym.scm.graph`` against networkx and brute force.

Oracles: ``networkx.is_d_separator`` / ``ancestors`` / ``descendants`` / ``has_path``; an independent
back-door check written with networkx (:func:`scm_oracles.is_backdoor`) and a brute-force enumeration
of all subsets of non-descendants for minimality and completeness.
"""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scm_oracles import (bits_of, cut_outgoing, dsep, hyp_settings, is_backdoor, minimal_valid_sets,
                         nx_ancestors, nx_descendants, nx_mediators, to_mask, to_nx)
from whygym.scm.graph import DAG, letters, mask, members, random_dag

SETTINGS = hyp_settings(150)


@st.composite
def dags(draw, n_min=2, n_max=9):
    """A random DAG with permuted labels, so node order is generally not topological."""
    n = draw(st.integers(n_min, n_max))
    pairs = [(u, v) for v in range(n) for u in range(v)]
    keep = draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    perm = draw(st.permutations(range(n)))
    edges = [(perm[u], perm[v]) for (u, v), k in zip(pairs, keep) if k]
    return n, edges


@st.composite
def dag_with_sets(draw):
    """A DAG and disjoint X, Y (non-empty) and Z."""
    n, edges = draw(dags())
    x0 = draw(st.integers(0, n - 1))
    y0 = draw(st.sampled_from([i for i in range(n) if i != x0]))
    labels = draw(st.lists(st.sampled_from("-XYZ"), min_size=n, max_size=n))
    xs = {i for i, c in enumerate(labels) if c == "X"} - {y0} | {x0}
    ys = {i for i, c in enumerate(labels) if c == "Y"} - xs | {y0}
    zs = {i for i, c in enumerate(labels) if c == "Z"} - xs - ys
    return n, edges, xs, ys, zs


# ------------------------------------------------------------------------- helpers and basics


def test_mask_members_roundtrip():
    assert mask([0, 2]) == 0b101
    assert members(0b101) == [0, 2]
    assert members(0) == [] and mask([]) == 0
    for m in range(1 << 10):
        assert mask(members(m)) == m
        assert members(m) == sorted(bits_of(m))


def test_letters():
    assert letters(3) == ["A", "B", "C"]
    assert letters(28)[25:] == ["Z", "A1", "B1"]


def test_constructor_rejects_bad_graphs():
    with pytest.raises(ValueError):
        DAG(3, [(0, 1), (1, 2), (2, 0)])
    with pytest.raises(ValueError):
        DAG(2, [(0, 0)])
    with pytest.raises(ValueError):
        DAG(2, [(0, 2)])


@SETTINGS
@given(dags())
def test_structure_matches_networkx(g_spec):
    n, edges = g_spec
    g, G = DAG(n, edges), to_nx(n, edges)
    assert sorted(g.topo) == list(range(n))
    pos = {v: k for k, v in enumerate(g.topo)}
    assert all(pos[u] < pos[v] for u, v in edges), "topo is not a topological order"
    for v in range(n):
        assert list(g.parents[v]) == sorted(G.predecessors(v))
        for u in range(n):
            assert g.has_edge(u, v) == G.has_edge(u, v)
            assert g.is_ancestor(u, v) == (u != v and nx.has_path(G, u, v))
    # ancestors / descendants of random node sets, nodes themselves included
    rnd = random.Random(n * 1000 + len(edges))
    for _ in range(6):
        s = {i for i in range(n) if rnd.random() < 0.35}
        assert bits_of(g.ancestors(to_mask(s))) == nx_ancestors(G, s)
        assert bits_of(g.descendants(to_mask(s))) == nx_descendants(G, s)
        # cached second call agrees
        assert bits_of(g.ancestors(to_mask(s))) == nx_ancestors(G, s)
    for x in range(n):
        for y in range(n):
            if x != y:
                assert bits_of(g.mediators(x, y)) == nx_mediators(G, x, y)
                path = g.directed_path(x, y)
                if nx.has_path(G, x, y):
                    assert path[0] == x and path[-1] == y
                    assert all(G.has_edge(a, b) for a, b in zip(path, path[1:]))
                    assert len(path) - 1 == nx.shortest_path_length(G, x, y)
                else:
                    assert path is None
    m = to_mask({i for i in range(n) if i % 2 == 0})
    out = g.without_outgoing(m)
    assert set(out.edges) == {(u, v) for u, v in edges if u % 2}
    inc = g.without_incoming(m)
    assert set(inc.edges) == {(u, v) for u, v in edges if v % 2}


# ---------------------------------------------------------------------------------- d-separation


def test_d_separation_hand_cases():
    g = DAG(4, [(0, 2), (0, 3), (1, 2), (2, 3)])  # the docstring example
    assert g.d_separated(1, 2, 0)
    assert not g.d_separated(1, 2, 4)
    # A -> C <- B, C -> D: conditioning on the collider's descendant D opens the collider
    g = DAG(4, [(0, 2), (1, 2), (2, 3)])
    assert g.d_separated(1, 2, 0)
    assert not g.d_separated(1, 2, 1 << 2)
    assert not g.d_separated(1, 2, 1 << 3)
    # chain A -> B -> C and fork A <- B -> C: blocked by B, open otherwise
    for edges in ([(0, 1), (1, 2)], [(1, 0), (1, 2)]):
        g = DAG(3, edges)
        assert not g.d_separated(1, 4, 0)
        assert g.d_separated(1, 4, 2)


@SETTINGS
@given(dag_with_sets())
def test_d_separation_matches_networkx(spec):
    n, edges, xs, ys, zs = spec
    g, G = DAG(n, edges), to_nx(n, edges)
    expected = dsep(G, xs, ys, zs)
    assert g.d_separated(to_mask(xs), to_mask(ys), to_mask(zs)) == expected
    assert g.d_separated(to_mask(ys), to_mask(xs), to_mask(zs)) == expected  # symmetry


@SETTINGS
@given(dag_with_sets(), st.data())
def test_d_separation_with_cut_matches_networkx(spec, data):
    """``cut`` asks the question in the graph without the edges out of ``cut``."""
    n, edges, xs, ys, zs = spec
    g, G = DAG(n, edges), to_nx(n, edges)
    cut = set(data.draw(st.lists(st.integers(0, n - 1), max_size=3)))
    expected = dsep(cut_outgoing(G, cut), xs, ys, zs)
    assert g.d_separated(to_mask(xs), to_mask(ys), to_mask(zs), cut=to_mask(cut)) == expected
    assert g.without_outgoing(to_mask(cut)).d_separated(to_mask(xs), to_mask(ys), to_mask(zs)) == expected


@SETTINGS
@given(dag_with_sets())
def test_d_separation_overlap_with_conditioning_set(spec):
    """Documented: members of xs/ys that are also in zs are dropped first; a set left empty is
    trivially separated."""
    n, edges, xs, ys, zs = spec
    g, G = DAG(n, edges), to_nx(n, edges)
    extra = set(list(xs)[:1])  # put one X node in Z as well
    z2 = zs | extra
    x2 = xs - z2
    expected = True if not x2 else dsep(G, x2, ys, z2)
    assert g.d_separated(to_mask(xs), to_mask(ys), to_mask(z2)) == expected


# ------------------------------------------------------------------------------ back-door sets


def _check_backdoor_sets(n, edges, ts, y):
    g, G = DAG(n, edges), to_nx(n, edges)
    got = g.minimal_backdoor_sets(to_mask(ts), 1 << y)
    got_sets = [frozenset(bits_of(z)) for z in got]
    assert len(set(got_sets)) == len(got_sets), "duplicates"
    # engine's own validity predicate agrees with the oracle on every subset of non-descendants
    universe = set(range(n)) - nx_descendants(G, ts) - {y}
    for r in range(len(universe) + 1):
        for combo in itertools.combinations(sorted(universe), r):
            assert g.is_backdoor_set(to_mask(ts), 1 << y, to_mask(combo)) == is_backdoor(G, ts, y, combo)
    # every returned set is valid, and no proper subset of it is
    for z in got_sets:
        assert is_backdoor(G, ts, y, z)
        for r in range(len(z)):
            for sub in itertools.combinations(sorted(z), r):
                assert not is_backdoor(G, ts, y, sub), (z, sub)
    # complete: brute force over ALL subsets of non-descendants finds nothing missing
    expected = minimal_valid_sets(universe, lambda z: is_backdoor(G, ts, y, z))
    assert set(got_sets) == expected
    # ordering: smallest first
    assert [len(z) for z in got_sets] == sorted(len(z) for z in got_sets)
    # [0] exactly when the empty set is valid; [] exactly when nothing is valid
    empty_ok = is_backdoor(G, ts, y, set())
    assert (got == [0]) == empty_ok
    assert (got == []) == (not expected)
    first = g.first_backdoor_set(to_mask(ts), 1 << y)
    if got:
        assert first == got[0]
        # documented: smallest size, then lowest node indices
        assert sorted(bits_of(first)) == min((sorted(z) for z in expected), key=lambda z: (len(z), z))
        for k in (1, 2):
            assert g.minimal_backdoor_sets(to_mask(ts), 1 << y, limit=k) == got[:k]
    else:
        assert first is None
    return got


@SETTINGS
@given(dags(), st.data())
def test_minimal_backdoor_sets_single_treatment(g_spec, data):
    n, edges = g_spec
    x = data.draw(st.integers(0, n - 1))
    y = data.draw(st.sampled_from([i for i in range(n) if i != x]))
    got = _check_backdoor_sets(n, edges, {x}, y)
    # single treatment in a fully observed DAG: nothing is valid exactly when Y -> X is an edge
    # (the back-door path X <- Y cannot be blocked; Pa(X) is valid otherwise)
    assert (got == []) == ((y, x) in edges)


@SETTINGS
@given(dags(n_min=3), st.data())
def test_minimal_backdoor_sets_multi_treatment(g_spec, data):
    n, edges = g_spec
    ts = set(data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=3, unique=True)))
    rest = [i for i in range(n) if i not in ts]
    if not rest:
        return
    y = data.draw(st.sampled_from(rest))
    _check_backdoor_sets(n, edges, ts, y)


def test_backdoor_empty_set_is_zero_list():
    # A -> B, no confounding: the empty set is valid and is returned as [0]
    g = DAG(3, [(0, 1), (1, 2)])
    assert g.minimal_backdoor_sets(1 << 0, 1 << 2) == [0]
    assert g.first_backdoor_set(1 << 0, 1 << 2) == 0
    # confounded: B <- A -> C, B -> C; {A} is the only minimal set
    g = DAG(3, [(0, 1), (0, 2), (1, 2)])
    assert g.minimal_backdoor_sets(1 << 1, 1 << 2) == [1 << 0]


def test_backdoor_no_valid_set_single_treatment():
    # Y -> X: the back-door path X <- Y can never be blocked (the outcome is not a candidate)
    g = DAG(2, [(1, 0)])
    assert g.minimal_backdoor_sets(1 << 0, 1 << 1) == []
    assert g.first_backdoor_set(1 << 0, 1 << 1) is None


def test_backdoor_no_valid_set_multi_treatment():
    # X1 -> W -> X2, W -> Y: the confounder W of (X2, Y) is a descendant of the treatment X1,
    # so no set of non-descendants blocks X2 <- W -> Y. Nodes: X1=0, W=1, X2=2, Y=3.
    g = DAG(4, [(0, 1), (1, 2), (1, 3), (2, 3)])
    assert g.minimal_backdoor_sets(mask([0, 2]), 1 << 3) == []
    G = to_nx(4, g.edges)
    assert not any(is_backdoor(G, {0, 2}, 3, z) for z in [set(), {1}])
    # the single-treatment questions on the same graph are solvable
    assert g.minimal_backdoor_sets(1 << 2, 1 << 3) == [1 << 1]


def test_backdoor_m_bias():
    # M-structure: X <- A -> M <- B -> Y, X -> Y. The empty set is valid; {M} alone is not.
    # Nodes: A=0, B=1, M=2, X=3, Y=4.
    g = DAG(5, [(0, 2), (1, 2), (0, 3), (1, 4), (3, 4)])
    assert g.minimal_backdoor_sets(1 << 3, 1 << 4) == [0]
    assert not g.is_backdoor_set(1 << 3, 1 << 4, 1 << 2)
    assert g.is_backdoor_set(1 << 3, 1 << 4, mask([2, 0]))


# ----------------------------------------------------------------------------- mediation sets


def _oracle_is_mediation_set(G, x, y, ws) -> bool:
    """The four conditions of ``DAG.is_mediation_set``, written with networkx."""
    ws = set(ws)
    if ws & nx_descendants(G, {x}) or y in ws:
        return False
    gx = cut_outgoing(G, {x})
    if not dsep(gx, {x}, {y}, ws):
        return False
    med = nx_mediators(G, x, y)
    if med:
        if not dsep(gx, {x}, med, ws):
            return False
        if not dsep(cut_outgoing(G, med), med, {y}, ws | {x}):
            return False
    return True


@SETTINGS
@given(dags(n_max=8), st.data())
def test_mediation_sets_against_networkx_and_brute_force(g_spec, data):
    n, edges = g_spec
    g, G = DAG(n, edges), to_nx(n, edges)
    x = data.draw(st.integers(0, n - 1))
    y = data.draw(st.sampled_from([i for i in range(n) if i != x]))
    universe = set(range(n)) - nx_descendants(G, {x}) - {y}
    for r in range(len(universe) + 1):
        for combo in itertools.combinations(sorted(universe), r):
            assert g.is_mediation_set(x, y, to_mask(combo)) == _oracle_is_mediation_set(G, x, y, combo)
    got = {frozenset(bits_of(w)) for w in g.minimal_mediation_sets(x, y)}
    assert got == minimal_valid_sets(universe, lambda w: _oracle_is_mediation_set(G, x, y, w))


# --------------------------------------------------------------------------------- random_dag


@hyp_settings(60)
@given(st.integers(1, 12), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_random_dag_connected_topological_deterministic(n, density, seed):
    g1 = random_dag(n, density, random.Random(seed))
    g2 = random_dag(n, density, random.Random(seed))
    assert g1 == g2 and g1.edges == g2.edges
    assert g1.n == n
    assert all(u < v for u, v in g1.edges), "node order 0..n-1 must be topological"
    assert g1.topo == tuple(range(n))
    G = to_nx(n, g1.edges)
    assert nx.is_directed_acyclic_graph(G)
    assert nx.is_weakly_connected(G)
    g3 = random_dag(n, density, random.Random(seed), connected=False)
    assert all(u < v for u, v in g3.edges)


def test_random_dag_extremes():
    rng = random.Random(7)
    for n in range(1, 10):
        tree = random_dag(n, 0.0, rng)
        assert len(tree.edges) == n - 1  # density 0: repaired into a spanning tree
        assert random_dag(n, 0.0, rng, connected=False).edges == ()
        assert len(random_dag(n, 1.0, rng).edges) == n * (n - 1) // 2
    with pytest.raises(ValueError):
        random_dag(0, 0.5, rng)
    with pytest.raises(ValueError):
        random_dag(3, 1.5, rng)
