"""Binary structural causal models on DAGs: the observational joint, do() and counterfactuals.

A :class:`BinarySCM` gives every node ``i`` a mechanism ``V_i = 1[U_i < p_i(pa_i)]`` with its own
exogenous ``U_i ~ Uniform(0, 1)`` (independent across nodes: a Markovian model). ``p_i`` is the
conditional probability table ``P(V_i = 1 | pa_i)``, stored as a vector indexed by the parent
configuration ``c = sum_j v_{pa_j} 2^j`` (parents in increasing node order).

The CPTs fix every observational and interventional quantity. Counterfactuals that involve one
node in two worlds at once (PN, PS) also depend on how ``U_i`` couples the responses to different
parent configurations; ``coupling`` selects a fully specified SCM:

* ``"comonotone"`` (default): one uniform ``U_i`` thresholded by every ``p_i(c)``, i.e. the response
  function ``c -> 1[U_i < p_i(c)]``;
* ``"independent"``: the response to each parent configuration is an independent Bernoulli.

Both are legitimate SCMs with the same CPTs; the Tian-Pearl bounds hold for both.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

import numpy as np

from whygym.scm.graph import DAG, members

__all__ = ["BinarySCM", "Assignment"]

#: A partial assignment of values to nodes, ``{node: 0 or 1}``.
Assignment = Mapping[int, int]

COUPLINGS = ("comonotone", "independent")


@lru_cache(maxsize=64)
def _bits(n: int) -> np.ndarray:
    """``bits[j, s]`` = value of node ``j`` in flat state ``s`` (node j is bit j of s)."""
    s = np.arange(1 << n, dtype=np.int64)
    return ((s[None, :] >> np.arange(n, dtype=np.int64)[:, None]) & 1).astype(np.int64)


class BinarySCM:
    """A binary SCM: a :class:`DAG` plus one CPT per node.

    Parameters
    ----------
    dag : the causal graph.
    cpts : ``cpts[i]`` has length ``2 ** len(dag.parents[i])``: ``P(V_i = 1 | parent config)``.
    coupling : ``"comonotone"`` or ``"independent"`` (see module docstring).
    validate : check shapes and ranges (default); trusted callers may skip it.

    Examples
    --------
    >>> g = DAG(2, [(0, 1)])
    >>> m = BinarySCM(g, [np.array([0.3]), np.array([0.2, 0.9])])
    >>> round(m.prob({1: 1}), 4)                 # 0.7*0.2 + 0.3*0.9
    0.41
    >>> round(m.prob({1: 1}, given={0: 1}), 4)
    0.9
    >>> round(m.do({0: 0}).prob({1: 1}), 4)
    0.2
    """

    def __init__(self, dag: DAG, cpts, coupling: str = "comonotone", validate: bool = True):
        if not validate:  # trusted callers (the generator) skip the checks on the hot path
            self.dag, self.cpts, self.coupling, self._joint = dag, list(cpts), coupling, None
            return
        if coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {COUPLINGS}, got {coupling!r}")
        if len(cpts) != dag.n:
            raise ValueError(f"need one CPT per node: {dag.n} nodes, {len(cpts)} CPTs")
        arrs = []
        for i, c in enumerate(cpts):
            a = np.asarray(c, dtype=np.float64).reshape(-1)
            if a.shape[0] != 1 << len(dag.parents[i]):
                raise ValueError(f"CPT of node {i} has {a.shape[0]} entries; "
                                 f"{len(dag.parents[i])} parents need {1 << len(dag.parents[i])}")
            if np.any(a < 0) or np.any(a > 1):
                raise ValueError(f"CPT of node {i} has entries outside [0, 1]")
            arrs.append(a)
        self.dag = dag
        self.cpts: list[np.ndarray] = arrs
        self.coupling = coupling
        self._joint: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.dag.n

    # ------------------------------------------------------------------ parameters
    def params(self) -> np.ndarray:
        """Every CPT entry in one vector (node order, then parent configuration): the coordinates witness
        searches move.

        >>> from whygym.scm.graph import DAG
        >>> m = BinarySCM(DAG(2, [(0, 1)]), [[0.3], [0.2, 0.9]])
        >>> m.params().tolist(), m.with_params(np.array([0.5, 0.1, 0.8])).cpts[1].tolist()
        ([0.3, 0.2, 0.9], [0.1, 0.8])
        """
        return np.concatenate([np.asarray(c, dtype=np.float64).reshape(-1) for c in self.cpts])

    def with_params(self, theta: np.ndarray) -> "BinarySCM":
        """The SCM on the same graph with the CPT entries ``theta`` (as :meth:`params` orders them; unchecked)."""
        out, k = [], 0
        for c in self.cpts:
            n = len(c)
            out.append(np.array(theta[k:k + n], dtype=np.float64))
            k += n
        return BinarySCM(self.dag, out, self.coupling, validate=False)

    # ------------------------------------------------------------------ observational
    def joint(self) -> np.ndarray:
        """The joint distribution as an array of shape ``(2,) * n`` (axis ``i`` is node ``i``).

        ``P(v) = prod_i P(v_i | pa_i)``, evaluated on all ``2^n`` states at once.
        """
        if self._joint is None:
            n = self.n
            bits = _bits(n)
            p = np.ones(1 << n)
            for i in range(n):
                pa = self.dag.parents[i]
                if pa:
                    idx = bits[pa[0]].copy()
                    for j, q in enumerate(pa[1:], 1):
                        idx |= bits[q] << j
                    t = self.cpts[i][idx]
                else:
                    t = self.cpts[i][0]
                p *= np.where(bits[i] == 1, t, 1.0 - t)
            # flat index s has node j at bit j; C-order reshape puts the last axis on bit 0
            self._joint = p.reshape((2,) * n).transpose(tuple(range(n - 1, -1, -1))) if n else p
        return self._joint

    def marginal(self, nodes) -> np.ndarray:
        """Joint distribution of ``nodes`` (any order), shape ``(2,) * len(nodes)`` in that order."""
        nodes = list(nodes)
        j = self.joint()
        other = tuple(i for i in range(self.n) if i not in nodes)
        m = j.sum(axis=other) if other else j
        kept = sorted(nodes)
        return np.transpose(m, [kept.index(v) for v in nodes]) if nodes != kept else m

    def prob(self, event: Assignment, given: Assignment | None = None) -> float:
        """``P(event | given)``; raises ``ZeroDivisionError`` if ``P(given) = 0``.

        ``event`` and ``given`` are ``{node: value}``; a node in both must agree.
        """
        given = dict(given or {})
        both = dict(given)
        for k, v in event.items():
            if k in both and both[k] != v:
                return 0.0
            both[k] = v
        nodes = sorted(both)
        m = self.marginal(nodes)
        num = float(m[tuple(both[v] for v in nodes)])
        if not given:
            return num
        gnodes = sorted(given)
        den = float(self.marginal(gnodes)[tuple(given[v] for v in gnodes)])
        if den == 0.0:
            raise ZeroDivisionError(f"P({given}) = 0")
        return num / den

    # ------------------------------------------------------------------ interventions
    def do(self, assignment: Assignment) -> "BinarySCM":
        """Graph surgery: cut the edges into each assigned node and fix its value."""
        cut = 0
        for k, v in assignment.items():
            if v not in (0, 1):
                raise ValueError(f"do() sets binary nodes to 0 or 1; got {k}={v!r}")
            if not 0 <= k < self.n:
                raise ValueError(f"do() names node {k}, outside 0..{self.n - 1}")
            cut |= 1 << k
        g = self.dag.without_incoming(cut)
        cpts = [np.array([float(assignment[i])]) if i in assignment else self.cpts[i] for i in range(self.n)]
        return BinarySCM(g, cpts, self.coupling, validate=False)

    def p_do(self, event: Assignment, do: Assignment, given: Assignment | None = None) -> float:
        """``P(event | do(do), given)``."""
        return self.do(do).prob(event, given)

    def restrict(self, keep: int) -> "BinarySCM":
        """The sub-model on an *ancestral* node set ``keep`` (bitmask), nodes renumbered in order.

        Marginals (and counterfactuals) of nodes in an ancestral set do not depend on the rest.
        """
        if self.dag.ancestors(keep) != keep:
            raise ValueError("restrict() needs an ancestral set")
        idx = members(keep)
        pos = {v: k for k, v in enumerate(idx)}
        g = DAG(len(idx), [(pos[u], pos[v]) for u, v in self.dag.edges if keep >> v & 1])
        return BinarySCM(g, [self.cpts[v] for v in idx], self.coupling), pos

    # ------------------------------------------------------------------ counterfactuals
    def twin_joint(self, do: Assignment) -> tuple[np.ndarray, dict[int, int]]:
        """Joint of the factual world and the world under ``do`` (the twin network).

        Returns ``(p, cf_axis)``: ``p`` is a flat vector over states of ``n + d`` binary axes (axis
        ``j`` is bit ``j`` of the state index); axes ``0..n-1`` are the factual nodes, and
        ``cf_axis[i]`` is the axis of node ``i``'s counterfactual copy for each descendant ``i`` of
        the intervened nodes (non-descendants are shared between the worlds; intervened nodes are
        constants in the counterfactual world). Each node's exogenous ``U_i`` is shared by both
        worlds, coupled as ``self.coupling`` says.
        """
        n = self.n
        tmask = 0
        for k in do:
            tmask |= 1 << k
        cf_nodes = [i for i in members(self.dag.descendants(tmask)) if i not in do]
        cf_axis = {i: n + k for k, i in enumerate(cf_nodes)}
        nax = n + len(cf_nodes)
        s = np.arange(1 << nax, dtype=np.int64)

        def bit(j: int) -> np.ndarray:
            return (s >> j) & 1

        def config(i: int, world_cf: bool) -> np.ndarray | int:
            idx: np.ndarray | int = 0
            for j, q in enumerate(self.dag.parents[i]):
                if world_cf and q in do:
                    val: np.ndarray | int = int(do[q])
                elif world_cf and q in cf_axis:
                    val = bit(cf_axis[q])
                else:
                    val = bit(q)
                idx = idx | (val << j)
            return idx

        p = np.ones(1 << nax)
        for i in range(n):
            t = self.cpts[i][config(i, False)]
            v = bit(i)
            if i not in cf_axis:
                p *= np.where(v == 1, t, 1.0 - t)
                continue
            ts = self.cpts[i][config(i, True)]
            w = bit(cf_axis[i])
            if self.coupling == "comonotone":
                lo, hi = np.minimum(t, ts), np.maximum(t, ts)
                p11, p10, p01, p00 = lo, t - lo, ts - lo, 1.0 - hi
            else:
                same = config(i, False) == config(i, True)
                p11 = np.where(same, t, t * ts)
                p10 = np.where(same, 0.0, t * (1 - ts))
                p01 = np.where(same, 0.0, (1 - t) * ts)
                p00 = np.where(same, 1.0 - t, (1 - t) * (1 - ts))
            p *= np.where(v == 1, np.where(w == 1, p11, p10), np.where(w == 1, p01, p00))
        return p, cf_axis

    def counterfactual(self, cf_event: Assignment, do: Assignment, factual: Assignment | None = None) -> float:
        """``P(Y_do = cf_event | factual)``: the probability that, had ``do`` been set, ``cf_event``
        would have held, among units where the factual world shows ``factual``.

        Computed exactly on the twin network restricted to the ancestors of the nodes involved.
        """
        factual = dict(factual or {})
        involved = 0
        for k in list(cf_event) + list(factual) + list(do):
            involved |= 1 << k
        sub, pos = self.restrict(self.dag.ancestors(involved))
        sdo = {pos[k]: v for k, v in do.items()}
        p, cf_axis = sub.twin_joint(sdo)
        nax = sub.n + len(cf_axis)
        s = np.arange(1 << nax, dtype=np.int64)
        sel_f = np.ones(1 << nax, dtype=bool)
        for k, v in factual.items():
            sel_f &= ((s >> pos[k]) & 1) == v
        sel = sel_f.copy()
        for k, v in cf_event.items():
            if k in do:  # an intervened node takes its assigned value in the counterfactual world
                if do[k] != v:
                    return 0.0
                continue
            ax = cf_axis.get(pos[k], pos[k])  # non-descendants are shared with the factual world
            sel &= ((s >> ax) & 1) == v
        den = float(p[sel_f].sum())
        if den == 0.0:
            raise ZeroDivisionError(f"P(factual={factual}) = 0")
        return float(p[sel].sum()) / den

    def nested_mean(self, y: int, y_value: int, x: int, x_direct: int, x_mediators: int) -> float:
        """``P(Y_{x_direct, M_{x_mediators}} = y_value)``: ``Y`` receives ``x_direct`` along its own
        edge from ``X`` while every other input takes its value in the world ``do(X = x_mediators)``.

        ``Y_{x, M_{x'}} = f_Y(x, pa_Y(do(x')), U_Y)`` and ``U_Y`` is independent of the other inputs
        in a Markovian model, so ``P = sum_v P_{do(x')}(v) P(Y = y | pa_Y(v) with X := x)``: exact,
        and the same under every coupling.
        """
        m = self.do({x: x_mediators})
        pa = self.dag.parents[y]
        if x not in pa:  # no direct edge: the nested counterfactual is just Y_{x_mediators}
            return m.prob({y: y_value})
        if not pa:
            return m.prob({y: y_value})
        others = [q for q in pa if q != x]
        dist = m.marginal(others) if others else np.array(1.0)
        total = 0.0
        for c in range(1 << len(others)):
            vals = {q: (c >> k) & 1 for k, q in enumerate(others)}
            vals[x] = x_direct
            idx = sum(vals[q] << j for j, q in enumerate(pa))
            p1 = float(self.cpts[y][idx])
            pv = float(dist[tuple(vals[q] for q in others)]) if others else 1.0
            total += pv * (p1 if y_value == 1 else 1.0 - p1)
        return total
