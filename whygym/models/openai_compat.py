"""OpenAI-compatible servers over HTTP (vLLM, llama.cpp's ``llama-server``, hosted APIs), standard library only.

Requests
    One request per prompt (``n`` samples in it), at most ``concurrency`` in flight (a thread pool); the
    first request that fails for good cancels the ones not yet sent. Requests that fail with
    408/409/429/5xx, a timeout or a connection error are retried with exponential backoff
    (``backoff * 2**attempt`` seconds, jittered, at least the server's ``Retry-After``), up to
    ``max_retries`` times; other HTTP errors fail at once.

Errors
    Every failure is an :class:`APIError`, one line that says what failed, where (the URL, which prompt of
    the call) and what to do. :class:`APIError` is a :class:`whygym.errors.UserError`, which the ``whygym``
    command prints without a traceback; a setting that cannot work (tools without a way to continue a
    partial answer, a chat template that cannot be read) is a
    :class:`whygym.models.load.BackendSettingError`, also a ``UserError``.

Several samples (``n > 1``)
    Not every server honours ``n`` (llama.cpp's ignores it and answers once). With ``n_in_request=None``
    (the default) the first sampled request asks for ``n`` choices; when fewer come back, the backend
    switches to one request per sample (sample ``i`` with seed ``seed + i``) for the rest of its life and
    asks again for that prompt. :attr:`OpenAIBackend.sampling_mode` says which way samples are drawn
    (``"n_in_request"`` or ``"one_request_per_sample"``); it is deliberately *not* in ``config``, which
    keys the response cache and must not change in the middle of a run. ``n_in_request=True`` insists on
    ``n`` choices (fewer is an error), ``False`` always sends one request per sample.

Text completions and tool-integrated decoding
    ``completions=True`` sends every prompt to the text completions endpoint (``BASE_URL/completions``)
    with the chat template applied here, from ``chat_template``: a Jinja template, a ``.jinja`` file, a
    ``tokenizer_config.json`` or a checkpoint folder holding one (what vLLM serves), or ``"server"``
    (llama.cpp's ``GET /props``). The calculator (``tools="calculator"``, :mod:`whygym.models.tools`)
    needs this: it continues the assistant's *partial* answer after each inserted value, which a chat
    request cannot express portably (vLLM's ``continue_final_message`` exists, but llama.cpp's chat
    endpoint does not say which stop string ended a completion). Each step is one request with the
    stop strings of :func:`~whygym.models.tools.generate_with_tools`; servers with prefix caching (vLLM's
    automatic prefix caching, llama.cpp's ``cache_prompt``) do not re-prefill the shared prompt.

    The loop must know whether a completion ended at a stop string or at the model's own end; a plain
    OpenAI response says ``finish_reason: "stop"`` for both. Understood: vLLM's ``stop_reason``, SGLang's
    ``matched_stop``, and llama.cpp's own response (``stop_type``, ``stopping_word``), which its server
    gives on ``/completions`` at the server root. So:

    * vLLM: ``openai:MODEL@http://HOST:8000/v1?completions=true&chat_template=/path/to/checkpoint``
    * llama.cpp's server: the base URL **without** ``/v1`` (its ``/completions`` there is llama.cpp's own
      endpoint, and ``/chat/completions`` works there too):
      ``openai:MODEL@http://HOST:8080?completions=true&chat_template=server``

    A server that does not say is reported as an :class:`APIError` naming these fixes.

The API key is read from the environment variable named by ``api_key_env`` (``OPENAI_API_KEY`` by
default) and never enters ``config`` (nor, therefore, the cache).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

from whygym.errors import UserError
from whygym.models.base import Generation, chat_messages, check_generate_args, sample_seed

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
SAMPLING_MODES = ("n_in_request", "one_request_per_sample")
_UNKNOWN = object()  # a response that does not say why the completion stopped


class APIError(UserError, RuntimeError):
    """A request that failed for good (after retries, or with a status not worth retrying), or a response
    the backend cannot use. The message is one line: what failed, where (URL, prompt) and what to do."""


class _Choice(NamedTuple):
    text: str
    finish: str  # "stop" | "length"
    stopped_at: Any  # the stop string that ended it, None (the model's own end), or _UNKNOWN


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _api_root(base_url: str) -> str:
    """The server root: ``base_url`` without a trailing ``/v1`` (where llama.cpp serves ``/props``)."""
    return base_url[:-3] if base_url.endswith("/v1") else base_url


def _step_seed(seed: int, prompt: str, system: str | None, sample: int, step: int) -> int:
    # One seed per request of a tool loop: sample i's text depends on (seed, prompt, system, i) only, and
    # stays in the 31-bit range every server accepts.
    return (sample_seed(seed, prompt, system, sample) + step) % 2 ** 31


def _first_stop(text: str, stop: Sequence[str]) -> tuple[int, str] | None:
    """Position and string of the earliest stop string in ``text`` (None when there is none)."""
    hits = [(text.find(s), s) for s in stop if s and s in text]
    return min(hits) if hits else None


class OpenAIBackend:
    """Chat (or text) completions from an OpenAI-compatible server.

    Parameters
    ----------
    model : str
        Model name sent to the server.
    base_url : str
        API root, e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` or ``/completions`` is appended).
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
    n_in_request : bool or None
        How ``n > 1`` samples are asked for: ``None`` (default) detects it (see the module docstring),
        ``True`` asks for ``n`` choices in one request (fewer is an error), ``False`` sends one request per
        sample, sample ``i`` with seed ``seed + i``.
    extra_body : dict, optional
        Extra JSON fields for every request (e.g. ``{"top_k": 20}`` for vLLM); part of ``config``.
    completions : bool
        Use the text completions endpoint with the chat template applied here (needs ``chat_template``);
        recorded in ``config`` with a fingerprint of the template.
    chat_template : str, optional
        For ``completions``: Jinja text, a template file, a ``tokenizer_config.json`` or a folder with
        one (or ``chat_template.jinja``), or ``"server"`` (read from llama.cpp's ``GET /props``).
    tools : ToolSpec, str or None
        Tool-integrated decoding, e.g. ``"calculator"`` (:mod:`whygym.models.tools`); needs
        ``completions``. Recorded in ``config``; the name gets ``"+calculator"``. Each sample is its own
        chain of requests (one per stop), so :attr:`sampling_mode` is ``"one_request_per_sample"``.

    Attributes
    ----------
    sampling_mode : {"n_in_request", "one_request_per_sample"}
        How sampled requests with ``n > 1`` are served; with ``n_in_request=None`` it reads
        ``"n_in_request"`` until a server answers with fewer choices. For the run record, not the cache key.
    n_requests : int
        HTTP attempts made, retries included.

    Notes
    -----
    Usage is reported per request; with ``n > 1`` choices in one request, ``n_completion_tokens`` of each
    is the request's total split evenly (the API does not report it per choice). With tools,
    ``n_completion_tokens`` sums what the model generated over the requests of a sample (the calculator's
    values are not counted). :meth:`loglikelihood` is not offered: chat endpoints do not return prompt
    log-probabilities.
    """

    def __init__(self, model: str, base_url: str, *, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, max_retries: int = 5, timeout: float = 120.0, backoff: float = 1.0,
                 send_seed: bool = True, n_in_request: bool | None = None,
                 extra_body: dict[str, Any] | None = None, completions: bool = False,
                 chat_template: str | None = None, tools: Any = None):
        from whygym.models.load import BackendSettingError
        from whygym.models.tools import ToolSpec, parse_tools

        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise BackendSettingError(f"base_url {base_url!r} must be an http:// or https:// URL, the API root "
                                      "(e.g. http://127.0.0.1:8000/v1)")
        if n_in_request not in (None, True, False):
            raise BackendSettingError(f"n_in_request must be true, false or auto (None), got {n_in_request!r}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.concurrency = max(1, int(concurrency))
        self.max_retries = max(0, int(max_retries))
        self.timeout = timeout
        self.backoff = backoff
        self.send_seed = send_seed
        self.n_in_request = n_in_request
        self.extra_body = dict(extra_body or {})
        self.completions = bool(completions)
        self.n_requests = 0
        self._count_lock = threading.Lock()
        self._mode_lock = threading.Lock()
        self.tools = parse_tools(tools) if isinstance(tools, str) else tools
        if self.tools is not None and not isinstance(self.tools, ToolSpec):
            raise TypeError(f"tools must be a ToolSpec, a --tools string or None, got {tools!r}")
        if self.tools is not None and not self.completions:
            raise BackendSettingError(
                f"tools={self.tools.name} over an OpenAI-compatible server continues the model's partial answer "
                "after each calculator value, which needs the text completions endpoint and the model's chat "
                "template: add completions=true&chat_template=... to the model spec (llama.cpp's server: "
                "'openai:MODEL@http://HOST:8080?completions=true&chat_template=server', base URL without /v1; "
                "vLLM: 'openai:MODEL@http://HOST:8000/v1?completions=true&chat_template=/path/to/checkpoint')")
        if self.completions and not chat_template:
            raise BackendSettingError(
                "completions=true sends chat-formatted text, so it needs the model's chat template: add "
                "chat_template=server (llama.cpp's server), chat_template=/path/to/checkpoint (a folder with "
                "tokenizer_config.json, e.g. what vLLM serves) or chat_template=/path/to/template.jinja")
        self.chat_template = self._load_chat_template(chat_template) if self.completions else None
        # Tools: every sample is its own chain of requests; otherwise detect (None) or follow the setting.
        self.sampling_mode = ("one_request_per_sample" if self.tools is not None or n_in_request is False
                              else "n_in_request")
        self._mode_known = n_in_request is not None or self.tools is not None
        self.name = f"openai:{model}"
        self.config: dict[str, Any] = {"backend": "openai", "model": model, "base_url": self.base_url,
                                       **({"extra_body": self.extra_body} if self.extra_body else {})}
        if self.completions:  # a different prompt format: other outputs, another cache key
            self.config["endpoint"] = "completions"
            self.config["chat_template"] = hashlib.sha256(self.chat_template.encode()).hexdigest()[:16]
        if self.tools is not None:
            self.config["tools"] = self.tools.to_dict()
            self.name += "+" + self.tools.name

    # -- HTTP --------------------------------------------------------------------------------------------
    def _request(self, url: str, body: dict[str, Any] | None, where: str) -> Any:
        """POST ``body`` (GET when None) to ``url`` with retries; the decoded JSON, or :class:`APIError`."""
        method = "GET" if body is None else "POST"
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        head = f"{method} {url} ({where})" if where else f"{method} {url}"
        wants_n = body is not None and int(body.get("n") or 1) > 1
        last, refused = "", False
        for attempt in range(self.max_retries + 1):
            wait = min(60.0, self.backoff * 2 ** attempt) * (0.5 + random.random() / 2)
            with self._count_lock:
                self.n_requests += 1
            try:
                req = urllib.request.Request(url, data=data, headers=headers, method=method)
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    raw = resp.read().decode(errors="replace")
                try:
                    return json.loads(raw)
                except json.JSONDecodeError:
                    raise APIError(f"{head} answered with something that is not JSON ({_one_line(raw, 80)!r}); "
                                   f"is {self.base_url} the API root of an OpenAI-compatible server (usually "
                                   "ending in /v1)?") from None
            except urllib.error.HTTPError as e:
                try:
                    msg = _one_line(e.read().decode(errors="replace"))
                except OSError:
                    msg = ""
                if e.code not in _RETRY_STATUS:
                    raise APIError(f"{head} failed with HTTP {e.code} {_one_line(e.reason, 60)}: {msg or '(no body)'}. "
                                   + self._advice(e.code, url, wants_n)) from None
                last = f"HTTP {e.code}: {msg}"
                ra = e.headers.get("Retry-After") if e.headers else None
                if ra:
                    try:
                        wait = max(wait, min(60.0, float(ra)))  # honoured, but never an hour's sleep
                    except ValueError:
                        pass
            except (OSError, http.client.HTTPException) as e:  # URLError, refused, reset, timed out, ...
                reason = getattr(e, "reason", e)
                refused = isinstance(reason, ConnectionRefusedError)
                last = _one_line(f"{type(reason).__name__}: {reason}")
            except ValueError as e:  # a malformed URL (bad port, ...)
                raise APIError(f"{head}: the URL is malformed ({_one_line(e)}); fix the base URL in the model spec "
                               "(openai:MODEL@BASE_URL)") from None
            if attempt < self.max_retries:
                time.sleep(wait)
        if refused:
            advice = (f"Nothing accepts connections there: is the server running, and is {self.base_url} its "
                      "address and API root? Start it or fix the base URL in the model spec (openai:MODEL@BASE_URL).")
        elif last.startswith("HTTP"):
            advice = ("The server keeps failing: see its log (out of memory? a prompt longer than its context?); "
                      "rerunning the same command resumes from the response cache.")
            if wants_n:
                advice += " If it cannot serve n>1 choices in one request, add ?n_in_request=false to the model spec."
        elif "timed out" in last.lower() or "Timeout" in last:
            advice = (f"The server did not answer within {self.timeout:g} s: raise it (?timeout=SECONDS in the model "
                      "spec) or lower the number of requests in flight (?concurrency=N).")
        else:
            advice = f"Is the server up, and is {self.base_url} its API root (usually ending in /v1)?"
        tries = self.max_retries + 1
        raise APIError(f"{head} failed after {tries} attempt{'s' * (tries > 1)}; last error: {last}. {advice}")

    def _advice(self, status: int, url: str, wants_n: bool) -> str:
        if status in (404, 405):
            if url.endswith("/props"):
                return ("chat_template=server reads the template from llama.cpp's server; for other servers pass "
                        "chat_template=/path/to/checkpoint (a folder with tokenizer_config.json) or a .jinja file.")
            if url.endswith("/completions") and not url.endswith("/chat/completions"):
                return (f"The server has no text completions endpoint at {url}: check the base URL (vLLM: "
                        "http://HOST:PORT/v1; llama.cpp's server: http://HOST:PORT without /v1) or drop "
                        "completions=true (and tools) from the model spec.")
            return (f"The server has no such endpoint, so the base URL {self.base_url} is probably wrong: pass the "
                    "API root, usually ending in /v1 (e.g. http://127.0.0.1:8000/v1).")
        if status in (401, 403):
            return (f"The server refused the credentials: put the API key in the environment variable "
                    f"{self.api_key_env} (or name another one with ?api_key_env=NAME in the model spec).")
        hint = "Check the model name and the settings in the model spec."
        if wants_n:
            hint += " If the server cannot give n>1 choices per request, add ?n_in_request=false."
        if self.send_seed:
            hint += " If it rejects 'seed', add ?send_seed=false."
        if self.extra_body:
            hint += " If it rejects an extra.* field, drop it."
        return hint

    # -- requests and responses -------------------------------------------------------------------------
    def _prompt_text(self, prompt: str, system: str | None) -> str:
        from whygym.models.llamacpp import render_chat_template

        try:
            return render_chat_template(self.chat_template, chat_messages(prompt, system))
        except Exception as e:  # a template error is a setting error, not a crash
            from whygym.models.load import BackendSettingError

            raise BackendSettingError(f"{self.name}: the chat template failed to render ({type(e).__name__}: "
                                      f"{_one_line(e, 200)}); pass another chat_template") from None

    def _body(self, prompt: str, system: str | None, *, so_far: str = "", n: int, seed: int, max_tokens: int,
              temperature: float, top_p: float, stop: Sequence[str] = ()) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens, "temperature": temperature,
                                "top_p": top_p, "n": n, **self.extra_body}
        if self.send_seed:
            body["seed"] = seed
        if stop:
            body["stop"] = list(stop)
        if self.completions:
            body["prompt"] = self._prompt_text(prompt, system) + so_far
            return f"{self.base_url}/completions", body
        body["messages"] = chat_messages(prompt, system)
        return f"{self.base_url}/chat/completions", body

    def _parse(self, resp: Any, head: str) -> tuple[list[_Choice], int, int]:
        """The choices of a response (OpenAI format, or llama.cpp's own), prompt and completion tokens."""
        if isinstance(resp, dict) and isinstance(resp.get("choices"), list):
            out = []
            for c in sorted(resp["choices"], key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0):
                if not isinstance(c, dict):
                    continue
                text = c["text"] if "text" in c else (c.get("message") or {}).get("content")
                if "stop_reason" in c:  # vLLM: the stop string, a stop token id, or None at the model's end
                    at = c["stop_reason"] if isinstance(c["stop_reason"], str) else None
                elif "matched_stop" in c:  # SGLang, likewise
                    at = c["matched_stop"] if isinstance(c["matched_stop"], str) else None
                else:
                    at = _UNKNOWN
                finish = "length" if c.get("finish_reason") == "length" else "stop"
                out.append(_Choice(text or "", finish, at))
            usage = resp.get("usage") or {}
            return out, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        if isinstance(resp, dict) and isinstance(resp.get("content"), str):  # llama.cpp's /completion(s)
            kind = resp.get("stop_type") or ("eos" if resp.get("stopped_eos") else "word" if resp.get("stopped_word")
                                             else "limit" if resp.get("stopped_limit") else None)
            if kind == "word":
                at = resp.get("stopping_word") or _UNKNOWN
            else:
                at = None if kind in ("eos", "limit") else _UNKNOWN
            choice = _Choice(resp["content"], "length" if kind == "limit" else "stop", at)
            return [choice], int(resp.get("tokens_evaluated") or 0), int(resp.get("tokens_predicted") or 0)
        raise APIError(f"{head} answered without completions (no 'choices' in {_one_line(json.dumps(resp), 120)}); "
                       f"is {self.base_url} the API root of an OpenAI-compatible server (usually ending in /v1)?")

    def _map(self, fn: Callable[[Any], Any], jobs: list[Any]) -> list[Any]:
        """``[fn(job) for job in jobs]`` with ``concurrency`` in flight; the first failure cancels the rest."""
        if len(jobs) <= 1 or self.concurrency == 1:
            return [fn(job) for job in jobs]
        with ThreadPoolExecutor(min(self.concurrency, len(jobs))) as pool:
            futures = [pool.submit(fn, job) for job in jobs]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def _samples(self, j: int, prompts: list[str], *, n: int, seed: int, strict: bool, max_new_tokens: int,
                 temperature: float, top_p: float, system: str | None) -> list[Generation] | None:
        """``n`` samples of ``prompts[j]`` from one request; None when the server gave fewer and not ``strict``."""
        where = f"prompt {j + 1} of {len(prompts)} in this call"
        url, body = self._body(prompts[j], system, n=n, seed=seed, max_tokens=max_new_tokens,
                               temperature=temperature, top_p=top_p)
        head = f"POST {url} ({where})"
        choices, n_prompt, n_compl = self._parse(self._request(url, body, where), head)
        if len(choices) < n:
            if not strict:
                return None
            if n == 1:
                raise APIError(f"{head}: the server answered with no completion ({len(choices)} choices); see its log")
            if self.n_in_request is True:
                fix = ("drop n_in_request=true from the model spec (then the backend detects it) or add "
                       "?n_in_request=false (one request per sample)")
                detail = "the server ignores n"
            else:
                fix = "add ?n_in_request=false to the model spec (one request per sample)"
                detail = "although earlier requests of this run got all of them"
            raise APIError(f"{head}: asked for n={n} choices, got {len(choices)} ({detail}); {fix}")
        return [Generation(text=c.text, n_prompt_tokens=n_prompt, n_completion_tokens=round(n_compl / n),
                           finish_reason=c.finish) for c in choices[:n]]

    # -- tool-integrated decoding -------------------------------------------------------------------------
    def _tool_sample(self, j: int, i: int, prompts: list[str], *, n: int, seed: int, max_new_tokens: int,
                     temperature: float, top_p: float, system: str | None) -> Generation:
        from whygym.models.tools import generate_with_tools

        where = f"prompt {j + 1} of {len(prompts)} in this call, sample {i + 1} of {n}"
        step = [0]
        n_prompt = [0]

        def complete(so_far: str, stop: Sequence[str], max_tokens: int) -> tuple[str, int, str]:
            url, body = self._body(prompts[j], system, so_far=so_far, n=1, stop=stop, max_tokens=max_tokens,
                                   seed=_step_seed(seed, prompts[j], system, i, step[0]),
                                   temperature=temperature, top_p=top_p)
            head = f"POST {url} ({where}, step {step[0] + 1})"
            choices, p_tokens, c_tokens = self._parse(self._request(url, body, where), head)
            if not choices:
                raise APIError(f"{head}: the server answered with no completion; see its log")
            if step[0] == 0:
                n_prompt[0] = p_tokens
            step[0] += 1
            c = choices[0]
            # A server that ignored a stop string (or returned it) still hands over at the first one; what it
            # wrote after it is dropped: the model wrote it without the calculator's value.
            hit = _first_stop(c.text, stop)
            if hit is not None:
                return c.text[:hit[0]], c_tokens, "stop:" + hit[1]
            if c.finish == "length":
                return c.text, c_tokens, "length"
            if isinstance(c.stopped_at, str) and c.stopped_at in stop:
                return c.text, c_tokens, "stop:" + c.stopped_at
            if c.stopped_at is _UNKNOWN and stop:
                raise APIError(
                    f"{head}: the server ended a completion with finish_reason 'stop' without saying whether the "
                    f"model ended its answer or wrote a stop string ({', '.join(map(repr, stop))}), so the "
                    "calculator cannot go on. vLLM says it (stop_reason); for llama.cpp's server use the base URL "
                    f"without /v1 ({_api_root(self.base_url)}), where /completions is llama.cpp's own endpoint "
                    "(stop_type, stopping_word)")
            return c.text, c_tokens, "stop"

        text, used, finish, _calls = generate_with_tools(complete, max_new_tokens, self.tools)
        return Generation(text=text, n_prompt_tokens=n_prompt[0], n_completion_tokens=used, finish_reason=finish)

    # -- the Backend interface ------------------------------------------------------------------------------
    def generate(self, prompts: list[str], *, max_new_tokens: int, temperature: float = 0.0,
                 top_p: float = 1.0, n: int = 1, seed: int = 0,
                 system: str | None = None) -> list[list[Generation]]:
        """See :meth:`whygym.models.Backend.generate`. Requests run concurrently; order is kept.

        Raises
        ------
        APIError
            When a request fails for good or a response cannot be used (one line: what, where, what to do).
        """
        check_generate_args(prompts, max_new_tokens, temperature, top_p, n)
        kw = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, system=system)
        if temperature == 0 and n > 1:  # greedy: one answer, repeated
            return [s * n for s in self.generate(prompts, n=1, seed=seed, **kw)]
        if self.tools is not None:
            jobs = [(j, i) for j in range(len(prompts)) for i in range(n)]
            done = self._map(lambda ji: self._tool_sample(ji[0], ji[1], prompts, n=n, seed=seed, **kw), jobs)
            return [done[j * n:(j + 1) * n] for j in range(len(prompts))]
        out: list[list[Generation] | None] = [None] * len(prompts)
        if n > 1 and not self._mode_known and prompts:
            # Auto mode, first sampled request: ask for n and see whether the server honours it (once per
            # backend). When it does not, its short answer is dropped and the prompt asked again per sample,
            # so that sample i always comes from a request with seed + i.
            with self._mode_lock:
                if not self._mode_known:
                    out[0] = self._samples(0, prompts, n=n, seed=seed, strict=False, **kw)
                    if out[0] is None:
                        self.sampling_mode = "one_request_per_sample"
                    self._mode_known = True
        todo = [j for j in range(len(prompts)) if out[j] is None]
        if n == 1 or self.sampling_mode == "n_in_request":
            for j, got in zip(todo, self._map(lambda j: self._samples(j, prompts, n=n, seed=seed, strict=True, **kw),
                                              todo)):
                out[j] = got
            return out  # type: ignore[return-value]
        jobs = [(j, i) for j in todo for i in range(n)]
        done = self._map(lambda ji: self._samples(ji[0], prompts, n=1, seed=seed + ji[1], strict=True, **kw)[0],
                         jobs)
        for k, j in enumerate(todo):
            out[j] = done[k * n:(k + 1) * n]
        return out  # type: ignore[return-value]

    def loglikelihood(self, prompts: list[str], continuations: list[str], *,
                      system: str | None = None) -> list[float]:
        """Not available over chat completions; raises ``NotImplementedError`` saying what to use."""
        raise NotImplementedError(
            "OpenAI-compatible chat endpoints do not return prompt log-probabilities, so loglikelihood() "
            "is not available for 'openai:' models; score with a local backend ('default', a checkpoint "
            "directory, or 'gguf:FILE') or evaluate by generation.")

    # -- chat templates -------------------------------------------------------------------------------------
    def _load_chat_template(self, value: str) -> str:
        """Template text from ``value``: ``"server"``, a file, a folder, or Jinja text itself."""
        from whygym.models.load import BackendSettingError

        if value == "server":
            url = f"{_api_root(self.base_url)}/props"
            props = self._request(url, None, "reading the chat template")
            tpl = props.get("chat_template") if isinstance(props, dict) else None
            if not isinstance(tpl, str) or not tpl:
                raise APIError(f"GET {url} gave no chat_template; chat_template=server works with llama.cpp's "
                               "server; for others pass a template file or a checkpoint folder")
            return tpl
        if "{{" in value or "{%" in value:
            return value
        path = Path(value).expanduser()
        if path.is_dir():
            for name in ("chat_template.jinja", "tokenizer_config.json"):
                if (path / name).is_file():
                    path = path / name
                    break
            else:
                raise BackendSettingError(f"chat_template={value}: the folder holds neither chat_template.jinja nor "
                                          "tokenizer_config.json")
        if not path.is_file():
            raise BackendSettingError(f"chat_template={value!r} is neither 'server', Jinja text, a file nor a "
                                      "checkpoint folder")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise BackendSettingError(f"chat_template={value}: cannot read it ({e})") from None
        if path.suffix != ".json":
            return text
        try:
            tpl = json.loads(text).get("chat_template")
        except (json.JSONDecodeError, AttributeError):
            tpl = None
        if isinstance(tpl, list):  # several named templates: the default one
            tpl = next((t.get("template") for t in tpl if isinstance(t, dict) and t.get("name") == "default"), None)
        if not isinstance(tpl, str) or not tpl:
            raise BackendSettingError(f"chat_template={value}: {path.name} has no chat_template")
        return tpl
