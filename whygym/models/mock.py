"""A scripted backend for offline tests: a deterministic function from prompt to text, no model.

Tokens are counted as whitespace-separated words, so ``max_new_tokens`` truncates the answer to that many
words (``finish_reason="length"``). Every call is recorded in :attr:`MockBackend.calls`, which lets tests
count what reached the "model" (e.g. behind a response cache).
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Callable, Mapping

from whygym.models.base import Generation, check_generate_args

Responder = Callable[..., str]


def _stable_unit(*parts: object) -> float:
    """A number in [0, 1) that depends only on ``parts`` (not on Python's per-process hash seed)."""
    h = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(h[:8], "little") / 2 ** 64


class MockBackend:
    """Answers from a function, a lookup table or a constant.

    Parameters
    ----------
    respond : callable, mapping or str, optional
        ``respond(prompt) -> str``; a function that also accepts ``sample_index`` (and optionally ``seed``,
        ``temperature``, ``system``) as keywords receives them too, which lets tests script varied samples.
        A mapping answers its keys (``default`` for the rest); a string is returned for every prompt.
        ``None`` echoes the prompt.
    loglik : callable, optional
        ``loglik(prompt, continuation) -> float``; by default a deterministic pseudo-score in
        ``(-len(continuation) - 1, -len(continuation)]``.
    default : str
        Answer for prompts missing from a ``respond`` mapping.
    name : str
        Shown in ``name`` and part of ``config`` (hence of cache keys).

    Examples
    --------
    >>> be = MockBackend({"Is A a cause of B?": "Yes"}, default="No")
    >>> [[g.text for g in s] for s in be.generate(["Is A a cause of B?", "other"], max_new_tokens=5)]
    [['Yes'], ['No']]
    >>> MockBackend().generate(["one two three"], max_new_tokens=2)[0][0]  # echo, cut to 2 words
    Generation(text='one two', n_prompt_tokens=3, n_completion_tokens=2, finish_reason='length')
    """

    def __init__(self, respond: Responder | Mapping[str, str] | str | None = None, *,
                 loglik: Callable[[str, str], float] | None = None, default: str = "",
                 name: str = "mock"):
        if respond is None:
            fn: Responder = lambda prompt: prompt  # noqa: E731
        elif isinstance(respond, str):
            fn = lambda prompt, _s=respond: _s  # noqa: E731
        elif isinstance(respond, Mapping):
            table = dict(respond)
            fn = lambda prompt: table.get(prompt, default)  # noqa: E731
        elif callable(respond):
            fn = respond
        else:
            raise TypeError(f"respond must be a callable, a mapping, a string or None, not {type(respond).__name__}")
        try:
            params = inspect.signature(fn).parameters
            takes_var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
            self._extra = {k for k in ("sample_index", "seed", "temperature", "system")
                           if takes_var_kw or k in params}
        except (TypeError, ValueError):
            self._extra = set()
        self._fn = fn
        self._loglik = loglik
        self.calls: list[tuple[str, str]] = []  # ("generate" | "loglikelihood", prompt)
        self.name = name
        self.config = {"backend": "mock", "model": name}

    def generate(self, prompts: list[str], *, max_new_tokens: int, temperature: float = 0.0,
                 top_p: float = 1.0, n: int = 1, seed: int = 0,
                 system: str | None = None) -> list[list[Generation]]:
        """Scripted completions; see :meth:`whygym.models.Backend.generate`."""
        check_generate_args(prompts, max_new_tokens, temperature, top_p, n)
        out = []
        for p in prompts:
            self.calls.append(("generate", p))
            samples = []
            for i in range(n):
                kw = {"sample_index": i if temperature > 0 else 0, "seed": seed, "temperature": temperature,
                      "system": system}
                text = str(self._fn(p, **{k: v for k, v in kw.items() if k in self._extra}))
                words = text.split()
                cut = len(words) > max_new_tokens
                if cut:
                    text = " ".join(words[:max_new_tokens])
                samples.append(Generation(text=text, n_prompt_tokens=len(p.split()) + len((system or "").split()),
                                          n_completion_tokens=max_new_tokens if cut else len(words) + 1,
                                          finish_reason="length" if cut else "stop"))
            out.append(samples)
        return out

    def loglikelihood(self, prompts: list[str], continuations: list[str], *,
                      system: str | None = None) -> list[float]:
        """Scripted or pseudo-random (but deterministic) scores."""
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        out = []
        for p, c in zip(prompts, continuations):
            self.calls.append(("loglikelihood", p))
            if self._loglik is not None:
                out.append(float(self._loglik(p, c)))
            else:
                out.append(-len(c) - _stable_unit(p, c, system))
        return out
