"""Exact causal quantities of a fully specified :class:`~whygym.scm.model.BinarySCM`, and the
Tian-Pearl bounds that observational plus interventional data allow.

Notation: ``x`` is a value of the treatment ``X``, ``x' = 1 - x``; ``y`` a value of the outcome ``Y``,
``y' = 1 - y``. ``Y_x`` is the potential outcome under ``do(X = x)``; ``M`` the mediators of
``X -> Y`` (nodes on directed paths from X to Y); ``P(y)`` means ``P(Y = y)``.

All functions take node indices and return floats.
"""

from __future__ import annotations

from dataclasses import dataclass

from whygym.scm.model import BinarySCM

__all__ = [
    "p_do", "average_treatment_effect", "controlled_direct_effect", "effect_of_treatment_on_treated",
    "natural_direct_effect", "natural_indirect_effect", "total_effect",
    "probability_of_necessity", "probability_of_sufficiency", "Bounds",
    "tian_pearl_bounds", "pn_bounds", "ps_bounds",
]


def p_do(scm: BinarySCM, y: int, y_value: int, do: dict[int, int]) -> float:
    """``P(Y = y_value | do(...))`` by graph surgery."""
    return scm.do(do).prob({y: y_value})


def average_treatment_effect(scm: BinarySCM, x: int, y: int, x_value: int = 1, y_value: int = 1) -> float:
    """``ATE = P(y | do(x)) - P(y | do(x'))``."""
    return p_do(scm, y, y_value, {x: x_value}) - p_do(scm, y, y_value, {x: 1 - x_value})


total_effect = average_treatment_effect


def controlled_direct_effect(scm: BinarySCM, x: int, y: int, fixed: dict[int, int], x_value: int = 1,
                             y_value: int = 1) -> float:
    """``CDE(m) = P(y | do(x, m)) - P(y | do(x', m))`` with the mediators held at ``fixed = m``."""
    return (p_do(scm, y, y_value, {x: x_value, **fixed})
            - p_do(scm, y, y_value, {x: 1 - x_value, **fixed}))


def effect_of_treatment_on_treated(scm: BinarySCM, x: int, y: int, x_value: int = 1, y_value: int = 1) -> float:
    """``ETT = P(Y_x = y | X = x) - P(Y_{x'} = y | X = x)`` among units with ``X = x``.

    By consistency the first term is ``P(y | x)``; the second is a cross-world counterfactual
    computed on the twin network. (CaLM's PROB for a question about units with ``X = x`` is exactly
    this quantity with ``x`` the factual value.)
    """
    factual = scm.prob({y: y_value}, given={x: x_value})
    cf = scm.counterfactual({y: y_value}, do={x: 1 - x_value}, factual={x: x_value})
    return factual - cf


def natural_direct_effect(scm: BinarySCM, x: int, y: int, x_value: int = 1, y_value: int = 1) -> float:
    """``NDE = P(Y_{x, M_{x'}} = y) - P(Y_{x'} = y)``: switch ``X`` from ``x'`` to ``x`` along the
    direct edge only, mediators kept at what they would be under ``x'``. (Pearl's ``NDE_{x',x}``.)"""
    return (scm.nested_mean(y, y_value, x, x_direct=x_value, x_mediators=1 - x_value)
            - p_do(scm, y, y_value, {x: 1 - x_value}))


def natural_indirect_effect(scm: BinarySCM, x: int, y: int, x_value: int = 1, y_value: int = 1) -> float:
    """``NIE = P(Y_{x', M_x} = y) - P(Y_{x'} = y)``: ``X`` held at ``x'`` on the direct edge while the
    mediators move to what they would be under ``x``. (Pearl's ``NIE_{x',x}``.)

    With Pearl's subscripts, ``TE_{a,b} = NDE_{a,b} - NIE_{b,a}``; in this module's arguments,
    ``total_effect(x=b) = natural_direct_effect(x=b) - natural_indirect_effect(x=a)`` for a = 1-b.
    """
    return (scm.nested_mean(y, y_value, x, x_direct=1 - x_value, x_mediators=x_value)
            - p_do(scm, y, y_value, {x: 1 - x_value}))


