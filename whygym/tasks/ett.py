"""Effect of treatment on the treated, in CaLM's convention for a question about units with the
factual value ``X = x_f`` imagined at ``x_c = 1 - x_f``:

``PROB = E[Y_{x_f} - Y_{x_c} | X = x_f] = P(y | x_f) - sum_z P(y | x_c, z) P(z | x_f)``

with ``Z`` a back-door set. The question asks whether ``y`` would have been *more* likely under
``x_c``, so the answer is Yes exactly when PROB < 0.
"""

from __future__ import annotations

from whygym.tasks.ate import cause_check
from whygym.tasks.core import (Derivation, backdoor_steps, Problem, Term, assign_text, backdoor_sets, configs, fmt4,
                               open_text, sign_conclusion, sum_prefix, try_sets)
from whygym.tasks.spec import TaskSpec, register


def has_path(dag, x, y):
    return dag.is_ancestor(x, y)


def pick_values(dag, x, y, rng):
    xf = rng.randint(0, 1)
    return {"x_factual": xf, "x": 1 - xf, "y": rng.randint(0, 1)}


def derive(p: Problem, look, exhaustive: bool = False, decimals: int = 4,
           sets: list[int] | None = None) -> Derivation:
    """``sets`` replaces the valid adjustment sets (the deconfounding suite and the auditor use it
    to evaluate the naive or another author's formula)."""
    q = p.query
    X, Y, xc, y = q["treatment"], q["outcome"], q["x"], q["y"]
    xf = q.get("x_factual", 1 - xc)
    LX, LY = p.L(X), p.L(Y)
    f = lambda v: fmt4(v, decimals)  # noqa: E731
    s1, ok = cause_check(p, X, Y)
    if not ok:
        return Derivation(0.0, {"Step 1": s1}, "no", structural_zero=True)
    head = f"ETT=E[{LY}_{{{LX}={xf}}}-{LY}_{{{LX}={xc}}}|{LX}={xf}]=P({LY}={y}|{LX}={xf})"

    def with_set(z: int) -> Derivation:
        a = look(Term(((Y, y),), ((X, xf),)))
        if not z:
            b = look(Term(((Y, y),), ((X, xc),)))
            v = a - b
            s4 = f"{head}-P({LY}={y}|{LX}={xc})"
            s6 = f"ETT={f(a)}-{f(b)}={f(v)}"
        else:
            Z = open_text(p, z)
            ex, ar, tot = [], [], 0.0
            for zc in configs(z):
                zt = assign_text(p, zc)
                b = look(Term(((Y, y),), ((X, xc),) + zc))
                c = look(Term(zc, ((X, xf),)))
                tot += b * c
                ex.append(f"P({LY}={y}|{LX}={xc},{zt})*P({zt}|{LX}={xf})")
                ar.append(f"{f(b)}*{f(c)}")
            v = a - tot
            s4 = (f"{head}-{sum_prefix(p, [z])}P({LY}={y}|{LX}={xc},{Z})*P({Z}|{LX}={xf})"
                  f"=P({LY}={y}|{LX}={xf})-[{'+'.join(ex)}]")
            s6 = f"ETT={f(a)}-[{'+'.join(ar)}]={f(v)}"
        s7, label = sign_conclusion("ETT", v, decimals, positive_means_yes=False)
        steps = backdoor_steps(p, s1, LY, LX, z, s4, s6, s7)
        return Derivation(v, steps, label, adjustment=z, formula=s4)

    if sets is None:
        sets = backdoor_sets(p.dag, 1 << X, 1 << Y, exhaustive)
    return try_sets(sets, look, with_set)


#: How the question is written (``en[0]`` is the generator's, CaLM's own) and read back, per language
#: (:mod:`whygym.tasks.phrasing`).
PHRASINGS = {
    "en": (
        "For those with {X} being {xf}, if their {X} had been {x}, would the {Y} have been more likely to be {y}?",
    ),
    "cn": (
        "对于那些{X}为{xf}，假如{X}为{x}，那么{Y}更有可能为{y}吗？",
    ),
}
#: Paraphrases for the ``rephrased`` suite: (template, polarity); a "less" question turns the yes/no around.
REPHRASED = (
    ("Among those whose {X} was {xf}, would {Y} have been more likely to be {y} had their {X} been {x}?", "more"),
    (
        "Consider the individuals with {X} equal to {xf}. Had their {X} instead been {x}, would the "
        "probability that {Y} is {y} have been higher?",
        "more"),
    (
        "For units that actually had {X} being {xf}, would {Y} have been less likely to be {y} if their {X} "
        "had been {x}?",
        "less"),
)


SPEC = register(TaskSpec("ETT", "effect of treatment on the treated", 3, True, has_path, pick_values, derive,
                         PHRASINGS, REPHRASED))
