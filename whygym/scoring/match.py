"""Match modes: is an extracted answer right?

:func:`score` decides one outcome per model output, exactly one of ``"correct"``, ``"wrong"``,
``"unparsed"``.

What is compared
----------------
* Gold with ``"prob"``: the outcome is decided on ``PROB`` (both published scorers score ``PROB``
  only). When the gold also has a ``"label"``, whether the predicted ``ANSWER`` agrees is reported
  separately in :attr:`Outcome.label_correct` (``False`` when the prediction has no label).
* Gold with only ``"label"``: the outcome is decided on the label, compared case-insensitively
  (``"Yes"`` == ``"yes"``). A gold label ``LACK_CONDITION`` is matched by a ``LACK_CONDITION``
  answer (bare or as a JSON value).

Modes
-----
``strict`` (default, whygym's sound scorer)
    The final answer only (the last one outside ``<think>``; none if a think block is unclosed).
    Correct iff ``|pred - gold| <= 5e-5 + 1e-9``. With the exact, unrounded gold this accepts
    exactly the correct 4-decimal roundings of the gold (both of them at an exact tie
    ``x.xxxx5``, where rounding direction is a convention) and anything closer; the ``1e-9``
    absorbs binary floating-point noise (``0.3847 - 0.38475`` is not exactly ``-5e-5`` in floats)
    and is far below the 1e-4 grain of the answers.
``caugym`` (CauGym's published rule)
    Correct if ANY answer anywhere in the output, inside ``<think>`` or not, final or not, has
    ``|PROB - gold| < 0.0005`` (a label gold: any answer with that label; ``LACK_CONDITION``: any
    occurrence). Note the tolerance is 10x that of ``strict``: a 3-decimal answer passes, and a
    model listing several candidates is credited if one of them is close.
``calm`` (CaLM's published rule)
    The final answer; correct iff ``round(pred, 4) == round(gold, 4)`` with Python's
    :func:`round` (binary floats, ties to even): a prediction within ``5e-5`` can still fail when
    it rounds to the other side of a 4-decimal boundary, e.g. gold ``0.12344``, pred ``0.12346``.

Unparsed vs wrong
-----------------
``unparsed``: no answer could be read for the compared field (no final answer, an unclosed
think block, a final answer without a readable ``PROB`` when the gold has ``"prob"``, without a
label when the gold has only a label). ``wrong``: an answer was read and it does not match; a
``LACK_CONDITION`` answer to a numeric gold, and any answer but ``LACK_CONDITION`` to a
``LACK_CONDITION`` gold, are ``wrong``, not unparsed.

Examples
--------
>>> score('{"ANSWER": "Yes", "PROB": "0.3847"}', {"prob": 0.38470000000000004, "label": "yes"}).outcome
'correct'
>>> o = score('<think>{"PROB": "0.3847"}</think> {"PROB": "0.2"}', {"prob": 0.3847}, mode="caugym")
>>> o.outcome, o.pred.in_think
('correct', True)
>>> score("LACK_CONDITION", {"label": "LACK_CONDITION"}).outcome
'correct'
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from whygym.scoring.extract import LACK_CONDITION, Answer, Extraction, extract, normalize_label, parse_number

__all__ = ["Outcome", "score", "score_all", "normalize_gold", "prob_matches", "labels_match", "OUTCOMES", "MODES",
           "STRICT_TOL", "FLOAT_EPS", "CAUGYM_TOL", "CALM_DIGITS"]

OUTCOMES = ("correct", "wrong", "unparsed")
MODES = ("strict", "caugym", "calm")
#: Half a unit in the 4th decimal: the strict tolerance.
STRICT_TOL = 5e-5
#: Slack for binary floating-point noise added to the strict tolerance.
FLOAT_EPS = 1e-9
#: CauGym's tolerance (strict inequality).
CAUGYM_TOL = 5e-4
#: CaLM rounds both sides to this many decimals.
CALM_DIGITS = 4


@dataclass(frozen=True)
class Outcome:
    """The verdict on one model output.

    Attributes
    ----------
    outcome : ``"correct"``, ``"wrong"`` or ``"unparsed"``.
    mode : the match mode used.
    pred : the answer the verdict is about (the final one; in ``caugym`` mode the matching one if
        any), or ``None``.
    label_correct : for golds with both ``prob`` and ``label``: whether ``pred``'s label agrees
        (``False`` if ``pred`` has none); ``None`` for other golds.
    error : ``pred.prob - gold["prob"]`` when both exist, else ``None``.
    n_answers : how many answers the output holds (think blocks included).
    """

    outcome: str
    mode: str
    pred: Answer | None = None
    label_correct: bool | None = None
    error: float | None = None
    n_answers: int = 0

    @property
    def correct(self) -> bool:
        return self.outcome == "correct"

    @property
    def parsed(self) -> bool:
        return self.outcome != "unparsed"

    @property
    def pred_prob(self) -> float | None:
        return self.pred.prob if self.pred is not None else None

    @property
    def pred_label(self) -> str | None:
        return self.pred.label if self.pred is not None else None

    def to_dict(self) -> dict[str, Any]:
        """Flat, JSON-serializable summary (for result files)."""
        return {"outcome": self.outcome, "mode": self.mode, "pred_prob": self.pred_prob,
                "pred_label": self.pred_label, "label_correct": self.label_correct, "error": self.error,
                "n_answers": self.n_answers, "pred_in_think": None if self.pred is None else self.pred.in_think}


def normalize_gold(gold: Any) -> dict[str, Any]:
    """Gold as a dict with ``"prob"`` (float) and/or ``"label"`` (str).

    Accepts a dict, its JSON string (the HF-dataset column form), an object with a ``.gold``
    attribute (an :class:`~whygym.items.Item`), a bare number or numeric string (-> prob: pass
    ``{"label": "1"}`` for a choice label ``"1"``) or another bare string (-> label, e.g.
    ``"LACK_CONDITION"``). Raises ``ValueError`` if neither field can be read.

    >>> normalize_gold('{"prob": "-0.0843", "label": "No"}')
    {'prob': -0.0843, 'label': 'no'}
    """
    if hasattr(gold, "gold") and not isinstance(gold, Mapping):
        gold = gold.gold
    if isinstance(gold, str):
        s = gold.strip()
        try:
            parsed = json.loads(s)
        except ValueError:
            parsed = None
        if isinstance(parsed, Mapping):
            gold = parsed
        elif isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
            gold = {"prob": parsed}
        elif parse_number(s) is not None:
            gold = {"prob": parse_number(s)}
        elif s:
            gold = {"label": s}
        else:
            gold = {}
    elif isinstance(gold, (int, float)) and not isinstance(gold, bool):
        gold = {"prob": gold}
    if not isinstance(gold, Mapping):
        raise ValueError(f"gold must be a dict with 'prob' and/or 'label' (or its JSON); got {type(gold).__name__}")
    out: dict[str, Any] = {}
    if gold.get("prob") is not None:
        p = parse_number(gold["prob"])
        if p is None:
            raise ValueError(f"gold prob {gold['prob']!r} is not a finite number")
        out["prob"] = p
    if gold.get("label") is not None:
        lab = normalize_label(gold["label"])
        if lab is not None:
            out["label"] = lab
    if not out:
        raise ValueError(f"gold has neither a usable 'prob' nor 'label': {dict(gold)!r}")
    return out


def prob_matches(pred: float, gold: float, mode: str = "strict") -> bool:
    """Whether a numeric prediction matches the gold under ``mode`` (see module docstring).

    >>> prob_matches(0.1234, 0.12344), prob_matches(0.12346, 0.12344), prob_matches(0.12346, 0.12344, "calm")
    (True, True, False)
    """
    if pred is None or gold is None or not (math.isfinite(pred) and math.isfinite(gold)):
        return False
    if mode == "strict":
        return abs(pred - gold) <= STRICT_TOL + FLOAT_EPS
    if mode == "caugym":
        return abs(pred - gold) < CAUGYM_TOL
    if mode == "calm":
        return round(pred, CALM_DIGITS) == round(gold, CALM_DIGITS)
    raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")


def labels_match(pred: str | None, gold: str | None) -> bool:
    """Case-insensitive label comparison after :func:`normalize_label`."""
    a, b = normalize_label(pred), normalize_label(gold)
    return a is not None and b is not None and a.casefold() == b.casefold()


def score(text: Any, gold: Any, mode: str = "strict") -> Outcome:
    """Score one model output against its gold.

    Parameters
    ----------
    text : the model output (string, conversational message list, ...) or an :class:`Extraction`.
    gold : the item's gold, see :func:`normalize_gold`.
    mode : ``"strict"`` (default), ``"caugym"`` or ``"calm"``.

    Returns
    -------
    Outcome
        ``outcome`` is always one of :data:`OUTCOMES`.

    Examples
    --------
    >>> g = {"prob": 0.12344, "label": "yes"}
    >>> [score('{"ANSWER": "No", "PROB": "0.12346"}', g, mode=m).outcome for m in MODES]
    ['correct', 'correct', 'wrong']
    >>> score('{"ANSWER": "No", "PROB": "0.12346"}', g).label_correct
    False
    >>> score("<think>The answer is yes", {"label": "Yes"}).outcome
    'unparsed'
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    g = normalize_gold(gold)
    ex = text if isinstance(text, Extraction) else extract(text)
    n = len(ex.answers)
    gp, gl = g.get("prob"), g.get("label")
    both = gp is not None and gl is not None

    def verdict(outcome: str, pred: Answer | None) -> Outcome:
        lc = None
        if both:
            lc = pred is not None and labels_match(pred.label, gl)
        err = None
        if pred is not None and pred.prob is not None and gp is not None:
            err = pred.prob - gp
        return Outcome(outcome=outcome, mode=mode, pred=pred, label_correct=lc, error=err, n_answers=n)

    if mode == "caugym":
        if gp is not None:
            hits = [a for a in ex.answers if a.prob is not None and prob_matches(a.prob, gp, "caugym")]
            if hits:
                return verdict("correct", hits[-1])
            readable = [a for a in ex.answers if a.prob is not None or a.is_lack]
        else:
            hits = [a for a in ex.answers if labels_match(a.label, gl)]
            if hits:
                return verdict("correct", hits[-1])
            readable = [a for a in ex.answers if a.label is not None or gl == LACK_CONDITION]
        if readable:
            return verdict("wrong", ex.final if ex.final in readable else readable[-1])
        return verdict("unparsed", ex.final)

    final = ex.final
    if final is None:
        return verdict("unparsed", None)
    if gp is not None:
        if final.prob is None:
            return verdict("wrong" if final.is_lack else "unparsed", final)
        return verdict("correct" if prob_matches(final.prob, gp, mode) else "wrong", final)
    if gl == LACK_CONDITION:  # any definite answer other than LACK_CONDITION is wrong
        return verdict("correct" if final.is_lack else "wrong", final)
    if final.label is None:
        return verdict("unparsed", final)
    return verdict("correct" if labels_match(final.label, gl) else "wrong", final)



def score_all(texts: Sequence[Any], golds: Sequence[Any], mode: str = "strict") -> list[Outcome]:
    """:func:`score` over parallel sequences.

    >>> [o.outcome for o in score_all(['{"PROB": "0.5"}', "?"], [{"prob": 0.5}, {"prob": 0.5}])]
    ['correct', 'unparsed']
    """
    texts, golds = list(texts), list(golds)
    if len(texts) != len(golds):
        raise ValueError(f"lengths differ: {len(texts)} texts, {len(golds)} golds")
    return [score(t, g, mode) for t, g in zip(texts, golds)]
