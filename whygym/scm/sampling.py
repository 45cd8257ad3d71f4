"""Random binary SCMs: a random DAG and random conditional probability tables."""

from __future__ import annotations

import random as _random

import numpy as np

from whygym.scm.graph import DAG, random_dag
from whygym.scm.model import BinarySCM

__all__ = ["random_cpts", "random_scm"]


def random_cpts(dag: DAG, rng: _random.Random, low: float = 0.02, high: float = 0.98) -> list[np.ndarray]:
    """One CPT per node, entries ``P(V_i = 1 | pa)`` drawn uniformly from ``[low, high]``.

    Bounded away from 0 and 1 so that every conditional the tasks state is well defined and no
    stated number rounds to 0.0000 or 1.0000.
    """
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"need 0 <= low < high <= 1, got {low}, {high}")
    span = high - low
    u = rng.random
    return [np.array([low + span * u() for _ in range(1 << len(dag.parents[i]))]) for i in range(dag.n)]


def random_scm(n: int, density: float, rng: _random.Random, coupling: str = "comonotone",
               low: float = 0.02, high: float = 0.98) -> BinarySCM:
    """A random connected DAG on ``n`` nodes (edge probability ``density``) with random CPTs."""
    dag = random_dag(n, density, rng)
    return BinarySCM(dag, random_cpts(dag, rng, low, high), coupling)
