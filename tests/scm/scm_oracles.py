"""Independent oracles for the tests of ``whygym.scm``.

Nothing here calls the engine to compute a value: graphs are analysed with networkx, observational
and interventional distributions come from a plain truncated factorisation over ``itertools.product``,
and counterfactuals from an explicit enumeration of exogenous response functions ("units").

Conventions shared with the engine (they are the spec, not the implementation):

* nodes are ``0..n-1``; a CPT is a vector ``P(V_i = 1 | c)`` with ``c = sum_j v_{pa_j} 2^j`` and
  the parents ``pa_j`` in increasing node order;
* ``coupling="comonotone"``: one uniform ``U_i`` per node, ``V_i = 1[U_i < p_i(c)]``;
  ``coupling="independent"``: an independent Bernoulli(``p_i(c)``) response for every ``c``.

The module's name is prefixed so it cannot shadow another test directory's helper on ``sys.path``.
"""

from __future__ import annotations

import itertools
import random

import networkx as nx
import numpy as np

# ---------------------------------------------------------------------------------------- graphs


def to_nx(n: int, edges) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    return g


def bits_of(m: int) -> set[int]:
    """Node set of bitmask ``m`` (written independently of ``whygym.scm.graph.members``)."""
    return {i for i in range(m.bit_length()) if m >> i & 1}


def to_mask(nodes) -> int:
    return sum(1 << i for i in set(nodes))


def sorted_parents(n: int, edges) -> list[list[int]]:
    pa: list[set[int]] = [set() for _ in range(n)]
    for u, v in edges:
        pa[v].add(u)
    return [sorted(p) for p in pa]


def nx_descendants(g: nx.DiGraph, nodes) -> set[int]:
    out = set(nodes)
    for v in nodes:
        out |= nx.descendants(g, v)
    return out


def nx_ancestors(g: nx.DiGraph, nodes) -> set[int]:
    out = set(nodes)
    for v in nodes:
        out |= nx.ancestors(g, v)
    return out


def nx_mediators(g: nx.DiGraph, x: int, y: int) -> set[int]:
    """Nodes strictly inside some directed path ``x -> ... -> y``."""
    return {m for m in g.nodes if m not in (x, y) and nx.has_path(g, x, m) and nx.has_path(g, m, y)}


def cut_outgoing(g: nx.DiGraph, nodes) -> nx.DiGraph:
    h = g.copy()
    h.remove_edges_from([(u, v) for u, v in g.edges if u in nodes])
    return h


def dsep(g: nx.DiGraph, xs, ys, zs) -> bool:
    return nx.is_d_separator(g, set(xs), set(ys), set(zs))


def is_backdoor(g: nx.DiGraph, ts, y: int, zs) -> bool:
    """Pearl's back-door criterion for treatments ``ts`` (a set) and outcome ``y``."""
    ts, zs = set(ts), set(zs)
    if zs & nx_descendants(g, ts) or y in zs:
        return False
    return dsep(cut_outgoing(g, ts), ts, {y}, zs)


def minimal_valid_sets(universe, valid) -> set[frozenset]:
    """Brute force: every subset of ``universe`` that is valid and has no valid proper subset."""
    universe = sorted(universe)
    ok = {}
    for r in range(len(universe) + 1):
        for combo in itertools.combinations(universe, r):
            ok[frozenset(combo)] = valid(set(combo))
    out = set()
    for s, v in ok.items():
        if v and not any(ok[t] for t in ok if t < s):
            out.add(s)
    return out


# ----------------------------------------------------------------------------- random models


def random_graph(rng: random.Random, n: int, density: float, max_indegree: int | None = None,
                 shuffle: bool = True) -> list[tuple[int, int]]:
    """Random DAG edges; with ``shuffle`` the node labels are permuted so 0..n-1 need not be a
    topological order (the engine must not rely on it)."""
    edges = []
    indeg = [0] * n
    for v in range(1, n):
        for u in rng.sample(range(v), v):
            if rng.random() < density and (max_indegree is None or indeg[v] < max_indegree):
                edges.append((u, v))
                indeg[v] += 1
    perm = list(range(n))
    if shuffle:
        rng.shuffle(perm)
    return [(perm[u], perm[v]) for u, v in edges]


def random_cpts(rng: random.Random, n: int, edges, low: float = 0.02, high: float = 0.98,
                ties: bool = False) -> list[np.ndarray]:
    """Random CPT vectors; with ``ties`` some entries repeat (exercises equal comonotone thresholds)."""
    pa = sorted_parents(n, edges)
    out = []
    for i in range(n):
        k = 1 << len(pa[i])
        vals = [low + (high - low) * rng.random() for _ in range(k)]
        if ties and k > 1 and rng.random() < 0.5:
            vals[rng.randrange(k)] = vals[rng.randrange(k)]
        out.append(np.array(vals))
    return out


# ------------------------------------------------------- observational / interventional oracle


