"""Shared by PN and PS: Tian-Pearl bounds on ``P(Y_{x_c} = y_c | X = x_f, Y = y_f)`` with
``x_c = 1 - x_f``, ``y_c = 1 - y_f`` (the factual world ``(x_f, y_f)``, the counterfactual ``(x_c, y_c)``):

``lower = max{0, [P(y_f) - P(y_f | do(x_c))] / P(x_f, y_f)}``
``upper = min{1, [P(y_c | do(x_c)) - P(x_c, y_c)] / P(x_f, y_f)}``

PN asks it with the factual world "treatment and outcome present", PS with "absent"; the formula is
the same. ``P(y | do(x_c))`` comes from back-door adjustment and, as in CaLM, is rounded to the
stated precision before it enters the bound.
"""

from __future__ import annotations

from whygym.tasks.core import (Derivation, Problem, Term, assign_text, backdoor_sets, configs, fmt4, open_text,
                               sum_prefix, try_sets)


def has_path(dag, x, y):
    return dag.is_ancestor(x, y)


def pick_values(dag, x, y, rng):
    xf, yf = rng.randint(0, 1), rng.randint(0, 1)
    return {"x_factual": xf, "y_factual": yf, "x": 1 - xf, "y": 1 - yf,
            "bound": "upper" if rng.random() < 0.5 else "lower"}


def derive_bound(name: str, p: Problem, look, exhaustive: bool = False, decimals: int = 4,
                 round_do: bool = True, sets: list[int] | None = None) -> Derivation:
    """``round_do=False`` keeps ``P(y|do(x))`` unrounded (the other convention; the auditor uses it)."""
    q = p.query
    X, Y = q["treatment"], q["outcome"]
    xf, yf = q["x_factual"], q["y_factual"]
    xc, yc = 1 - xf, 1 - yf
    upper = q["bound"] == "upper"
    LX, LY = p.L(X), p.L(Y)
    f = lambda v: fmt4(v, decimals)  # noqa: E731
    yd = yc if upper else yf  # the outcome value inside the do-term
    do_t = f"P({LY}={yd}|do({LX}={xc}))"

    def with_set(z: int) -> Derivation:
        if not z:
            d = look(Term(((Y, yd),), ((X, xc),)))
            s1 = f"Calculate {do_t}\n{do_t}=P({LY}={yd}|{LX}={xc})={f(d)}"
        else:
            Z = open_text(p, z)
            ex, ar, vals, tot = [], [], [], 0.0
            for zc in configs(z):
                zt = assign_text(p, zc)
                a = look(Term(((Y, yd),), ((X, xc),) + zc))
                pz = look(Term(zc))
                tot += a * pz
                ex.append(f"P({LY}={yd}|{LX}={xc},{zt})*P({zt})")
                ar.append(f"{f(a)}*{f(pz)}")
                vals += [f"P({LY}={yd}|{LX}={xc},{zt})={f(a)}", f"P({zt})={f(pz)}"]
            d = round(tot, decimals) if round_do else tot
            s1 = (f"Calculate {do_t}\n{do_t}={sum_prefix(p, [z])}P({LY}={yd}|{LX}={xc},{Z})*P({Z})={'+'.join(ex)}\n"
                  + "\t".join(vals) + f"\n{do_t}={'+'.join(ar)}={f(d)}")
        den = look(Term(((X, xf), (Y, yf))))
        if den == 0:
            raise ZeroDivisionError(f"P({LX}={xf},{LY}={yf}) = 0: the bound is undefined")
        if upper:
            j = look(Term(((X, xc), (Y, yc))))
            r = (d - j) / den
            v = min(1.0, r)
            s2 = (f"Upper bound of {name}: min{{1, [{do_t}-P({LX}={xc},{LY}={yc})]/P({LX}={xf},{LY}={yf})}}\n"
                  f"=min{{1, ({f(d)}-{f(j)})/{f(den)}}}\n=min{{1, {f(r)}}}\n={f(v)}")
        else:
            o = look(Term(((Y, yf),)))
            r = (o - d) / den
            v = max(0.0, r)
            s2 = (f"Lower bound of {name}: max{{0, [P({LY}={yf})-{do_t}]/P({LX}={xf},{LY}={yf})}}\n"
                  f"=max{{0, ({f(o)}-{f(d)})/{f(den)}}}\n=max{{0, {f(r)}}}\n={f(v)}")
        return Derivation(v, {"Step 1": s1, "Step 2": s2}, None, adjustment=z, formula=s2.split("\n")[0])

    if sets is None:
        sets = backdoor_sets(p.dag, 1 << X, 1 << Y, exhaustive)
    return try_sets(sets, look, with_set)


#: How CaLM writes a bound question, EN: PN's phrasing ("the probability of the Y would have been") and
#: PS's ("the probability that Y would have been"); each task writes its own first and reads both.
BOUND_QUESTIONS_EN = (
    "Given that {X} was {xf} and {Y} was {yf}, what is the {bound} bound of the probability of the {Y} would "
    "have been {y} if the {X} had been {x}?",
    "Given that {X} was {xf} and {Y} was {yf}, what is the {bound} bound of the probability that {Y} would "
    "have been {y} if the {X} had been {x}?",
)
#: ... and CN (with and without 那么), for reading.
BOUND_QUESTIONS_CN = (
    "给定{X}为{xf}且{Y}为{yf}，那么假如{X}为{x}，此时{Y}为{y}的概率的{bound}是多少？",
    "给定{X}为{xf}且{Y}为{yf}，假如{X}为{x}，此时{Y}为{y}的概率的{bound}是多少？",
)
#: Paraphrases for the ``rephrased`` suite (no polarity: a bound has no yes/no).
BOUND_REPHRASED = (
    (
        "Given that {X} was {xf} and {Y} was {yf}, what is the {bound} bound on the probability that {Y} "
        "would have been {y} had {X} been {x}?",
        ""),
    (
        "We observe {X} being {xf} and {Y} being {yf}. Give the {bound} bound of the probability that, had "
        "{X} been {x}, {Y} would have been {y}.",
        ""),
    (
        "Among cases with {X} being {xf} and {Y} being {yf}, what is the {bound} bound of the chance that {Y} "
        "would have been {y} if {X} had been {x}?",
        ""),
)


def bound_phrasings(task: str) -> dict[str, tuple[str, ...]]:
    """:attr:`~whygym.tasks.spec.TaskSpec.phrasings` of PN or PS: its own EN phrasing first."""
    en = BOUND_QUESTIONS_EN if task == "PN" else BOUND_QUESTIONS_EN[::-1]
    return {"en": en, "cn": BOUND_QUESTIONS_CN}
