"""The one small interface every model backend implements.

A backend turns user messages into completions (:meth:`Backend.generate`) and scores continuations
(:meth:`Backend.loglikelihood`). Prompts are always *user messages*: the backend applies the model's chat
template itself (with the generation prompt appended), so that callers never format ChatML by hand and the
same prompt text works on a local checkpoint, a llama.cpp GGUF and a hosted API alike.

Each backend also exposes ``name`` (short, for tables) and ``config`` (a JSON-serialisable dict that
identifies the model *and everything that changes its outputs*: weights fingerprint, precision, ...). The
response cache uses ``config`` as part of its key, so two backends with equal ``config`` must produce the
same outputs for the same request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, runtime_checkable

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Generation:
    """One completion of one prompt.

    Attributes
    ----------
    text : str
        The completion, without the end-of-sequence token and without special tokens.
    n_prompt_tokens : int
        Tokens of the chat-formatted prompt (system message, template and generation prompt included).
    n_completion_tokens : int
        Tokens generated, the end-of-sequence token included when the model emitted one.
    finish_reason : {"stop", "length"}
        ``"stop"`` when the model ended the answer itself, ``"length"`` when ``max_new_tokens`` cut it.
    """

    text: str
    n_prompt_tokens: int
    n_completion_tokens: int
    finish_reason: FinishReason

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Generation":
        """Inverse of :meth:`to_dict`."""
        return cls(text=d["text"], n_prompt_tokens=int(d["n_prompt_tokens"]),
                   n_completion_tokens=int(d["n_completion_tokens"]), finish_reason=d["finish_reason"])


@runtime_checkable
class Backend(Protocol):
    """What every model backend offers.

    Attributes
    ----------
    name : str
        Short human-readable name, e.g. ``"transformers:smollm2-135m-instruct"``.
    config : dict
        JSON-serialisable identity of the model and of every setting that changes outputs; part of the
        response-cache key.
    """

    name: str
    config: dict[str, Any]

    def generate(self, prompts: list[str], *, max_new_tokens: int, temperature: float = 0.0,
                 top_p: float = 1.0, n: int = 1, seed: int = 0,
                 system: str | None = None) -> list[list[Generation]]:
        """Complete each prompt ``n`` times.

        Parameters
        ----------
        prompts : list of str
            User messages; the backend applies the chat template with the generation prompt.
        max_new_tokens : int
            Upper bound on generated tokens per completion.
        temperature : float
            0 means greedy decoding (then all ``n`` samples are equal); above 0, sampling.
        top_p : float
            Nucleus sampling mass (1 keeps every token).
        n : int
            Samples per prompt.
        seed : int
            Sampling seed. Local backends make sample ``i`` of a prompt a function of
            ``(seed, prompt, system, i)`` only, independent of batch composition.
        system : str or None
            System message; ``None`` keeps the chat template's default (if it has one).

        Returns
        -------
        list of list of Generation
            ``result[j][i]`` is sample ``i`` of ``prompts[j]``.
        """
        ...

    def loglikelihood(self, prompts: list[str], continuations: list[str], *,
                      system: str | None = None) -> list[float]:
        """Sum of log-probabilities of each continuation's tokens given its chat-formatted prompt.

        ``loglik[j] = sum_t log p(c_t | chat(prompts[j]), c_<t)`` where ``c`` are the tokens of
        ``continuations[j]`` (tokenised on their own, without special tokens) and ``chat(.)`` ends with the
        assistant generation prompt.
        """
        ...


def chat_messages(prompt: str, system: str | None = None) -> list[dict[str, str]]:
    """The message list for one user prompt, with an optional system message first.

    >>> chat_messages("Is A a cause of B?", system="Answer yes or no.")
    [{'role': 'system', 'content': 'Answer yes or no.'}, {'role': 'user', 'content': 'Is A a cause of B?'}]
    """
    msgs = [] if system is None else [{"role": "system", "content": system}]
    msgs.append({"role": "user", "content": prompt})
    return msgs


def sample_seed(seed: int, prompt: str, system: str | None, index: int) -> int:
    """A 63-bit seed for sample ``index`` of ``prompt``, independent of batching and of other prompts.

    Deriving each sample's seed from what it is (rather than from its position in a batch) keeps sampled
    outputs identical whether a run is batched, resumed from the response cache, or split across processes.

    >>> sample_seed(0, "p", None, 0) == sample_seed(0, "p", None, 0) != sample_seed(0, "p", None, 1)
    True
    """
    h = hashlib.sha256(json.dumps([seed, prompt, system, index]).encode()).digest()
    return int.from_bytes(h[:8], "little") >> 1


def check_generate_args(prompts: list[str], max_new_tokens: int, temperature: float, top_p: float, n: int) -> None:
    """Raise ``ValueError`` with a clear message for arguments no backend can honour."""
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings, not one string; wrap it: [prompt]")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