class JointOracle:
    """``P(v) = prod_i P(v_i | pa_i)`` enumerated state by state; ``do`` by truncated factorisation."""

    def __init__(self, n: int, edges, cpts, do: dict[int, int] | None = None):
        self.n = n
        self.pa = sorted_parents(n, edges)
        do = dict(do or {})
        self.table: dict[tuple[int, ...], float] = {}
        for state in itertools.product((0, 1), repeat=n):
            p = 1.0
            for i in range(n):
                if i in do:
                    p *= 1.0 if state[i] == do[i] else 0.0
                    continue
                c = sum(state[q] << j for j, q in enumerate(self.pa[i]))
                t = float(cpts[i][c])
                p *= t if state[i] == 1 else 1.0 - t
            self.table[state] = p
        self._states = np.array(list(self.table), dtype=np.int64).reshape(-1, n)
        self._p = np.array(list(self.table.values()))

    def _mass(self, cond: dict[int, int]) -> float:
        sel = np.ones(len(self._p), dtype=bool)
        for k, v in cond.items():
            sel &= self._states[:, k] == v
        return float(self._p[sel].sum())

    def prob(self, event: dict[int, int], given: dict[int, int] | None = None) -> float:
        given = given or {}
        if any(k in given and given[k] != v for k, v in event.items()):
            return 0.0
        num = self._mass({**event, **given})
        return num / self._mass(given) if given else num


def assignments(nodes):
    nodes = sorted(nodes)
    for vals in itertools.product((0, 1), repeat=len(nodes)):
        yield dict(zip(nodes, vals))


def backdoor_formula(jo: JointOracle, x: int, xv: int, y: int, yv: int, zs) -> float:
    """``sum_z P(y | x, z) P(z)``."""
    return sum(jo.prob({y: yv}, {x: xv, **z}) * jo.prob(z) for z in assignments(zs))


def ett_formula(jo: JointOracle, x: int, xv: int, y: int, yv: int, zs) -> float:
    """CaLM's ETT estimand ``P(y|x) - sum_z P(y|x',z) P(z|x)``."""
    return jo.prob({y: yv}, {x: xv}) - sum(jo.prob({y: yv}, {x: 1 - xv, **z}) * jo.prob(z, {x: xv})
                                           for z in assignments(zs))


def mediation_formula_nde(jo: JointOracle, x: int, xv: int, y: int, yv: int, ms, ws) -> float:
    """``sum_{m,w} [P(y|x,m,w) - P(y|x',m,w)] P(m|x',w) P(w)``."""
    total = 0.0
    for w in assignments(ws):
        pw = jo.prob(w)
        for m in assignments(ms):
            total += ((jo.prob({y: yv}, {x: xv, **m, **w}) - jo.prob({y: yv}, {x: 1 - xv, **m, **w}))
                      * jo.prob(m, {x: 1 - xv, **w}) * pw)
    return total


# ---------------------------------------------------------------- counterfactual (unit) oracle


