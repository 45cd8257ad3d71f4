"""Controlled direct effect with every mediator held fixed:
``CDE(m) = P(y | do(x, m)) - P(y | do(x', m))``, identified by back-door adjustment for the joint
treatment ``{X} u M``: ``sum_z [P(y | x, m, z) - P(y | x', m, z)] P(z)``."""

from __future__ import annotations

from whygym.scm.graph import members
from whygym.tasks.core import (Derivation, backdoor_steps, Problem, Term, assign_text, backdoor_sets, configs, fmt4,
                               open_text, sign_conclusion, sum_prefix, try_sets)
from whygym.tasks.spec import TaskSpec, register


def has_path(dag, x, y):
    return dag.has_edge(x, y)


def eligible(dag, x, y):
    """CDE questions hold at least one mediator fixed (as CaLM's do)."""
    return x != y and dag.mediators(x, y) != 0


def pick_values(dag, x, y, rng):
    fixed = {m: rng.randint(0, 1) for m in members(dag.mediators(x, y))}
    return {"x": rng.randint(0, 1), "y": rng.randint(0, 1), "fixed": fixed}


def derive(p: Problem, look, exhaustive: bool = False, decimals: int = 4,
           sets: list[int] | None = None) -> Derivation:
    """``sets`` replaces the valid adjustment sets (the deconfounding suite and the auditor use it
    to evaluate the naive or another author's formula)."""
    q = p.query
    X, Y, x, y = q["treatment"], q["outcome"], q["x"], q["y"]
    fixed = dict(q["fixed"])
    xp = 1 - x
    LX, LY = p.L(X), p.L(Y)
    f = lambda v: fmt4(v, decimals)  # noqa: E731
    if not p.dag.has_edge(X, Y):
        s1 = f"Check whether there is an edge from treatment ({LX}) to outcome ({LY}). The edge {LX}->{LY} does not exist."
        return Derivation(0.0, {"Step 1": s1}, "no", structural_zero=True)
    s1 = f"Check whether there is an edge from treatment ({LX}) to outcome ({LY}). The edge {LX}->{LY} exists."
    mfix = tuple(sorted(fixed.items()))
    tmask = 1 << X
    for m in fixed:
        tmask |= 1 << m
    all_t = ",".join([LX] + [p.L(m) for m, _ in mfix])
    mt = assign_text(p, mfix)
    do_txt = f"CDE=P({LY}={y}|do({LX}={x},{mt}))-P({LY}={y}|do({LX}={xp},{mt}))"

    def with_set(z: int) -> Derivation:
        if not z:
            a = look(Term(((Y, y),), ((X, x),) + mfix))
            b = look(Term(((Y, y),), ((X, xp),) + mfix))
            v = a - b
            s4 = f"{do_txt}=P({LY}={y}|{LX}={x},{mt})-P({LY}={y}|{LX}={xp},{mt})"
            s6 = f"CDE={f(a)}-{f(b)}={f(v)}"
        else:
            Z = open_text(p, z)
            sym = f"{sum_prefix(p, [z])}[P({LY}={y}|{LX}={x},{mt},{Z})-P({LY}={y}|{LX}={xp},{mt},{Z})]*P({Z})"
            ex, ar, v = [], [], 0.0
            for zc in configs(z):
                zt = assign_text(p, zc)
                a = look(Term(((Y, y),), ((X, x),) + mfix + zc))
                pz = look(Term(zc))
                b = look(Term(((Y, y),), ((X, xp),) + mfix + zc))
                v += (a - b) * pz
                ex.append(f"[P({LY}={y}|{LX}={x},{mt},{zt})-P({LY}={y}|{LX}={xp},{mt},{zt})]*P({zt})")
                ar.append(f"[{f(a)}-{f(b)}]*{f(pz)}")
            s4 = f"{do_txt}={sym}={'+'.join(ex)}"
            s6 = f"CDE={'+'.join(ar)}={f(v)}"
        s7, label = sign_conclusion("CDE", v, decimals)
        steps = backdoor_steps(p, s1, LY, all_t, z, s4, s6, s7)
        return Derivation(v, steps, label, adjustment=z, mediators=tmask & ~(1 << X), formula=s4)

    if sets is None:
        sets = backdoor_sets(p.dag, tmask, 1 << Y, exhaustive)
    return try_sets(sets, look, with_set)


#: How the question is written (``en[0]`` is the generator's, CaLM's own) and read back, per language
#: (:mod:`whygym.tasks.phrasing`).
PHRASINGS = {
    "en": (
        "Conditioned on {cond}, if the {X} had been {x}, would the {Y} have been more likely to be {y}?",
    ),
    "cn": (
        "在{cond}的条件下，假如{X}为{x}，那么{Y}更有可能为{y}吗？",
    ),
}
#: Paraphrases for the ``rephrased`` suite: (template, polarity); a "less" question turns the yes/no around.
REPHRASED = (
    ("Holding {cond_at} fixed, would changing {X} to {x} make {Y} more likely to be {y}?", "more"),
    ("With {cond_at} kept as they are, does setting {X} to {x} raise the chance that {Y} is {y}?", "more"),
    ("If {cond_at} are held fixed and {X} is set to {x}, would {Y} be less likely to be {y}?", "less"),
)


SPEC = register(TaskSpec("CDE", "controlled direct effect", 2, True, has_path, pick_values, derive,
                         PHRASINGS, REPHRASED))
