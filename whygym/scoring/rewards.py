"""Reward functions for trainers (TRL signature).

Every reward has the TRL form ``reward(completions, **columns) -> list[float | None]``:
``completions`` are strings or conversational lists (``[{"role": "assistant", "content": ...}]``);
the dataset columns arrive as keyword lists, of which these are read:

* ``gold``: gold dicts, or their JSON strings (the form :func:`whygym.items.to_hf_dataset` writes);
* ``task``: task names (optional; decides the expected answer shape of :func:`format_reward`).

Other keywords (``prompts``, ``completion_ids``, ``trainer_state``, ...) are ignored. Every value is
in ``[0, 1]``; a gold-dependent reward returns ``None`` ("not applicable", which TRL skips) for a row
whose gold is missing or unreadable. The rewards never raise on any completion text; an unexpected
internal error on one sample gives that sample 0.0 and a warning rather than killing a training run.

Rewards
-------
:func:`format_reward` (does not look at the gold)
    ``0`` when no final answer is read (nothing parseable, or an unclosed ``<think>``);
    ``1`` for a final ``LACK_CONDITION`` (the format the insufficient-information instruction asks
    for); otherwise ``0.5 + 0.25 * strict_json + 0.25 * right_shape`` where ``strict_json`` means
    the final answer is a JSON object ``json.loads`` accepts and ``right_shape`` means it holds the
    fields the task asks for: ``ANSWER`` in {yes, no} and a readable ``PROB`` for ATE/CDE/ETT/NDE/NIE,
    a readable ``PROB`` in [0, 1] for PN/PS, any answer for other or unknown tasks. So a lenient
    ``{'PROB': 0.3}`` for PN scores 0.75 and ``the answer is yes`` for ATE 0.5.
    (A model can collect full format credit by always answering ``LACK_CONDITION``; pair this reward
    with an accuracy-based one.)
:func:`accuracy_reward`
    ``1.0`` iff ``score(completion, gold, mode="strict").correct`` else ``0.0``: it calls the
    very scorer used for evaluation.
:func:`closeness_reward` (graded, built by :func:`make_closeness_reward`)
    For a gold with ``prob`` ``g`` and a final ``PROB`` ``p``, with ``e = |p - g|``::

        r = 1                                       if the strict scorer counts p correct
        r = w * d + (1 - w) * exp(-e / scale)       otherwise

    ``w`` is ``direction_weight`` (default 0.2) and ``scale`` 0.02 (an error of 0.02 keeps
    ``e^-1`` = 37% of the closeness part; 0.001 keeps 95%). ``d``, the direction credit, is 1 when
    ``sign(p) == sign(g)`` (signs taken after rounding to 4 decimals, so ``0.00001`` has sign 0) for
    the signed tasks, and 1 when ``0 <= p <= 1`` for the bound tasks PN/PS. A final answer with an
    ``ANSWER`` but no ``PROB`` earns ``w`` if its label agrees with the gold label (direction only).
    Since ``e > 5e-5`` whenever the strict scorer says wrong, ``r < 1`` then: ``r == 1`` iff
    strict-correct. ``kind="digits"`` uses ``min(k, 3) / 4`` (``k`` leading correct decimals of 4)
    in place of the exponential: coarser, but it rewards digit-by-digit progress. Label-only golds
    (yes/no, ``LACK_CONDITION``, choices) get 1 or 0, as accuracy.
:func:`combined_reward`
    A factory: ``sum_i w_i r_i / sum_i w_i`` over the named rewards (``"format"``, ``"accuracy"``,
    ``"closeness"``), renormalized over the rewards that apply to the row.

Examples
--------
>>> done = ['{"ANSWER": "Yes", "PROB": "0.3847"}', "{'ANSWER': 'yes', 'PROB': 0.39}", "no idea"]
>>> cols = {"gold": ['{"prob": 0.3847, "label": "yes"}'] * 3, "task": ["ETT"] * 3}
>>> format_reward(done, **cols)
[1.0, 0.75, 0.0]
>>> accuracy_reward(done, **cols)
[1.0, 0.0, 0.0]
>>> [round(r, 3) for r in closeness_reward(done, **cols)]
[1.0, 0.814, 0.0]
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Mapping, Sequence

from whygym.items import BOUND_TASKS, YESNO_PROB_TASKS
from whygym.scoring.extract import Extraction, extract
from whygym.scoring.match import labels_match, normalize_gold, prob_matches, score

__all__ = ["format_score", "closeness_score", "format_reward", "accuracy_reward", "closeness_reward",
           "make_closeness_reward", "combined_reward", "check_weights", "DEFAULT_WEIGHTS", "REWARD_NAMES",
           "RewardFunc", "ClosenessReward", "CombinedReward", "reward_functions"]

RewardFunc = Callable[..., list]

#: Default weights of the rewards (:func:`reward_functions`, :func:`combined_reward`; GRPO's and the
#: verl/OpenRLHF adapters' defaults): the one definition.
DEFAULT_WEIGHTS: dict[str, float] = {"format": 0.1, "accuracy": 0.5, "closeness": 0.4}

_YESNO = {t.upper() for t in YESNO_PROB_TASKS}
_BOUND = {t.upper() for t in BOUND_TASKS}
_warned: set[str] = set()


def _warn_once(name: str, err: BaseException) -> None:
    if name not in _warned:
        _warned.add(name)
        warnings.warn(f"{name}: internal error on a completion ({type(err).__name__}: {err}); "
                      "that sample gets 0.0", RuntimeWarning, stacklevel=3)


def _task_key(task: Any) -> str:
    return str(task).strip().upper() if task is not None else ""


def _gold_or_none(gold: Any) -> dict[str, Any] | None:
    try:
        return normalize_gold(gold)
    except (ValueError, TypeError):
        return None


# ----------------------------------------------------------------------------------------------
# per-sample scores

def format_score(text: Any, task: str | None = None) -> float:
    """Format credit of one completion (see module docstring).

    >>> format_score('{"ANSWER": "No", "PROB": "-0.0843"}', "ATE"), format_score('{"PROB": "0.2"}', "ATE")
    (1.0, 0.75)
    >>> format_score("<think>{'PROB': 0.2}", "PN"), format_score("LACK_CONDITION", "PN")
    (0.0, 1.0)
    """
    ex = text if isinstance(text, Extraction) else extract(text)
    f = ex.final
    if f is None:
        return 0.0
    if f.is_lack:
        return 1.0
    strict = f.kind == "json" and f.json_valid
    t = _task_key(task)
    if t in _YESNO:
        shape = f.label in ("yes", "no") and f.prob is not None
    elif t in _BOUND:
        shape = f.prob is not None and 0.0 <= f.prob <= 1.0
    else:
        shape = f.label is not None or f.prob is not None
    return 0.5 + 0.25 * strict + 0.25 * shape


def _sign4(x: float) -> int:
    r = round(x, 4)
    return (r > 0) - (r < 0)


def _leading_decimals(p: float, g: float) -> int:
    """How many leading decimals of ``|p|`` and ``|g|`` at 4 places agree (0 if the integer parts differ)."""
    a, b = f"{abs(p):.4f}", f"{abs(g):.4f}"
    ia, _, da = a.partition(".")
    ib, _, db = b.partition(".")
    if ia != ib:
        return 0
    k = 0
    for x, y in zip(da, db):
        if x != y:
            break
        k += 1
    return k


def _check_params(scale: float, direction_weight: float, kind: str) -> None:
    if not (scale > 0) or not (0.0 <= direction_weight <= 1.0) or kind not in ("exp", "digits"):
        raise ValueError("need scale > 0, 0 <= direction_weight <= 1 and kind 'exp' or 'digits'; "
                         f"got {scale}, {direction_weight}, {kind!r}")


def closeness_score(text: Any, gold: Any, task: str | None = None, scale: float = 0.02,
                    direction_weight: float = 0.2, kind: str = "exp") -> float:
    """Graded closeness of one completion's final answer to the gold, in [0, 1].

    Formula in the module docstring; ``kind="digits"`` replaces ``exp(-e / scale)`` by
    ``min(k, 3) / 4`` with ``k`` the number of leading decimals (of 4) of ``|p|`` that agree with
    ``|g|`` written to 4 places (0 when the integer parts differ); ``scale`` is then unused.
    Raises ``ValueError`` for an unreadable gold.

    >>> g = {"prob": -0.0843, "label": "no"}
    >>> closeness_score('{"PROB": "-0.0843"}', g), round(closeness_score('{"PROB": "-0.0943"}', g), 4)
    (1.0, 0.6852)
    >>> round(closeness_score('{"PROB": "0.0843"}', g), 4), closeness_score('{"ANSWER": "No"}', g)
    (0.0002, 0.2)
    >>> round(closeness_score('{"PROB": "-0.0853"}', g, kind="digits"), 6)  # sign, "08" of "0843": .2 + .8 * 2/4
    0.6
    """
    _check_params(scale, direction_weight, kind)
    g = normalize_gold(gold)
    ex = text if isinstance(text, Extraction) else extract(text)
    gp, gl = g.get("prob"), g.get("label")
    if gp is None:  # label-only gold: all or nothing, as the strict scorer
        return 1.0 if score(ex, g, mode="strict").correct else 0.0
    f = ex.final
    if f is None or f.is_lack:
        return 0.0
    bound = _task_key(task) in _BOUND
    w = direction_weight
    if f.prob is None:
        if not bound and gl is not None and f.label is not None and labels_match(f.label, gl):
            return w
        return 0.0
    p = f.prob
    if prob_matches(p, gp, "strict"):
        return 1.0
    d = (0.0 <= p <= 1.0) if bound else (_sign4(p) == _sign4(gp))
    e = abs(p - gp)
    close = math.exp(-e / scale) if kind == "exp" else min(_leading_decimals(p, gp), 3) / 4.0
    r = w * float(d) + (1.0 - w) * close
    # e > STRICT_TOL here, so r < 1 mathematically; the clamp keeps it so under float rounding
    return min(max(r, 0.0), math.nextafter(1.0, 0.0))


# ----------------------------------------------------------------------------------------------
# TRL-style batch rewards

def _texts(completions: Any) -> list[Any]:
    if completions is None:
        return []
    if isinstance(completions, (str, bytes)):
        return [completions]
    return list(completions)


def _column(columns: Mapping[str, Any], name: str, n: int) -> list[Any]:
    v = columns.get(name)
    if v is None:
        return [None] * n
    if isinstance(v, (str, bytes, Mapping)) or not isinstance(v, Sequence):
        return [v] * n  # one value for the whole batch
    v = list(v)
    if len(v) != n:
        raise ValueError(f"column {name!r} has {len(v)} values for {n} completions")
    return v


def format_reward(completions: Sequence[Any], **columns: Any) -> list[float]:
    """1.0 for a well-formed final answer of the task's shape; partial credit in the module docstring.

    >>> format_reward([[{"role": "assistant", "content": '{"PROB": "0.5"}'}], "Answer: yes"], task=["PN", "PN"])
    [1.0, 0.5]
    """
    texts = _texts(completions)
    tasks = _column(columns, "task", len(texts))
    out = []
    for c, t in zip(texts, tasks):
        try:
            out.append(float(format_score(c, t)))
        except Exception as err:  # noqa: BLE001 - a reward must not kill a training run
            _warn_once("format_reward", err)
            out.append(0.0)
    return out


def accuracy_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """1.0 iff the strict scorer (:func:`~whygym.scoring.match.score`) counts the completion correct.

    >>> accuracy_reward(["{'PROB': '0.2500'}", "{'PROB': '0.2501'}", "x"], gold=[{"prob": 0.25}, {"prob": 0.25}, None])
    [1.0, 0.0, None]
    """
    return _per_row(completions, columns, "accuracy_reward",
                    lambda c, gd, t: 1.0 if score(c, gd, mode="strict").correct else 0.0)


def _per_row(completions: Sequence[Any], columns: dict, name: str, fn) -> list[float | None]:
    """Apply ``fn(text, gold, task)`` to every row: None where the gold is missing or unreadable, 0.0
    (with a one-time warning) where scoring raises."""
    texts = _texts(completions)
    golds = _column(columns, "gold", len(texts))
    tasks = _column(columns, "task", len(texts))
    out: list[float | None] = []
    for c, g, t in zip(texts, golds, tasks):
        gd = _gold_or_none(g)
        if gd is None:
            out.append(None)
            continue
        try:
            out.append(fn(c, gd, t))
        except Exception as err:  # noqa: BLE001
            _warn_once(name, err)
            out.append(0.0)
    return out


class ClosenessReward:
    """A graded TRL reward ``w * direction + (1 - w) * exp(-|err| / scale)``, 1.0 iff strict-correct.

    ``kind="digits"`` credits leading correct decimals instead (see :func:`closeness_score`). A plain class,
    not a closure, so it pickles (multiprocess data loaders, Accelerate, Ray workers); TRL logs it under
    its ``__name__``, ``closeness_reward``.

    >>> import pickle
    >>> r = pickle.loads(pickle.dumps(ClosenessReward(scale=0.1, direction_weight=0.0)))
    >>> [round(x, 4) for x in r(['{"PROB": "0.35"}'], gold=['{"prob": 0.25}'], task=["PN"])]
    [0.3679]
    """

    def __init__(self, scale: float = 0.02, direction_weight: float = 0.2, kind: str = "exp"):
        _check_params(scale, direction_weight, kind)
        self.scale, self.direction_weight, self.kind = scale, direction_weight, kind
        self.__name__ = "closeness_reward"

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return _per_row(completions, columns, "closeness_reward",
                        lambda c, gd, t: float(closeness_score(c, gd, t, self.scale, self.direction_weight,
                                                               self.kind)))

    def __repr__(self) -> str:
        return f"ClosenessReward(scale={self.scale}, direction_weight={self.direction_weight}, kind={self.kind!r})"


def make_closeness_reward(scale: float = 0.02, direction_weight: float = 0.2, kind: str = "exp") -> RewardFunc:
    """The closeness reward with these parameters (a :class:`ClosenessReward`).

    >>> r = make_closeness_reward(scale=0.1, direction_weight=0.0)
    >>> [round(x, 4) for x in r(['{"PROB": "0.35"}'], gold=['{"prob": 0.25}'], task=["PN"])]
    [0.3679]
    """
    return ClosenessReward(scale, direction_weight, kind)


#: Graded closeness reward with the defaults (scale 0.02, direction weight 0.2).
#:
#: >>> [round(r, 3) for r in closeness_reward(['{"PROB": "0.30"}', '{"PROB": "-0.30"}'], gold=[{"prob": 0.25}] * 2)]
#: [0.266, 0.0]
closeness_reward = ClosenessReward()


#: The rewards :func:`combined_reward` can weigh. ``process`` is the step verifier's credit for the verified
#: steps before the first wrong one (:class:`whygym.scoring.verify.process_reward`; it reads the ``reason``
#: and ``given`` columns of :func:`whygym.train.data.rl_rows`).
REWARD_NAMES = ("format", "accuracy", "closeness", "process")


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The weights as a dict, or ValueError naming what is wrong (unknown name, negative, all zero).

    >>> check_weights({"accuracy": 1, "process": 0.5})
    {'accuracy': 1, 'process': 0.5}
    """
    w = dict(weights)
    unknown = set(w) - set(REWARD_NAMES)
    if unknown:
        raise ValueError(f"unknown reward name(s) {sorted(unknown)}; use {', '.join(map(repr, REWARD_NAMES))}")
    if any(not isinstance(v, (int, float)) or not (v >= 0) or math.isinf(v) for v in w.values()) \
            or sum(w.values()) <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero: {w}")
    return w


