"""Directed acyclic graphs over at most a few dozen nodes, with node sets as integer bitmasks.

Node ``i`` is bit ``1 << i``. Sets of nodes are plain ``int`` masks, which makes ancestor closures,
d-separation and subset enumeration cheap in pure Python (the generator calls them for every item).
:func:`mask` and :func:`members` convert between masks and index lists.
"""

from __future__ import annotations

import random as _random
from itertools import combinations
from typing import Iterable

__all__ = ["DAG", "mask", "members", "random_dag", "letters"]


def mask(nodes: Iterable[int]) -> int:
    """Bitmask of node indices. ``mask([0, 2]) == 0b101``."""
    m = 0
    for i in nodes:
        m |= 1 << i
    return m


def members(m: int) -> list[int]:
    """Sorted node indices in mask ``m``. ``members(0b101) == [0, 2]``."""
    out = []
    i = 0
    while m:
        if m & 1:
            out.append(i)
        m >>= 1
        i += 1
    return out


def letters(n: int) -> list[str]:
    """CaLM-style node ids: A, B, ..., Z, then A1, B1, ..."""
    return [chr(65 + i % 26) + (str(i // 26) if i >= 26 else "") for i in range(n)]


class DAG:
    """A directed acyclic graph on nodes ``0..n-1``.

    Parameters
    ----------
    n : number of nodes.
    edges : pairs ``(u, v)`` meaning ``u -> v``.

    Raises ``ValueError`` on a self-loop, an out-of-range node or a cycle.

    Examples
    --------
    >>> g = DAG(4, [(0, 2), (0, 3), (1, 2), (2, 3)])   # A->C, A->D, B->C, C->D
    >>> members(g.descendants(1 << 0))
    [0, 2, 3]
    >>> g.d_separated(1 << 0, 1 << 1, 0)              # A and B are marginally independent
    True
    >>> g.d_separated(1 << 0, 1 << 1, 1 << 2)         # ... but not given the collider C
    False
    """

    __slots__ = ("n", "edges", "parents", "pa_mask", "ch_mask", "topo", "_anc", "_desc")

    def __init__(self, n: int, edges: Iterable[tuple[int, int]]):
        self.n = n
        es = sorted({(int(u), int(v)) for u, v in edges})
        for u, v in es:
            if not (0 <= u < n and 0 <= v < n):
                raise ValueError(f"edge {u}->{v} names a node outside 0..{n - 1}")
            if u == v:
                raise ValueError(f"self-loop on node {u}")
        self.edges: tuple[tuple[int, int], ...] = tuple(es)
        pa = [0] * n
        ch = [0] * n
        for u, v in es:
            pa[v] |= 1 << u
            ch[u] |= 1 << v
        self.pa_mask = tuple(pa)
        self.ch_mask = tuple(ch)
        self.parents: tuple[tuple[int, ...], ...] = tuple(tuple(members(m)) for m in pa)
        # Kahn's algorithm, smallest index first, so node order is kept when it is already topological.
        indeg = [len(p) for p in self.parents]
        ready = [i for i in range(n) if indeg[i] == 0]
        topo = []
        while ready:
            ready.sort()
            i = ready.pop(0)
            topo.append(i)
            for j in members(ch[i]):
                indeg[j] -= 1
                if indeg[j] == 0:
                    ready.append(j)
        if len(topo) != n:
            raise ValueError("the graph has a directed cycle")
        self.topo = tuple(topo)
        self._anc: dict[int, int] = {}
        self._desc: dict[int, int] = {}

    # ------------------------------------------------------------------ structure
    def __eq__(self, other: object) -> bool:
        return isinstance(other, DAG) and self.n == other.n and self.edges == other.edges

    def __hash__(self) -> int:
        return hash((self.n, self.edges))

    def __repr__(self) -> str:
        names = letters(self.n)
        return f"DAG({self.n}, {', '.join(names[u] + '->' + names[v] for u, v in self.edges)})"

    def ancestors(self, m: int) -> int:
        """Ancestors of the nodes in ``m``, the nodes themselves included."""
        return self._closure(m, self.pa_mask, self._anc)

    def descendants(self, m: int) -> int:
        """Descendants of the nodes in ``m``, the nodes themselves included."""
        return self._closure(m, self.ch_mask, self._desc)

    @staticmethod
    def _closure(m: int, step: tuple[int, ...], cache: dict[int, int]) -> int:
        """``m`` and everything reachable from it along ``step`` (parents or children), memoised."""
        got = cache.get(m)
        if got is not None:
            return got
        out = frontier = m
        while frontier:
            new = 0
            i = 0
            f = frontier
            while f:
                if f & 1:
                    new |= step[i]
                f >>= 1
                i += 1
            frontier = new & ~out
            out |= new
        cache[m] = out
        return out

    def has_edge(self, u: int, v: int) -> bool:
        return bool(self.pa_mask[v] >> u & 1)

    def is_ancestor(self, x: int, y: int) -> bool:
        """True when there is a directed path from ``x`` to ``y`` (x != y)."""
        return x != y and bool(self.descendants(1 << x) >> y & 1)

    def directed_path(self, x: int, y: int) -> list[int] | None:
        """One directed path from ``x`` to ``y`` (shortest; ties to the smallest node), or ``None``."""
        if x == y:
            return [x]
        prev = {x: -1}
        queue = [x]
        for u in queue:
            for v in members(self.ch_mask[u]):
                if v not in prev:
                    prev[v] = u
                    if v == y:
                        path = [y]
                        while prev[path[-1]] != -1:
                            path.append(prev[path[-1]])
                        return path[::-1]
                    queue.append(v)
        return None

    def mediators(self, x: int, y: int) -> int:
        """Nodes on directed paths from ``x`` to ``y``, excluding both: ``De(x) & An(y) - {x, y}``."""
        return self.descendants(1 << x) & self.ancestors(1 << y) & ~(1 << x) & ~(1 << y)

    def without_outgoing(self, m: int) -> "DAG":
        """The graph with every edge out of a node in ``m`` removed (G underbar-m)."""
        return DAG(self.n, [(u, v) for u, v in self.edges if not (m >> u & 1)])

    def without_incoming(self, m: int) -> "DAG":
        """The graph with every edge into a node in ``m`` removed (G overbar-m): graph surgery for do(m)."""
        return DAG(self.n, [(u, v) for u, v in self.edges if not (m >> v & 1)])

    # ------------------------------------------------------------------ d-separation
    def d_separated(self, xs: int, ys: int, zs: int, cut: int = 0) -> bool:
        """Whether node sets ``xs`` and ``ys`` are d-separated given ``zs`` (all bitmasks).

        Reachability ("Bayes ball", Koller & Friedman Alg. 3.1): a trail may pass a non-collider
        that is not in ``zs``, and a collider that is in ``zs`` or has a descendant in ``zs``.
        ``xs``/``ys`` overlapping ``zs`` are removed from the query first. ``cut`` asks the question
        in the graph with every edge out of a node in ``cut`` removed, without building it.
        """
        xs &= ~zs
        ys &= ~zs
        if not xs or not ys:
            return True
        if xs & ys:
            return False
        if cut:
            pa = tuple(m & ~cut for m in self.pa_mask)
            ch = tuple(0 if cut >> i & 1 else m for i, m in enumerate(self.ch_mask))
            anc_z = zs
            frontier = zs
            while frontier:
                new = 0
                for i in members(frontier):
                    new |= pa[i]
                frontier = new & ~anc_z
                anc_z |= new
        else:
            pa, ch = self.pa_mask, self.ch_mask
            anc_z = self.ancestors(zs) if zs else 0
        # visited_up: reached from a child (moving up); visited_down: reached from a parent.
        visited_up = 0
        visited_down = 0
        stack_up = xs  # start as if arrived from a child, so both directions are open
        stack_down = 0
        while stack_up or stack_down:
            if stack_up:
                i = (stack_up & -stack_up).bit_length() - 1
                stack_up &= stack_up - 1
                if visited_up >> i & 1:
                    continue
                visited_up |= 1 << i
                if ys >> i & 1:
                    return False
                if not (zs >> i & 1):
                    stack_up |= pa[i] & ~visited_up
                    stack_down |= ch[i] & ~visited_down
            else:
                i = (stack_down & -stack_down).bit_length() - 1
                stack_down &= stack_down - 1
                if visited_down >> i & 1:
                    continue
                visited_down |= 1 << i
                if ys >> i & 1:
                    return False
                if not (zs >> i & 1):
                    stack_down |= ch[i] & ~visited_down
                if anc_z >> i & 1:  # collider opened by conditioning on it or a descendant
                    stack_up |= pa[i] & ~visited_up
        return True

    # ------------------------------------------------------------------ adjustment sets
    def is_backdoor_set(self, treatments: int, outcome: int, zs: int) -> bool:
        """Pearl's back-door criterion for a set of treatments (bitmasks) and an outcome node mask.

        ``zs`` is valid when it contains no descendant of a treatment and d-separates the treatments
        from the outcome in the graph with the treatments' outgoing edges removed. Then
        ``P(y | do(t)) = sum_z P(y | t, z) P(z)``.
        """
        if zs & self.descendants(treatments):
            return False
        return self.d_separated(treatments, outcome, zs, cut=treatments)

    def backdoor_candidates(self, treatments: int, outcome: int) -> int:
        """Nodes that may appear in a minimal back-door set: ancestors of treatments and outcome that
        are not descendants of a treatment (minimal sets lie inside ``An(T u Y)``)."""
        return self.ancestors(treatments | outcome) & ~self.descendants(treatments) & ~outcome

    def minimal_backdoor_sets(self, treatments: int, outcome: int, limit: int | None = None) -> list[int]:
        """All minimal back-door adjustment sets, smallest first, as bitmasks.

        Returns ``[0]`` when the empty set is valid (and then it is the only minimal set), and ``[]``
        when no valid set exists: the two answers are different. ``limit`` stops after that many.
        """
        return _minimal_sets(self, treatments, outcome, limit, kind="backdoor")

    def first_backdoor_set(self, treatments: int, outcome: int) -> int | None:
        """One minimal back-door set (smallest size, then lowest node indices), or ``None``."""
        sets = self.minimal_backdoor_sets(treatments, outcome, limit=1)
        return sets[0] if sets else None

    def is_mediation_set(self, x: int, y: int, ws: int) -> bool:
        """Whether covariates ``ws`` make the mediation formula valid for ``x -> y`` with mediators
        ``M = self.mediators(x, y)`` (Pearl 2001; 2014, conditions for the covariate-adjusted
        mediation formula in a Markovian model):

        1. no member of ``ws`` is a descendant of ``x``;
        2. ``ws`` blocks every back-door path from ``x`` to ``y``;
        3. ``ws`` blocks every back-door path from ``x`` to ``M``;
        4. ``ws u {x}`` blocks every back-door path from ``M`` to ``y``.

        Then, with ``x'`` the reference value,
        ``NDE = sum_{m,w} [P(y|x,m,w) - P(y|x',m,w)] P(m|x',w) P(w)`` and
        ``NIE = sum_{m,w} P(y|x',m,w) [P(m|x,w) - P(m|x',w)] P(w)``.
        """
        bx, by = 1 << x, 1 << y
        if ws & self.descendants(bx):
            return False
        if not self.d_separated(bx, by, ws, cut=bx):
            return False
        med = self.mediators(x, y)
        if med:
            if not self.d_separated(bx, med, ws, cut=bx):
                return False
            if not self.d_separated(med, by, ws | bx, cut=med):
                return False
        return True

    def minimal_mediation_sets(self, x: int, y: int, limit: int | None = None) -> list[int]:
        """All minimal covariate sets for the mediation formula (see :meth:`is_mediation_set`)."""
        return _minimal_sets(self, 1 << x, 1 << y, limit, kind="mediation")


def _minimal_sets(g: DAG, treatments: int, outcome: int, limit: int | None, kind: str) -> list[int]:
    if kind == "backdoor":
        cands = members(g.backdoor_candidates(treatments, outcome))
        valid = lambda z: g.is_backdoor_set(treatments, outcome, z)  # noqa: E731
    else:
        x = treatments.bit_length() - 1
        y = outcome.bit_length() - 1
        an = g.ancestors(outcome | treatments | g.mediators(x, y))
        cands = members(an & ~g.descendants(treatments) & ~outcome)
        valid = lambda z: g.is_mediation_set(x, y, z)  # noqa: E731
    found: list[int] = []
    for size in range(len(cands) + 1):
        for combo in combinations(cands, size):
            z = mask(combo)
            if any(f & z == f for f in found):
                continue
            if valid(z):
                found.append(z)
                if limit is not None and len(found) >= limit:
                    return found
        if found and found[0] == 0:
            return found
    return found


def random_dag(n: int, density: float, rng: _random.Random, connected: bool = True) -> DAG:
    """A random DAG whose node order 0..n-1 is topological; each forward pair is an edge with
    probability ``density``. With ``connected`` (default) the skeleton is made connected, as CaLM's
    graphs are, by adding a forward edge between a random node of each stray component and a random
    node of the component holding node 0."""
    if n < 1:
        raise ValueError("a graph needs at least one node")
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must lie in [0, 1], got {density}")
    rnd = rng.random
    edges = [(u, v) for v in range(1, n) for u in range(v) if rnd() < density]
    if connected and n > 1:
        nb = [0] * n
        for u, v in edges:
            nb[u] |= 1 << v
            nb[v] |= 1 << u
        while True:
            seen = 1
            frontier = 1
            while frontier:
                new = 0
                for i in members(frontier):
                    new |= nb[i]
                frontier = new & ~seen
                seen |= new
            stray = [i for i in range(n) if not seen >> i & 1]
            if not stray:
                break
            a = rng.choice(stray)
            b = rng.choice(members(seen))
            u, v = min(a, b), max(a, b)
            edges.append((u, v))
            nb[u] |= 1 << v
            nb[v] |= 1 << u
    return DAG(n, edges)
