"""Rewards for the RL trainers: whygym.scoring's rewards, weighted, and a zero-signal monitor.

GRPO learns from differences inside a group of completions of one prompt: a group whose rewards are all equal
has zero advantage everywhere and teaches nothing. :class:`ZeroSignalMonitor` wraps a reward function and,
on every call, records the fraction of such groups (TRL 1.16 lays a batch out as consecutive groups of
``num_generations`` completions of the same prompt; the monitor checks the prompts and falls back to
grouping by prompt when they are not laid out so). The fraction goes to TRL's metrics through the
``log_metric`` keyword GRPOTrainer passes to reward functions, and to the monitor's own history.

>>> zero_signal_fraction([1.0, 1.0, 0.0, 0.5], 2)
0.5
>>> f = ZeroSignalMonitor(lambda completions, **kw: [len(c) % 2 * 1.0 for c in completions], 2)
>>> f(["a", "b", "ab", "abc"], prompts=["p", "p", "q", "q"])
[1.0, 1.0, 0.0, 1.0]
>>> f.history
[0.5]
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

from whygym.scoring import combined_reward

__all__ = ["zero_signal_fraction", "ZeroSignalMonitor", "build_reward"]


def _key(p: Any) -> str:
    return repr(p)


def zero_signal_fraction(rewards: Sequence[float | None], num_generations: int,
                         prompts: Sequence[Any] | None = None, tol: float = 1e-9) -> float:
    """Fraction of groups whose (non-None) rewards are all equal within ``tol``.

    Groups are consecutive blocks of ``num_generations``; when ``prompts`` are given and a block mixes
    prompts, groups are formed by prompt instead. A group with fewer than two scored rewards counts as
    zero-signal.

    >>> zero_signal_fraction([0.2, 0.2, 0.2, 0.9, 0.1, 0.1], 3)
    0.5
    >>> zero_signal_fraction([1, 0, 1, 1], 2, prompts=["a", "b", "a", "b"])
    0.5
    """
    if num_generations < 1:
        raise ValueError(f"num_generations must be >= 1, got {num_generations}")
    n = len(rewards)
    if n == 0:
        return 0.0
    groups: list[list[float | None]]
    blocks = [list(range(k, min(k + num_generations, n))) for k in range(0, n, num_generations)]
    if prompts is not None and any(len({_key(prompts[i]) for i in b}) > 1 for b in blocks):
        by: dict[str, list[float | None]] = {}
        for p, r in zip(prompts, rewards):
            by.setdefault(_key(p), []).append(r)
        groups = list(by.values())
    else:
        groups = [[rewards[i] for i in b] for b in blocks]
    flat = 0
    for g in groups:
        vals = [float(r) for r in g if r is not None and not (isinstance(r, float) and math.isnan(r))]
        if len(vals) < 2 or max(vals) - min(vals) <= tol:
            flat += 1
    return flat / len(groups)


class ZeroSignalMonitor:
    """A reward function that returns ``fn``'s rewards and records the zero-signal fraction of each batch."""

    def __init__(self, fn: Callable[..., list], num_generations: int, name: str | None = None):
        self.fn = fn
        self.num_generations = num_generations
        self.history: list[float] = []
        self.__name__ = name or getattr(fn, "__name__", "reward")

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list:
        log_metric = kwargs.pop("log_metric", None)
        rewards = self.fn(completions, **kwargs)
        frac = zero_signal_fraction(rewards, self.num_generations, kwargs.get("prompts"))
        self.history.append(frac)
        if callable(log_metric):
            log_metric("zero_signal_frac", frac)
        return rewards


def build_reward(weights: Mapping[str, float], num_generations: int, scale: float = 0.02,
                 direction_weight: float = 0.2, kind: str = "exp") -> ZeroSignalMonitor:
    """The weighted whygym reward (format, accuracy, closeness) wrapped in a :class:`ZeroSignalMonitor`."""
    fn = combined_reward(dict(weights), scale=scale, direction_weight=direction_weight, closeness_kind=kind,
                         name="whygym_reward")
    return ZeroSignalMonitor(fn, num_generations, name="whygym_reward")