class UnitOracle:
    """Enumerates every exogenous "unit": one response function ``c -> {0, 1}`` per node.

    * comonotone: sort the node's thresholds ``p_i(c)`` (with 0 and 1); every interval ``(a, b)``
      of ``U_i`` between consecutive distinct cuts is one response function ``c -> 1[p_i(c) >= b]``
      (``U < p`` for all ``U`` in ``(a, b)`` iff ``p >= b``), with probability ``b - a``;
    * independent: all ``2^(2^k)`` functions, probability ``prod_c p_i(c)^r(c) (1-p_i(c))^(1-r(c))``.

    A unit is a tuple of response functions, one per node, with the product probability. Every unit
    is evaluated deterministically under any (possibly unit-specific) intervention; probabilities of
    (counterfactual) events are sums of unit weights. Evaluation is vectorised over units with numpy,
    but each unit is still computed on its own.
    """

    def __init__(self, n: int, edges, cpts, coupling: str, max_units: int = 400_000):
        self.n = n
        self.g = to_nx(n, edges)
        self.order = list(nx.topological_sort(self.g))
        self.pa = sorted_parents(n, edges)
        resp, wts = [], []
        for i in range(n):
            p = np.asarray(cpts[i], dtype=float)
            k = p.shape[0]
            rows, ws = [], []
            if coupling == "comonotone":
                cuts = sorted({0.0, 1.0, *map(float, p)})
                for a, b in zip(cuts, cuts[1:]):
                    if b > a:
                        rows.append([1 if p[c] >= b else 0 for c in range(k)])
                        ws.append(b - a)
            elif coupling == "independent":
                for r in itertools.product((0, 1), repeat=k):
                    w = 1.0
                    for c in range(k):
                        w *= p[c] if r[c] else 1.0 - p[c]
                    rows.append(list(r))
                    ws.append(w)
            else:
                raise ValueError(coupling)
            resp.append(np.array(rows, dtype=np.int64))
            wts.append(np.array(ws))
        sizes = [len(w) for w in wts]
        total = int(np.prod(sizes))
        if total > max_units:
            raise ValueError(f"{total} units: too many for the brute-force oracle")
        grid = np.indices(sizes).reshape(n, -1)
        self.resp = resp
        self.unit_fn = grid  # unit_fn[i, u]: index of node i's response function in unit u
        self.weight = np.ones(total)
        for i in range(n):
            self.weight *= wts[i][grid[i]]
        self.size = total
        self._cache: dict[tuple, dict[int, np.ndarray]] = {}

    def world(self, do: dict | None = None, direct: dict | None = None) -> dict[int, np.ndarray]:
        """Values of every node in every unit under ``do`` (values: 0/1 or per-unit arrays).

        ``direct`` optionally maps ``(parent, child)`` to a value that the child receives on that
        edge only (used for path-specific quantities); absent edges read the parent's value.
        """
        do = dict(do or {})
        direct = dict(direct or {})
        key = None
        if not direct and all(isinstance(v, int) for v in do.values()):
            key = tuple(sorted(do.items()))
            if key in self._cache:
                return self._cache[key]
        vals: dict[int, np.ndarray] = {}
        for i in self.order:
            if i in do:
                vals[i] = np.broadcast_to(np.asarray(do[i], dtype=np.int64), (self.size,))
                continue
            c = np.zeros(self.size, dtype=np.int64)
            for j, q in enumerate(self.pa[i]):
                v = direct.get((q, i), vals[q])
                c = c | (np.asarray(v, dtype=np.int64) << j)
            vals[i] = self.resp[i][self.unit_fn[i], c]
        if key is not None:
            self._cache[key] = vals
        return vals

    def p(self, sel: np.ndarray) -> float:
        return float(self.weight[np.broadcast_to(sel, (self.size,))].sum())

    @staticmethod
    def holds(world: dict[int, np.ndarray], event: dict[int, int]) -> np.ndarray:
        sel = np.ones(len(next(iter(world.values()))), dtype=bool)
        for k, v in event.items():
            sel &= world[k] == v
        return sel

    # -- quantities
    def prob(self, event, given=None) -> float:
        w = self.world()
        num = self.p(self.holds(w, {**event, **(given or {})}))
        if not given:
            return num
        return num / self.p(self.holds(w, given))

    def counterfactual(self, cf_event, do, factual=None) -> float:
        """``P(cf_event holds in world do | factual holds in the actual world)``."""
        f = self.holds(self.world(), factual or {})
        c = self.holds(self.world(do), cf_event)
        den = self.p(f)
        if den == 0.0:
            raise ZeroDivisionError
        return self.p(f & c) / den

    def nested(self, y: int, yv: int, x: int, x_direct: int, x_mediators: int) -> float:
        """``P(Y_{x_direct, M_{x_mediators}} = yv)`` per unit, Pearl's definition: set ``X = x_direct``
        and hold every mediator of ``X -> Y`` at its own value in the world ``do(X = x_mediators)``."""
        ref = self.world({x: x_mediators})
        meds = nx_mediators(self.g, x, y)
        w = self.world({x: x_direct, **{m: ref[m] for m in meds}})
        return self.p(w[y] == yv)

    def nested_edge(self, y: int, yv: int, x: int, x_direct: int, x_mediators: int) -> float:
        """The same quantity, path-specific form: the world ``do(X = x_mediators)`` except that ``Y``
        reads ``x_direct`` on the edge ``X -> Y``."""
        w = self.world({x: x_mediators}, direct={(x, y): x_direct})
        return self.p(w[y] == yv)

    def p_do(self, y, yv, do) -> float:
        return self.p(self.world(do)[y] == yv)

    def ett(self, x, y, xv=1, yv=1) -> float:
        return self.prob({y: yv}, {x: xv}) - self.counterfactual({y: yv}, {x: 1 - xv}, {x: xv})

    def nde(self, x, y, xv=1, yv=1) -> float:
        return self.nested(y, yv, x, xv, 1 - xv) - self.p_do(y, yv, {x: 1 - xv})

    def nie(self, x, y, xv=1, yv=1) -> float:
        return self.nested(y, yv, x, 1 - xv, xv) - self.p_do(y, yv, {x: 1 - xv})

    def pn(self, x, y, xv=1, yv=1) -> float:
        return self.counterfactual({y: 1 - yv}, {x: 1 - xv}, {x: xv, y: yv})

    def ps(self, x, y, xv=1, yv=1) -> float:
        return self.counterfactual({y: yv}, {x: xv}, {x: 1 - xv, y: 1 - yv})


# ------------------------------------------------------------------------------ hypothesis settings


def hyp_settings(max_examples: int):
    """Settings for the hypothesis tests in tests/scm: derandomised (CI runs are reproducible) and
    without an example database. For a soak run, ``WHYGYM_SCM_SOAK=<factor>`` multiplies the example
    counts and draws fresh random examples, e.g. ``WHYGYM_SCM_SOAK=20 pytest tests/scm``."""
    import os

    from hypothesis import HealthCheck, settings

    soak = float(os.environ.get("WHYGYM_SCM_SOAK", "0") or 0)
    return settings(max_examples=max(1, int(max_examples * soak)) if soak else max_examples,
                    derandomize=not soak, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
