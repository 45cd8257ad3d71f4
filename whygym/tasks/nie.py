"""Natural indirect effect: ``X`` held at ``x'`` on its direct path while the mediators move to the
values they would take under ``x``:

``NIE = P(Y_{x', M_x} = y) - P(Y_{x'} = y)
      = sum_{m, w} P(y | x', m, w) [P(m | x, w) - P(m | x', w)] P(w)``
"""

from __future__ import annotations

from whygym.tasks.core import (Derivation, mediation_steps, MissingTerm, Problem, Term, assign_text, configs, fmt4, open_text,
                               sign_conclusion, sum_prefix, try_sets)
from whygym.tasks.mediation import mediation_sets
from whygym.tasks.spec import TaskSpec, register


def has_path(dag, x, y):
    return dag.mediators(x, y) != 0


def pick_values(dag, x, y, rng):
    return {"x": rng.randint(0, 1), "y": rng.randint(0, 1)}


def indirect_path(p: Problem, X: int, Y: int) -> list[int] | None:
    """A directed path from X to Y through at least one mediator."""
    for m in sorted(range(p.dag.n), key=lambda i: i):
        if p.dag.mediators(X, Y) >> m & 1:
            a, b = p.dag.directed_path(X, m), p.dag.directed_path(m, Y)
            if a and b:
                return a + b[1:]
    return None


def derive(p: Problem, look, exhaustive: bool = False, decimals: int = 4,
           sets: list[int] | None = None) -> Derivation:
    """``sets`` replaces the valid mediation covariate sets (the auditor uses it to test
    whether a gold was made with another, possibly invalid, set)."""
    q = p.query
    X, Y, x, y = q["treatment"], q["outcome"], q["x"], q["y"]
    xp = 1 - x
    LX, LY = p.L(X), p.L(Y)
    f = lambda v: fmt4(v, decimals)  # noqa: E731
    med = p.dag.mediators(X, Y)
    if not med:
        s1 = (f"Check whether there is an indirect connect between treatment ({LX}) and outcome ({LY}). There is no "
              f"directed path with three or more vertices from {LX} to {LY}. So the answer is No.")
        return Derivation(0.0, {"Step 1": s1}, "no", structural_zero=True)
    eg = "->".join(p.L(i) for i in indirect_path(p, X, Y))
    s1 = (f"Check whether there is an indirect connect between treatment ({LX}) and outcome ({LY}). There exists "
          f"directed path(s) with three or more vertices from {LX} to {LY} (e.g. {eg})")

    def with_set(w: int) -> Derivation:
        M, W = open_text(p, med), open_text(p, w)
        wsfx = f",{W}" if w else ""
        sym = f"P({LY}={y}|{LX}={xp},{M}{wsfx})*[P({M}|{LX}={x}{wsfx})-P({M}|{LX}={xp}{wsfx})]"
        if w:
            sym += f"*P({W})"
        ex, ar, v = [], [], 0.0
        for wc in configs(w):
            wt = ("," + assign_text(p, wc)) if w else ""
            for mc in configs(med):
                mt = assign_text(p, mc)
                a = look(Term(((Y, y),), ((X, xp),) + mc + wc))
                b = look(Term(mc, ((X, x),) + wc))
                c = look(Term(mc, ((X, xp),) + wc))
                val = a * (b - c)
                e = f"P({LY}={y}|{LX}={xp},{mt}{wt})*[P({mt}|{LX}={x}{wt})-P({mt}|{LX}={xp}{wt})]"
                if w:
                    pw = look(Term(wc))
                    val *= pw
                    e += f"*P({assign_text(p, wc)})"
                    ar.append(f"{f(a)}*[{f(b)}-{f(c)}]*{f(pw)}")
                else:
                    ar.append(f"{f(a)}*({f(b)}-{f(c)})")
                v += val
                ex.append(e)
        s4 = f"NIE={sum_prefix(p, [med, w])}{sym}={'+'.join(ex)}"
        s6 = f"NIE={'+'.join(ar)}={f(v)}"
        s7, label = sign_conclusion("NIE", v, decimals)
        steps = mediation_steps(p, s1, med, w, s4, s6, s7)
        return Derivation(v, steps, label, adjustment=w, mediators=med, formula=s4)

    if sets is None:
        sets = mediation_sets(p.dag, X, Y, exhaustive)
    try:
        return try_sets(sets, look, with_set)
    except MissingTerm:
        if not exhaustive or p.dag.has_edge(X, Y):
            raise
    # No direct edge: Y_{x', M_x} = Y_x, so the NIE is the total effect, which other stated numbers
    # (e.g. P(y|x) alone in a chain) may determine.
    from whygym.tasks import ate

    d = ate.derive(p, look, exhaustive=True, decimals=decimals)
    steps = {"Step 1": s1 + f". There is no edge {LX}->{LY}, so NIE = P(Y_{{{LX}={xp}, M_{LX}={x}}}) - "
                             f"P(Y_{{{LX}={xp}}}) equals the total effect of {LX} on {LY}.",
             **{k: (v.replace("ATE", "NIE") if v else v) for k, v in d.steps.items() if k != "Step 1"}}
    return Derivation(d.value, steps, d.label, adjustment=d.adjustment, mediators=med, formula=d.formula)


#: How the question is written (``en[0]`` is the generator's, CaLM's own) and read back, per language
#: (:mod:`whygym.tasks.phrasing`).
PHRASINGS = {
    "en": (
        "Suppose {X} is held constant and the mediator changes to whatever value it would have attained under "
        "{X} changing to be {x}, would {Y} have been more likely to be {y}?",
    ),
    "cn": (
        "假如{X}保持不变，而所有中间变量被改变为当它们在{X}变化为{x}下的取值，那么{Y}更有可能为{y}吗？",
    ),
}
#: Paraphrases for the ``rephrased`` suite: (template, polarity); a "less" question turns the yes/no around.
REPHRASED = (
    (
        "Keeping {X} as it is but letting the mediators take the values they would have if {X} were {x}, "
        "would {Y} be more likely to be {y}?",
        "more"),
    (
        "If only the mediators responded as though {X} had become {x}, while {X} itself stayed unchanged, "
        "would the chance that {Y} is {y} increase?",
        "more"),
    (
        "With {X} held fixed and the mediators moved to their values under {X} being {x}, would {Y} be less "
        "likely to be {y}?",
        "less"),
)


SPEC = register(TaskSpec("NIE", "natural indirect effect", 3, True, has_path, pick_values, derive,
                         PHRASINGS, REPHRASED))
