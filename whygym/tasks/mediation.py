"""Shared by NDE and NIE: the mediator set and the covariate sets that make the mediation formula
valid (see :meth:`whygym.scm.graph.DAG.is_mediation_set`)."""

from __future__ import annotations

from itertools import combinations

from whygym.scm.graph import DAG, mask, members


def mediation_sets(dag: DAG, x: int, y: int, exhaustive: bool) -> list[int]:
    """Covariate sets to try: the first minimal valid one, or (auditing) all minimal ones followed by
    every valid set of up to 4 non-descendants of ``x`` (another author may have used a larger one)."""
    if not exhaustive:
        return dag.minimal_mediation_sets(x, y, limit=1)
    out = list(dag.minimal_mediation_sets(x, y))
    cands = members(dag.ancestors((1 << y) | (1 << x) | dag.mediators(x, y)) & ~dag.descendants(1 << x)
                    & ~(1 << y))
    for size in range(1, min(4, len(cands)) + 1):
        for c in combinations(cands, size):
            w = mask(c)
            if w not in out and dag.is_mediation_set(x, y, w):
                out.append(w)
    return out
