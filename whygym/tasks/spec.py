"""The task registry: every task module declares a :class:`TaskSpec`."""

from __future__ import annotations

import difflib
import random as _random
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from whygym.scm.graph import DAG

__all__ = ["TaskSpec", "register", "get_task", "TASKS"]


@dataclass(frozen=True)
class TaskSpec:
    """What the generator and the auditor need to know about one task.

    name : ``"ATE"`` etc.; full_name : e.g. ``"average treatment effect"``; rung : 2 or 3;
    yesno : answered with ``{"ANSWER", "PROB"}`` (else ``{"PROB"}``);
    has_path(dag, x, y) : whether the effect can be non-zero (else the answer is a structural 0);
    pick_values(dag, x, y, rng) : the rest of the query (values, fixed mediators, bound);
    derive(problem, lookup, exhaustive) -> Derivation;
    phrasings : ``{"en": (template, ...), "cn": (...)}``, how the question is written and read back
    (:mod:`whygym.tasks.phrasing`); ``phrasings["en"][0]`` is the one :meth:`question` writes;
    rephrased : ``((template, polarity), ...)``, the ``rephrased`` suite's paraphrases ("less" turns the
    yes/no answer around).
    """

    name: str
    full_name: str
    rung: int
    yesno: bool
    has_path: Callable[[DAG, int, int], bool]
    pick_values: Callable[[DAG, int, int, _random.Random], dict[str, Any]]
    derive: Callable[..., Any]
    phrasings: Mapping[str, tuple[str, ...]]
    rephrased: tuple[tuple[str, str], ...] = ()
    allows_no_path: bool = True

    def question(self, problem) -> str:
        """The question sentence of a problem, as CaLM writes it."""
        from whygym.tasks.phrasing import question_fields, render

        return render(self.phrasings["en"][0], question_fields(problem))

    def question_patterns(self, lang: str = "en", names: str = ".+?") -> list:
        """Compiled readers of every phrasing in ``lang`` (``fullmatch`` them; see :func:`~whygym.tasks.phrasing.pattern`)."""
        from whygym.tasks.phrasing import pattern

        return [pattern(t, lang, names) for t in self.phrasings.get(lang, ())]

    def instruction(self, problem) -> str:
        x, y = problem.query["treatment"], problem.query["outcome"]
        return f"Consider the {self.full_name} ({self.name}) of {problem.names[x]} on {problem.names[y]}."


TASKS: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    TASKS[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    """Look a task up by name (case-insensitive); an unknown name gets the nearest suggestion."""
    key = name.strip().upper()
    if key in TASKS:
        return TASKS[key]
    near = difflib.get_close_matches(key, list(TASKS), n=1)
    hint = f"; did you mean {near[0]}?" if near else ""
    raise KeyError(f"unknown task {name!r}{hint} Known tasks: {', '.join(TASKS)}")
