"""Probability of necessity, ``PN = P(Y_{x'} = y' | X = x, Y = y)``: among units that had ``x`` and
``y``, the share whose ``y`` would not have happened without ``x``. Not identified from data; the
question asks for a Tian-Pearl bound (see :mod:`whygym.tasks.bounds`)."""

from __future__ import annotations

from whygym.tasks.bounds import BOUND_REPHRASED, bound_phrasings, derive_bound, has_path, pick_values
from whygym.tasks.core import Problem
from whygym.tasks.spec import TaskSpec, register


def derive(p: Problem, look, exhaustive: bool = False, decimals: int = 4, round_do: bool = True,
           sets: list[int] | None = None):
    return derive_bound("PN", p, look, exhaustive, decimals, round_do, sets)


SPEC = register(TaskSpec("PN", "probability of necessity", 3, False, has_path, pick_values, derive,
                         bound_phrasings("PN"), BOUND_REPHRASED,
                         allows_no_path=False))
