"""Average treatment effect: ``ATE = P(y | do(x)) - P(y | do(x'))``, identified by back-door
adjustment ``P(y | do(x)) = sum_z P(y | x, z) P(z)`` with a minimal back-door set ``Z``."""

from __future__ import annotations

from whygym.tasks.core import (Derivation, backdoor_steps, Problem, Term, assign_text, backdoor_sets, configs, fmt4,
                               open_text, sign_conclusion, sum_prefix, try_sets)
from whygym.tasks.spec import TaskSpec, register


def has_path(dag, x, y):
    return dag.is_ancestor(x, y)


def pick_values(dag, x, y, rng):
    return {"x": rng.randint(0, 1), "y": rng.randint(0, 1)}


def cause_check(p: Problem, X: int, Y: int) -> tuple[str, bool]:
    """Step 1 of ATE/ETT: is the treatment a cause of the outcome?"""
    LX, LY = p.L(X), p.L(Y)
    path = p.dag.directed_path(X, Y)
    if path is None or X == Y:
        return (f"Check whether treatment ({LX}) is a cause of outcome ({LY}). Node {LX} is not a cause of node "
                f"{LY} because there is no directed path from {LX} to {LY}. So the answer is No."), False
    eg = "->".join(p.L(i) for i in path)
    return (f"Check whether treatment ({LX}) is a cause of outcome ({LY}). Node {LX} is a cause of node {LY} "
            f"because there is one or more directed paths from {LX} to {LY} (e.g. {eg})."), True


def derive(p: Problem, look, exhaustive: bool = False, decimals: int = 4,
           sets: list[int] | None = None) -> Derivation:
    """``sets`` replaces the valid adjustment sets (the deconfounding suite and the auditor use it
    to evaluate the naive or another author's formula)."""
    q = p.query
    X, Y, x, y = q["treatment"], q["outcome"], q["x"], q["y"]
    xp = 1 - x
    LX, LY = p.L(X), p.L(Y)
    s1, ok = cause_check(p, X, Y)
    if not ok:
        return Derivation(0.0, {"Step 1": s1}, "no", structural_zero=True)
    f = lambda v: fmt4(v, decimals)  # noqa: E731
    do_txt = f"ATE=P({LY}={y}|do({LX}={x}))-P({LY}={y}|do({LX}={xp}))"

    def with_set(z: int) -> Derivation:
        if not z:
            a = look(Term(((Y, y),), ((X, x),)))
            b = look(Term(((Y, y),), ((X, xp),)))
            v = a - b
            s4 = f"{do_txt}=P({LY}={y}|{LX}={x})-P({LY}={y}|{LX}={xp})"
            s6 = f"ATE={f(a)}-{f(b)}={f(v)}"
        else:
            Z = open_text(p, z)
            sym = f"{sum_prefix(p, [z])}[P({LY}={y}|{LX}={x},{Z})*P({Z})-P({LY}={y}|{LX}={xp},{Z})*P({Z})]"
            ex, ar, v = [], [], 0.0
            for zc in configs(z):
                zt = assign_text(p, zc)
                a = look(Term(((Y, y),), ((X, x),) + zc))
                b = look(Term(((Y, y),), ((X, xp),) + zc))
                pz = look(Term(zc))
                v += a * pz - b * pz
                ex.append(f"[P({LY}={y}|{LX}={x},{zt})*P({zt})-P({LY}={y}|{LX}={xp},{zt})*P({zt})]")
                ar.append(f"[{f(a)}*{f(pz)}-{f(b)}*{f(pz)}]")
            s4 = f"{do_txt}={sym}={'+'.join(ex)}"
            s6 = f"ATE={'+'.join(ar)}={f(v)}"
        s7, label = sign_conclusion("ATE", v, decimals)
        steps = backdoor_steps(p, s1, LY, LX, z, s4, s6, s7)
        return Derivation(v, steps, label, adjustment=z, formula=s4)

    if sets is None:
        sets = backdoor_sets(p.dag, 1 << X, 1 << Y, exhaustive)
    return try_sets(sets, look, with_set)


#: How the question is written (``en[0]`` is the generator's, CaLM's own) and read back, per language
#: (:mod:`whygym.tasks.phrasing`).
PHRASINGS = {
    "en": (
        "If {X} is changed to be {x}, will {Y} be more likely to be {y}?",
    ),
    "cn": (
        "如果{X}被改变为{x}，那么{Y}更有可能为{y}吗？",
    ),
}
#: Paraphrases for the ``rephrased`` suite: (template, polarity); a "less" question turns the yes/no around.
REPHRASED = (
    ("Would setting {X} to {x} make it more likely that {Y} is {y}?", "more"),
    ("Suppose we intervene and make {X} {x}. Does the chance that {Y} is {y} go up?", "more"),
    ("If {X} were set to {x} by intervention, would {Y} be less likely to be {y}?", "less"),
    ("Does forcing {X} to be {x} lower the probability that {Y} is {y}?", "less"),
)


SPEC = register(TaskSpec("ATE", "average treatment effect", 2, True, has_path, pick_values, derive,
                         PHRASINGS, REPHRASED))