def probability_of_necessity(scm: BinarySCM, x: int, y: int, x_value: int = 1, y_value: int = 1) -> float:
    """``PN = P(Y_{x'} = y' | X = x, Y = y)``: among units with ``x`` and ``y``, the share whose ``y``
    would not have occurred without ``x``. Depends on the SCM's coupling (not identified from data)."""
    return scm.counterfactual({y: 1 - y_value}, do={x: 1 - x_value}, factual={x: x_value, y: y_value})


def probability_of_sufficiency(scm: BinarySCM, x: int, y: int, x_value: int = 1, y_value: int = 1) -> float:
    """``PS = P(Y_x = y | X = x', Y = y')``: among units with ``x'`` and ``y'``, the share for which
    setting ``x`` would have produced ``y``."""
    return scm.counterfactual({y: y_value}, do={x: x_value}, factual={x: 1 - x_value, y: 1 - y_value})


@dataclass(frozen=True)
class Bounds:
    lower: float
    upper: float

    def __contains__(self, v: float) -> bool:
        return self.lower - 1e-12 <= v <= self.upper + 1e-12


def tian_pearl_bounds(p_y: float, p_y_do_x: float, p_xy: float, p_x_y_cf: float) -> Bounds:
    """Bounds on ``P(Y_x = y | X = x', Y = y')`` (Tian & Pearl 2000), written for the
    counterfactual world ``(x, y)`` and the factual one ``(x', y')``:

    ``max{0, [P(y|do(x)) - P(y)] / P(x', y')} <= . <= min{1, [P(y|do(x)) - P(x, y)] / P(x', y')}``

    Parameters
    ----------
    p_y : ``P(y)``; p_y_do_x : ``P(y | do(x))``; p_xy : ``P(x, y)``; p_x_y_cf : ``P(x', y')`` (factual).

    PN and PS are both of this form: PN of ``(x, y)`` is ``P(Y_{x'} = y' | x, y)`` (counterfactual
    world ``(x', y')``), PS of ``(x, y)`` is ``P(Y_x = y | x', y')``.
    """
    lower = max(0.0, (p_y_do_x - p_y) / p_x_y_cf)
    upper = min(1.0, (p_y_do_x - p_xy) / p_x_y_cf)
    return Bounds(lower, upper)


def pn_bounds(scm: BinarySCM, x: int, y: int, x_value: int = 1, y_value: int = 1) -> Bounds:
    """``max{0, [P(y) - P(y|do(x'))]/P(x,y)} <= PN <= min{1, [P(y'|do(x')) - P(x',y')]/P(x,y)}``."""
    xv, yv = x_value, y_value
    return tian_pearl_bounds(p_y=scm.prob({y: 1 - yv}), p_y_do_x=p_do(scm, y, 1 - yv, {x: 1 - xv}),
                             p_xy=scm.prob({x: 1 - xv, y: 1 - yv}), p_x_y_cf=scm.prob({x: xv, y: yv}))


def ps_bounds(scm: BinarySCM, x: int, y: int, x_value: int = 1, y_value: int = 1) -> Bounds:
    """``max{0, [P(y|do(x)) - P(y)]/P(x',y')} <= PS <= min{1, [P(y|do(x)) - P(x,y)]/P(x',y')}``."""
    xv, yv = x_value, y_value
    return tian_pearl_bounds(p_y=scm.prob({y: yv}), p_y_do_x=p_do(scm, y, yv, {x: xv}),
                             p_xy=scm.prob({x: xv, y: yv}), p_x_y_cf=scm.prob({x: 1 - xv, y: 1 - yv}))
