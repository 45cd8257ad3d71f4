"""Probability of sufficiency, ``PS = P(Y_x = y | X = x', Y = y')``: among units that had neither
``x`` nor ``y``, the share for which ``x`` would have produced ``y``. Not identified from data; the
question asks for a Tian-Pearl bound (see :mod:`whygym.tasks.bounds`)."""

from __future__ import annotations

from whygym.tasks.bounds import derive_bound, has_path, pick_values
from whygym.tasks.core import Problem
from whygym.tasks.spec import TaskSpec, register


def derive(p: Problem, look, exhaustive: bool = False, decimals: int = 4, round_do: bool = True,
           sets: list[int] | None = None):
    return derive_bound("PS", p, look, exhaustive, decimals, round_do, sets)


def question(p: Problem) -> str:
    q = p.query
    X, Y = q["treatment"], q["outcome"]
    return (f"Given that {p.names[X]} was {p.word(X, q['x_factual'])} and {p.names[Y]} was "
            f"{p.word(Y, q['y_factual'])}, what is the {q['bound']} bound of the probability that {p.names[Y]} would "
            f"have been {p.word(Y, q['y'])} if the {p.names[X]} had been {p.word(X, q['x'])}?")


SPEC = register(TaskSpec("PS", "probability of sufficiency", 3, False, has_path, pick_values, derive, question,
                         allows_no_path=False))
