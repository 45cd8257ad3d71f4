"""OpenAI-compatible chat completions over HTTP (vLLM, llama-server, hosted APIs), standard library only.

One request per prompt (``n`` samples in it), at most ``concurrency`` in flight (a thread pool). Requests
that fail with 408/409/429/5xx, a timeout or a connection error are retried with exponential backoff
(``backoff * 2**attempt`` seconds, jittered, at least the server's ``Retry-After``), up to ``max_retries``
times; other HTTP errors fail at once with the server's message.

The API key is read from the environment variable named by ``api_key_env`` (``OPENAI_API_KEY`` by
default) and never enters ``config`` (nor, therefore, the cache).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from whygym.models.base import Generation, chat_messages, check_generate_args

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class APIError(RuntimeError):
    """A request that failed for good (after retries, or with a status not worth retrying)."""


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server.

    Parameters
    ----------
    model : str
        Model name sent to the server.
    base_url : str
        API root, e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is appended).
    api_key_env : str
        Environment variable holding the API key (sent as a Bearer token when set).
    concurrency : int
        Requests in flight at once.
    max_retries : int
        Retries per request after the first attempt.
    timeout : float
        Seconds per HTTP request.
    backoff : float
        First retry delay in seconds; doubles each retry (capped at 60 s).
    send_seed : bool
        Send ``seed`` (servers that reject unknown fields can turn it off).
    n_in_request : bool
        Ask for ``n`` choices in one request. When False (servers without ``n``), sample ``i`` is its own
        request with seed ``seed + i``.
    extra_body : dict, optional
        Extra JSON fields for every request (e.g. ``{"top_k": 20}`` for vLLM).

    Notes
    -----
    Usage is reported per request; with ``n > 1`` choices in one request, ``n_completion_tokens`` of each
    is the request's total split evenly (the API does not report it per choice).
    :meth:`loglikelihood` is not offered: chat endpoints do not return prompt log-probabilities.
    """

    def __init__(self, model: str, base_url: str, *, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, max_retries: int = 5, timeout: float = 120.0, backoff: float = 1.0,
                 send_seed: bool = True, n_in_request: bool = True, extra_body: dict[str, Any] | None = None):
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.concurrency = max(1, concurrency)
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff = backoff
        self.send_seed = send_seed
        self.n_in_request = n_in_request
        self.extra_body = dict(extra_body or {})
        self.n_requests = 0  # HTTP attempts made, retries included
        self._count_lock = threading.Lock()
        self.name = f"openai:{model}"
        self.config = {"backend": "openai", "model": model, "base_url": self.base_url,
                       **({"extra_body": self.extra_body} if self.extra_body else {})}

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = f"{self.base_url}/chat/completions"
        last = ""
        for attempt in range(self.max_retries + 1):
            wait = min(60.0, self.backoff * 2 ** attempt) * (0.5 + random.random() / 2)
            with self._count_lock:
                self.n_requests += 1
            try:
                req = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    raw = resp.read().decode()
                try:
                    return json.loads(raw)
                except json.JSONDecodeError:
                    raise APIError(f"POST {url} returned invalid JSON: {raw[:200]!r}") from None
            except urllib.error.HTTPError as e:
                msg = e.read().decode(errors="replace")[:500]
                if e.code not in _RETRY_STATUS:
                    raise APIError(f"POST {url} failed with HTTP {e.code}: {msg}") from None
                last = f"HTTP {e.code}: {msg}"
                ra = e.headers.get("Retry-After") if e.headers else None
                if ra:
                    try:
                        wait = max(wait, float(ra))
                    except ValueError:
                        pass
            except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as e:
                last = f"{type(e).__name__}: {e}"
            if attempt < self.max_retries:
                time.sleep(wait)
        raise APIError(f"POST {url} failed after {self.max_retries + 1} attempts; last error: {last}. "
                       "Is the server up, and is base_url its API root (usually ending in /v1)?")

    def _one(self, prompt: str, *, max_new_tokens: int, temperature: float, top_p: float, n: int, seed: int,
             system: str | None) -> list[Generation]:
        body: dict[str, Any] = {"model": self.model, "messages": chat_messages(prompt, system),
                                "max_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
                                "n": n, **self.extra_body}
        if self.send_seed:
            body["seed"] = seed
        resp = self._post(body)
        choices = sorted(resp.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) < n:
            raise APIError(f"asked {self.base_url} for n={n} choices, got {len(choices)}; "
                           "pass n_in_request=False for servers that ignore n")
        usage = resp.get("usage") or {}
        n_prompt = int(usage.get("prompt_tokens") or 0)
        n_compl = int(usage.get("completion_tokens") or 0)
        out = []
        for c in choices[:n]:
            reason = c.get("finish_reason") or "stop"
            out.append(Generation(text=(c.get("message") or {}).get("content") or "", n_prompt_tokens=n_prompt,
                                  n_completion_tokens=round(n_compl / n),
                                  finish_reason="length" if reason == "length" else "stop"))
        return out

    def generate(self, prompts: list[str], *, max_new_tokens: int, temperature: float = 0.0,
                 top_p: float = 1.0, n: int = 1, seed: int = 0,
                 system: str | None = None) -> list[list[Generation]]:
        """See :meth:`whygym.models.Backend.generate`. Requests run concurrently; order is kept."""
        check_generate_args(prompts, max_new_tokens, temperature, top_p, n)
        kw = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, system=system)
        if temperature == 0 and n > 1:  # greedy: one answer, repeated
            return [s * n for s in self.generate(prompts, n=1, seed=seed, **kw)]
        if self.n_in_request or n == 1:
            jobs = [(p, n, seed) for p in prompts]
        else:
            jobs = [(p, 1, seed + i) for p in prompts for i in range(n)]
        with ThreadPoolExecutor(self.concurrency) as pool:
            done = list(pool.map(lambda job: self._one(job[0], n=job[1], seed=job[2], **kw), jobs))
        if self.n_in_request or n == 1:
            return done
        return [[done[j * n + i][0] for i in range(n)] for j in range(len(prompts))]

    def loglikelihood(self, prompts: list[str], continuations: list[str], *,
                      system: str | None = None) -> list[float]:
        """Not available over chat completions; raises ``NotImplementedError`` saying what to use."""
        raise NotImplementedError(
            "OpenAI-compatible chat endpoints do not return prompt log-probabilities, so loglikelihood() "
            "is not available for 'openai:' models; score with a local backend ('default', a checkpoint "
            "directory, or 'gguf:FILE') or evaluate by generation.")
