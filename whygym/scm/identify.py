"""Identifiability of an interventional distribution P(y | do(x)) in a causal graph with latent confounders
(directed edges plus bidirected edges), decided by the ID algorithm of Shpitser and Pearl (2006), with the
expressions it would build left out: it fails exactly when the graph holds a hedge for the query.

Nodes are strings; ``directed`` is a list of (parent, child) pairs and ``bidirected`` a list of pairs that
share an unobserved confounder.

>>> identified({"Y"}, {"X"}, [("X", "Y")], [("X", "Y")])           # the bow: no
False
>>> identified({"Y"}, {"X"}, [("X", "M"), ("M", "Y")], [("X", "Y")])  # the front door: yes
True
>>> identified({"Y"}, {"X"}, [("W1", "W2"), ("W2", "X"), ("X", "Y")], [("W1", "X"), ("W1", "Y")])  # the napkin
True
"""

from __future__ import annotations

from typing import Iterable

__all__ = ["identified", "c_components"]


class _Graph:
    def __init__(self, nodes: Iterable[str], directed, bidirected):
        self.nodes = frozenset(nodes)
        self.directed = [(a, b) for a, b in directed if a in self.nodes and b in self.nodes]
        self.bidirected = [(a, b) for a, b in bidirected if a in self.nodes and b in self.nodes and a != b]

    def sub(self, keep) -> "_Graph":
        return _Graph(keep, self.directed, self.bidirected)

    def ancestors(self, ys, cut_incoming=frozenset()) -> frozenset:
        """``ys`` and their ancestors, in the graph with the edges into ``cut_incoming`` removed."""
        parents: dict[str, set] = {}
        for a, b in self.directed:
            if b not in cut_incoming:
                parents.setdefault(b, set()).add(a)
        out, stack = set(ys) & self.nodes, list(set(ys) & self.nodes)
        while stack:
            for p in parents.get(stack.pop(), ()):
                if p not in out:
                    out.add(p)
                    stack.append(p)
        return frozenset(out)


def c_components(nodes: Iterable[str], bidirected) -> list[frozenset]:
    """The districts: the nodes' classes under the bidirected edges among them.

    >>> sorted(sorted(c) for c in c_components("ABCD", [("A", "C"), ("C", "D")]))
    [['A', 'C', 'D'], ['B']]
    """
    nodes = set(nodes)
    nbr: dict[str, set] = {n: set() for n in nodes}
    for a, b in bidirected:
        if a in nodes and b in nodes:
            nbr[a].add(b)
            nbr[b].add(a)
    out, seen = [], set()
    for n in sorted(nodes):
        if n in seen:
            continue
        comp, stack = {n}, [n]
        while stack:
            for m in nbr[stack.pop()]:
                if m not in comp:
                    comp.add(m)
                    stack.append(m)
        seen |= comp
        out.append(frozenset(comp))
    return out


def _id(y: frozenset, x: frozenset, g: _Graph, depth: int = 0) -> bool:
    if depth > 200:
        raise RecursionError("ID recursion did not end")
    v = g.nodes
    if not x:                                                      # line 1: P(y) itself
        return True
    an = g.ancestors(y)
    if an != v:                                                    # line 2: drop non-ancestors of y
        return _id(y, x & an, g.sub(an), depth + 1)
    w = (v - x) - g.ancestors(y, cut_incoming=x)
    if w:                                                          # line 3: intervene on them too
        return _id(y, x | w, g, depth + 1)
    cs = c_components(v - x, g.bidirected)
    if len(cs) > 1:                                                # line 4: factorise by districts
        return all(_id(s, v - s, g, depth + 1) for s in cs)
    (s,) = cs
    whole = c_components(v, g.bidirected)
    if len(whole) == 1:                                            # line 5: a hedge
        return False
    if s in whole:                                                 # line 6
        return True
    bigger = next(c for c in whole if s <= c)                      # line 7
    return _id(y, x & bigger, g.sub(bigger), depth + 1)


def identified(y: Iterable[str], x: Iterable[str], directed, bidirected, nodes: Iterable[str] = ()) -> bool:
    """Whether P(y | do(x)) is identified from the observational distribution of the graph's nodes."""
    y, x = frozenset(y), frozenset(x)
    if y & x:  # do(X=x) fixes X: P(x | do(x)) is 1 and needs nothing
        y = y - x
        if not y:
            return True
    allnodes = set(nodes) | y | x | {n for e in directed for n in e} | {n for e in bidirected for n in e}
    return _id(y, x, _Graph(allnodes, directed, bidirected))
