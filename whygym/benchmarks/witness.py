"""Witnesses that the stated numbers leave an answer open: two SCMs on the item's graph that reproduce every
stated number exactly and give answers on both sides of a threshold.

The auditor says "not determined" only with such a pair (issue 13): a search that fails proves nothing, so an
item without a witness stays a solver gap. The search works on the CPT parameters ``theta`` of binary SCMs on
the item's graph:

1. *fit*: from random starts, Gauss-Newton steps ``theta -= J^+ (stated(theta) - stated)`` until every
   stated probability is reproduced to 1e-12 (J: the Jacobian of the stated terms);
2. *push*: from the fit, move along the part of the answer's gradient that lies in the null space of J (the
   stated numbers stay put to first order), project back onto the stated values, and repeat, once towards
   larger and once towards smaller answers.

Each witness is checked again with the exact engine before it is returned (:meth:`Witness.check`): both
models reproduce every stated number within 1e-9 and their answers lie on both sides of the threshold.
"""

from __future__ import annotations

import random as _random
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from whygym.scm.model import BinarySCM
from whygym.tasks.core import Problem, SCMLookup, Term

__all__ = ["AnswerWitness", "fit_scm", "answer_witness"]


@dataclass
class AnswerWitness:
    """Two SCMs (CPTs as lists, ``P(V=1 | parents)``) that state the same numbers and answer differently."""

    cpts_low: list[list[float]]
    cpts_high: list[list[float]]
    answer_low: float
    answer_high: float
    threshold: float
    max_stated_gap: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def check(self, p: Problem, stated: dict[Term, float], answer: Callable[[BinarySCM], float]) -> bool:
        """Re-verify with the exact engine: both models reproduce every stated number, and their answers
        straddle the threshold."""
        got = []
        for cpts in (self.cpts_low, self.cpts_high):
            scm = BinarySCM(p.dag, [np.array(c) for c in cpts])
            look = SCMLookup(scm, p.ids, 12)
            if any(abs(look.exact(t) - v) > 1e-9 for t, v in stated.items()):
                return False
            got.append(answer(scm))
        return got[0] < self.threshold < got[1]


def _values(scm: BinarySCM, p: Problem, terms: Sequence[Term]) -> np.ndarray:
    look = SCMLookup(scm, p.ids, 12)
    return np.array([look.exact(t) for t in terms])


def _jac(f: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    cols = []
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        cols.append((f(theta + e) - f(theta - e)) / (2 * h))
    return np.array(cols).T


_LO, _HI = 1e-3, 1 - 1e-3  # CPT entries stay inside (0, 1): every conditional stays defined


def _project(f, theta: np.ndarray, target: np.ndarray, iters: int = 60,
             free: np.ndarray | None = None) -> np.ndarray | None:
    """Gauss-Newton onto ``f(theta) = target`` moving only the ``free`` coordinates (all by default); None
    when it leaves the open unit box or does not converge."""
    free = np.ones(theta.size, bool) if free is None else free
    for _ in range(iters):
        r = f(theta) - target
        if np.max(np.abs(r)) < 1e-12:
            break
        J = _jac(f, theta)[:, free]
        theta = theta.copy()
        theta[free] -= np.linalg.pinv(J) @ r
        if np.any(theta < _LO / 2) or np.any(theta > 1 - _LO / 2):
            return None
    if np.any(theta < _LO / 2) or np.any(theta > 1 - _LO / 2):
        return None
    return theta if np.max(np.abs(f(theta) - target)) < 1e-10 else None


def fit_scm(p: Problem, stated: dict[Term, float], rng: _random.Random, starts: int = 6) -> BinarySCM | None:
    """An SCM on ``p``'s graph that reproduces every stated probability (to 1e-10), or None."""
    shape = BinarySCM(p.dag, [np.zeros(1 << len(p.dag.parents[i])) for i in range(p.dag.n)], validate=False)
    terms = list(stated)
    target = np.array([stated[t] for t in terms])

    def f(theta):
        return _values(shape.with_params(theta), p, terms)

    for _ in range(starts):
        theta = np.array([rng.uniform(0.2, 0.8) for _ in range(shape.params().size)])
        got = _project(f, theta, target)
        if got is not None:
            return shape.with_params(got)
    return None


def answer_witness(p: Problem, stated: dict[Term, float], answer: Callable[[BinarySCM], float],
                   threshold: float = 0.0, rng: _random.Random | None = None, rounds: int = 40,
                   step: float = 0.2, reached: dict | None = None) -> AnswerWitness | None:
    """Two SCMs that reproduce ``stated`` and whose ``answer`` lies below and above ``threshold``, or None
    when the search finds none (which proves nothing). ``reached`` (a dict) receives the lowest and highest
    answers the search reached (``low``, ``high``)."""
    rng = rng or _random.Random(0)
    start = fit_scm(p, stated, rng)
    if start is None:
        return None
    terms = list(stated)
    target = np.array([stated[t] for t in terms])

    def f(theta):
        return _values(start.with_params(theta), p, terms)

    def ans(theta):
        return answer(start.with_params(theta))

    theta0 = start.params()
    ends = {}
    for sign in (-1.0, 1.0):
        theta = theta0.copy()
        for _ in range(rounds):
            try:
                a = ans(theta)
            except (ZeroDivisionError, LookupError, ValueError):
                break
            if (sign < 0 and a < threshold - 1e-6) or (sign > 0 and a > threshold + 1e-6):
                break
            g = sign * _jac(lambda t: np.array([ans(t)]), theta)[0]
            # coordinates at a bound that the ascent would push outwards are held there (active set)
            free = ~(((theta <= _LO * 1.5) & (g < 0)) | ((theta >= _HI - _LO * 0.5) & (g > 0)))
            if not free.any():
                break
            J = _jac(f, theta)[:, free]
            _, sv, vt = np.linalg.svd(J)
            rank = int((sv > 1e-9 * max(1.0, sv.max(initial=0.0))).sum())
            null = vt[rank:].T
            v = np.zeros_like(theta)
            v[free] = null @ (null.T @ g[free])
            norm = np.linalg.norm(v)
            if norm < 1e-10:
                break  # the answer does not move with the free parameters here
            v /= norm
            # the longest step (at most ``step``) that keeps every entry inside the box
            room = np.where(v > 0, (_HI - theta) / np.where(v > 0, v, 1), np.where(v < 0, (theta - _LO) / np.where(v < 0, -v, 1), np.inf))
            s_max = float(min(step, room.min()))
            moved = None
            for s_ in (s_max, s_max / 2, s_max / 4, s_max / 8):
                if s_ <= 1e-9:
                    break
                moved = _project(f, theta + s_ * v, target, free=free)
                if moved is not None:
                    break
            if moved is None:
                break
            theta = moved
        ends[sign] = theta
    lo_t, hi_t = ends[-1.0], ends[1.0]
    try:
        lo, hi = ans(lo_t), ans(hi_t)
    except (ZeroDivisionError, LookupError, ValueError):
        return None
    if reached is not None:
        reached.update(low=float(lo), high=float(hi))
    if not lo < threshold < hi:
        return None
    gap = float(max(np.max(np.abs(f(lo_t) - target)), np.max(np.abs(f(hi_t) - target))))
    w = AnswerWitness([list(map(float, c)) for c in start.with_params(lo_t).cpts],
                      [list(map(float, c)) for c in start.with_params(hi_t).cpts], float(lo), float(hi),
                      threshold, gap)
    return w if w.check(p, stated, answer) else None