def reward_functions(weights: Mapping[str, float] | None = None, scale: float = 0.02,
                     direction_weight: float = 0.2, closeness_kind: str = "exp"
                     ) -> tuple[list[RewardFunc], list[float]]:
    """The named rewards as separate TRL reward functions with their weights (normalised to sum 1), for
    ``GRPOTrainer(reward_funcs=..., args=GRPOConfig(reward_weights=...))``: TRL then logs each one
    (``rewards/format_reward/mean``, ...) and its group statistics. Only rewards with a weight > 0 are
    returned, in :data:`REWARD_NAMES` order; each is picklable.

    TRL sums ``w_i r_i`` over the rewards that apply (a None is skipped); :func:`combined_reward` divides by
    the weights that apply as well. Within a GRPO group (completions of one prompt) the same rewards apply,
    so the two differ by a constant factor per group, which the advantage's normalisation removes.

    >>> fns, ws = reward_functions({"format": 1, "accuracy": 3})
    >>> [f.__name__ for f in fns], ws
    (['format_reward', 'accuracy_reward'], [0.25, 0.75])
    """
    w = check_weights(DEFAULT_WEIGHTS if weights is None else weights)
    total = float(sum(w.values()))
    fns: list[RewardFunc] = []
    ws: list[float] = []
    for key in REWARD_NAMES:
        if w.get(key, 0) > 0:
            if key == "process":
                from whygym.scoring.verify import process_reward  # the step verifier (heavier import)

                fn: RewardFunc = process_reward()
            elif key == "closeness":
                fn = ClosenessReward(scale, direction_weight, closeness_kind)
            else:
                fn = {"format": format_reward, "accuracy": accuracy_reward}[key]
            fns.append(fn)
            ws.append(float(w[key]) / total)
    return fns, ws


