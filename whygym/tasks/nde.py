"""Natural direct effect of switching ``X`` from ``x'`` to ``x`` with the mediators kept at the values
they would take under ``x'``:

``NDE = P(Y_{x, M_{x'}} = y) - P(Y_{x'} = y)
      = sum_{m, w} [P(y | x, m, w) - P(y | x', m, w)] P(m | x', w) P(w)``

with ``M`` all mediators and ``W`` a covariate set valid for the mediation formula.
"""

from __future__ import annotations

from whygym.tasks.core import (Derivation, mediation_steps, Problem, Term, assign_text, configs, fmt4, open_text,
                               sign_conclusion, sum_prefix, try_sets)
from whygym.tasks.mediation import mediation_sets
from whygym.tasks.spec import TaskSpec, register


def has_path(dag, x, y):
    return dag.has_edge(x, y)


def pick_values(dag, x, y, rng):
    return {"x": rng.randint(0, 1), "y": rng.randint(0, 1)}


def derive(p: Problem, look, exhaustive: bool = False, decimals: int = 4,
           sets: list[int] | None = None) -> Derivation:
    """``sets`` replaces the valid mediation covariate sets (the auditor uses it to test
    whether a gold was made with another, possibly invalid, set)."""
    q = p.query
    X, Y, x, y = q["treatment"], q["outcome"], q["x"], q["y"]
    xp = 1 - x
    LX, LY = p.L(X), p.L(Y)
    f = lambda v: fmt4(v, decimals)  # noqa: E731
    if not p.dag.has_edge(X, Y):
        s1 = (f"Check whether there is an edge from treatment ({LX}) to outcome ({LY}). The edge {LX}->{LY} does not "
              f"exist. So the answer is No.")
        return Derivation(0.0, {"Step 1": s1}, "no", structural_zero=True)
    s1 = f"Check whether there is an edge from treatment ({LX}) to outcome ({LY}). The edge {LX}->{LY} exists."
    med = p.dag.mediators(X, Y)

    def with_set(w: int) -> Derivation:
        M, W = open_text(p, med), open_text(p, w)
        mw = ",".join(s for s in (M, W) if s)
        sfx = f",{mw}" if mw else ""
        sym = f"[P({LY}={y}|{LX}={x}{sfx})-P({LY}={y}|{LX}={xp}{sfx})]"
        if med:
            sym += f"*P({M}|{LX}={xp}" + (f",{W})" if w else ")")
        if w:
            sym += f"*P({W})"
        ex, ar, v = [], [], 0.0
        for wc in configs(w):
            for mc in configs(med):
                a = look(Term(((Y, y),), ((X, x),) + mc + wc))
                b = look(Term(((Y, y),), ((X, xp),) + mc + wc))
                t = assign_text(p, mc + wc)
                term_ex = f"[P({LY}={y}|{LX}={x}{',' + t if t else ''})-P({LY}={y}|{LX}={xp}{',' + t if t else ''})]"
                term_ar = f"({f(a)}-{f(b)})" if (med or w) else None
                val = a - b
                if med:
                    pm = look(Term(mc, ((X, xp),) + wc))
                    val *= pm
                    term_ex += f"*P({assign_text(p, mc)}|{LX}={xp}{',' + assign_text(p, wc) if w else ''})"
                    term_ar += f"*{f(pm)}"
                if w:
                    pw = look(Term(wc))
                    val *= pw
                    term_ex += f"*P({assign_text(p, wc)})"
                    term_ar = (term_ar if med else f"[{f(a)}-{f(b)}]") + f"*{f(pw)}"
                v += val
                ex.append(term_ex)
                ar.append(term_ar if term_ar is not None else f"{f(a)}-{f(b)}")
        if not med and not w:
            s4 = f"NDE=P({LY}={y}|{LX}={x})-P({LY}={y}|{LX}={xp})"
        else:
            s4 = f"NDE={sum_prefix(p, [med, w])}{sym}={'+'.join(ex)}"
        s6 = f"NDE={'+'.join(ar)}={f(v)}"
        s7, label = sign_conclusion("NDE", v, decimals)
        steps = mediation_steps(p, s1, med, w, s4, s6, s7)
        return Derivation(v, steps, label, adjustment=w, mediators=med, formula=s4)

    if sets is None:
        sets = mediation_sets(p.dag, X, Y, exhaustive)
    return try_sets(sets, look, with_set)


#: How the question is written (``en[0]`` is the generator's, CaLM's own) and read back, per language
#: (:mod:`whygym.tasks.phrasing`).
PHRASINGS = {
    "en": (
        "Suppose the mediator keeps constant when {X} is changed to be {x}, would the {Y} have been more "
        "likely to be {y}?",
    ),
    "cn": (
        "假如所有中间变量保持不变，而{X}变化为{x}，那么{Y}更有可能为{y}吗？",
    ),
}
#: Paraphrases for the ``rephrased`` suite: (template, polarity); a "less" question turns the yes/no around.
REPHRASED = (
    (
        "If {X} changed to {x} while every mediator stayed at the value it would otherwise have had, would "
        "{Y} be more likely to be {y}?",
        "more"),
    (
        "Along the direct path only, with the mediators held at their values under the other level of {X}, "
        "would switching {X} to {x} raise the chance that {Y} is {y}?",
        "more"),
    ("If {X} changed to {x} but the mediators did not respond, would {Y} be less likely to be {y}?", "less"),
)


SPEC = register(TaskSpec("NDE", "natural direct effect", 3, True, has_path, pick_values, derive,
                         PHRASINGS, REPHRASED))