class CombinedReward:
    """The weighted mean of :func:`reward_functions` as one reward (PPO, the verl/OpenRLHF adapters): see
    :func:`combined_reward`. Picklable."""

    def __init__(self, weights: Mapping[str, float] | None = None, scale: float = 0.02,
                 direction_weight: float = 0.2, name: str = "combined_reward", closeness_kind: str = "exp"):
        self.weights = check_weights(DEFAULT_WEIGHTS if weights is None else weights)
        fns, ws = reward_functions(self.weights, scale, direction_weight, closeness_kind)
        self.parts = list(zip(ws, fns))
        self.__name__ = self.__qualname__ = name
        self.__doc__ = f"Weighted reward {self.weights} (scale={scale}, direction_weight={direction_weight})."

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        texts = _texts(completions)
        results = [(wt, fn(texts, **columns)) for wt, fn in self.parts]
        out: list[float | None] = []
        for i in range(len(texts)):
            num = den = 0.0
            for wt, rs in results:
                if rs[i] is not None:
                    num += wt * rs[i]
                    den += wt
            out.append(min(1.0, max(0.0, num / den)) if den > 0 else None)
        return out

    def __repr__(self) -> str:
        return f"CombinedReward({self.weights}, name={self.__name__!r})"


def combined_reward(weights: Mapping[str, float] | None = None, scale: float = 0.02,
                    direction_weight: float = 0.2, name: str = "combined_reward",
                    closeness_kind: str = "exp") -> RewardFunc:
    """A TRL reward function: the weighted mean of the named rewards (:func:`reward_functions`).

    Parameters
    ----------
    weights : non-negative weights by name (``"format"``, ``"accuracy"``, ``"closeness"``, ``"process"``); default
        :data:`DEFAULT_WEIGHTS`. Missing names weigh 0.
    scale, direction_weight, closeness_kind : passed to the closeness part (:class:`ClosenessReward`).
    name : ``__name__`` of the returned function (TRL logs rewards under it).

    Returns
    -------
    CombinedReward
        ``f(completions, **columns) -> list[float | None]`` with
        ``f = sum_i w_i r_i / sum_i w_i`` over the rewards that apply to the row (``None`` when none does).

    Examples
    --------
    >>> f = combined_reward({"format": 1, "accuracy": 1})
    >>> f(['{"PROB": "0.25"}', "{'PROB': 0.3}"], gold=[{"prob": 0.25}] * 2, task="PS")
    [1.0, 0.375]
    >>> f.__name__
    'combined_reward'
    """
    return CombinedReward(weights, scale, direction_weight, name, closeness_kind)
